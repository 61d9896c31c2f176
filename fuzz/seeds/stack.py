#!/usr/bin/env python3
"""Writes a seed corpus for the `stack` fuzz target into corpus/stack/:
well-formed frames to the guest (10.0.0.2, fd00::2, MAC 02:00:00:00:00:02)
that reach ARP, ICMP, UDP and TCP, so fuzzing starts past the headers.

    cd fuzz && python3 seeds/stack.py && cargo +nightly fuzz run stack
"""
import os
import struct

GUEST_MAC = bytes([2, 0, 0, 0, 0, 2])
PEER_MAC = bytes([2, 0, 0, 0, 0, 1])
GUEST4, PEER4 = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
GUEST6 = bytes.fromhex("fd000000000000000000000000000002")
PEER6 = bytes.fromhex("fd000000000000000000000000000001")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(ethertype, payload, dst=GUEST_MAC):
    return dst + PEER_MAC + struct.pack("!H", ethertype) + payload


def ipv4(proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0, PEER4, GUEST4)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return eth(0x0800, hdr + payload)


def ipv6(proto, payload):
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, PEER6, GUEST6)
    return eth(0x86DD, hdr + payload)


def l4(proto, seg, at, v6=False):
    if v6:
        pseudo = PEER6 + GUEST6 + struct.pack("!IxxxB", len(seg), proto)
    else:
        pseudo = PEER4 + GUEST4 + struct.pack("!xBH", proto, len(seg))
    c = csum(pseudo + seg)
    return seg[:at] + struct.pack("!H", c) + seg[at + 2:]


def tcp(flags, seq, ack, data=b"", v6=False):
    seg = struct.pack("!HHIIBBHHH", 40000, 7, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    seg = l4(6, seg, 16, v6)
    return ipv6(6, seg) if v6 else ipv4(6, seg)


def tcp_syn_mss(mss, v6=False):
    seg = struct.pack("!HHIIBBHHH", 40000, 7, 1000, 0, 6 << 4, SYN, 65535, 0, 0) + struct.pack("!BBH", 2, 4, mss)
    seg = l4(6, seg, 16, v6)
    return ipv6(6, seg) if v6 else ipv4(6, seg)


def offloaded(frame, flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    """A frame as an offloading device hands it over: virtio_net_hdr first."""
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset) + frame


def udp(data, v6=False):
    seg = struct.pack("!HHHH", 9000, 7, 8 + len(data), 0) + data
    seg = l4(17, seg, 6, v6)
    return ipv6(17, seg) if v6 else ipv4(17, seg)


def arp_request():
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER4, bytes(6), GUEST4)
    return eth(0x0806, body, dst=b"\xff" * 6)


def icmp_echo():
    msg = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"abcdefgh"
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    return ipv4(1, msg)


def icmp6_echo():
    msg = struct.pack("!BBHHH", 128, 0, 0, 1, 1) + b"abcdefgh"
    return ipv6(58, l4(58, msg, 2, v6=True))


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
SEEDS = {
    "arp": [arp_request()],
    "icmp": [arp_request(), icmp_echo()],
    "icmp6": [icmp6_echo()],
    "udp": [udp(b"ping")],
    "udp6": [udp(b"ping", v6=True)],
    "tcp": [tcp(SYN, 1000, 0), tcp(ACK | PSH, 1001, 1, b"hello"), tcp(ACK | FIN, 1006, 1)],
    "tcp6": [tcp(SYN, 1000, 0, v6=True), tcp(ACK | PSH, 1001, 1, b"hello", v6=True)],
}

# Offloaded: the target reads the input as offloaded frames when it starts
# with OFFL (see fuzz_targets/stack.rs).
OFFLOADED = {
    "offload-tcp": [
        offloaded(tcp_syn_mss(1460)),
        offloaded(tcp(ACK | PSH, 1001, 1, b"x" * 4000), flags=1, gso_type=1, hdr_len=54, gso_size=1460,
                  csum_start=34, csum_offset=16),
        offloaded(tcp(ACK | FIN, 5001, 1), flags=2),
    ],
    "offload-tcp6": [
        offloaded(tcp_syn_mss(1440, v6=True)),
        offloaded(tcp(ACK | PSH, 1001, 1, b"y" * 3000, v6=True), flags=1, gso_type=4, hdr_len=74,
                  gso_size=1440, csum_start=54, csum_offset=16),
    ],
    "offload-udp": [offloaded(arp_request()), offloaded(udp(b"ping"), flags=1, csum_start=34, csum_offset=6)],
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "stack")
os.makedirs(out, exist_ok=True)
for name, frames in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        for frame in frames:
            f.write(struct.pack("<H", len(frame)) + frame)
for name, frames in OFFLOADED.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"OFFL")
        for frame in frames:
            f.write(struct.pack("<H", len(frame)) + frame)
print(f"{len(SEEDS) + len(OFFLOADED)} seeds in {os.path.normpath(out)}")
