#!/usr/bin/env bash
# What a hostile spt guest can make the host do by writing offloaded
# frames straight to its TAP (around the tender's header check): frames of
# 64 KiB with a virtio_net_hdr asking the kernel to cut them into
# GSO_SIZE-byte TCP segments. Counts, in a namespace of its own, what the
# host receives (locally delivered) and what it forwards to a veth whose
# offloads are off (where the kernel must cut), per frame the guest wrote.
#
# Usage: bench/scripts/tap-gso.sh [FRAMES] (run as root, after
# `cargo build --profile guest --target x86_64-unknown-none -p oasis-test-guests`
# and `cargo build -p oasis-cli`).
set -euo pipefail
cd "$(dirname "$0")/../.."
frames="${1:-200}"
oasis=target/debug/oasis
image=target/x86_64-unknown-none/guest/hostile_raw_tap
ns=oasis-gso-$$
peer=oasis-gso-peer-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; ip netns del "$peer" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip netns add "$peer"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add tap0 mode tap
ip -n "$ns" addr add 10.0.0.1/24 dev tap0
ip -n "$ns" link set tap0 up
ip -n "$ns" link add veth0 type veth peer name veth1 netns "$peer"
ip -n "$ns" addr add 10.9.0.1/24 dev veth0
ip -n "$ns" link set veth0 up
ip -n "$peer" addr add 10.9.0.2/24 dev veth1
ip -n "$peer" link set veth1 up
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
# The veth cannot cut segments itself: the kernel must, in software.
ip netns exec "$ns" ethtool -K veth0 tso off gso off gro off >/dev/null 2>&1 || true
mac=$(ip -n "$ns" -o link show tap0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
fd=$(ip netns exec "$ns" "$oasis" spt "$image" --net:service=tap0 --print-filter \
    | awk '/^read/ { for (i = 1; i <= NF; i++) if ($i ~ /^arg0=/) { sub("arg0=", "", $i); print $i; exit } }')
# One absolute counter from the namespace's SNMP statistics.
counter() { # NAMESPACE NAME
    ip netns exec "$1" nstat -az --ignore 2>/dev/null | awk -v n="$2" '$1 == n {print $2}'
}
run() { # GSO_SIZE DEST
    local segs0 fwd0 peer0
    segs0=$(counter "$ns" TcpInSegs)
    fwd0=$(counter "$ns" IpForwDatagrams)
    peer0=$(counter "$peer" IpInReceives)
    local start=$(date +%s%N)
    ip netns exec "$ns" "$oasis" spt "$image" --net:service=tap0 -- --fd "$fd" --frames "$frames" \
        --gso-size "$1" --dest "$2" --dest-mac "$mac" >/dev/null
    local ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "| $1 | $2 | $frames | $(( $(counter "$ns" TcpInSegs) - segs0 )) |" \
        "$(( $(counter "$ns" IpForwDatagrams) - fwd0 )) | $(( $(counter "$peer" IpInReceives) - peer0 )) | $ms |"
}
echo "| gso_size | destination | frames written | TCP segments received here | datagrams forwarded | packets at the peer | ms |"
echo "|---|---|---|---|---|---|---|"
for g in 1448 64 1; do run "$g" 10.0.0.1; done
for g in 1448 64 1; do run "$g" 10.9.0.2; done
