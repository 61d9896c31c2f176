#!/usr/bin/env python3
"""Raw frames for the network tests, through an AF_PACKET socket on a TAP.

  frames.py malformed IFACE DSTMAC SRCIP DSTIP     send malformed frames; prints sent=N
  frames.py watch-arp IFACE MAC SECONDS            print watching, then arp-request-from=MAC if MAC sends
                                                   an ARP request within SECONDS
"""
import os
import socket
import struct
import sys
import time


def mac(s):
    return bytes(int(b, 16) for b in s.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, total_len=None, bad_sum=False):
    length = total_len if total_len is not None else 20 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 1, 0, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    s = checksum(h) ^ (0x1234 if bad_sum else 0)
    return h[:10] + struct.pack("!H", s) + h[12:] + payload


def udp(src, dst, sport, dport, data, bad_sum=False):
    length = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    h = struct.pack("!HHHH", sport, dport, length, 0)
    s = checksum(pseudo + h + data) or 0xFFFF
    if bad_sum:
        s ^= 0x5555
    return struct.pack("!HHHH", sport, dport, length, s) + data


def malformed(iface, dst_mac, src_ip, dst_ip):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    src_mac = bytes([0x02, 0, 0, 0, 0xEE, 0x01])
    eth = mac(dst_mac) + src_mac + b"\x08\x00"
    good_udp = udp(src_ip, dst_ip, 9999, 7, b"x" * 32)
    frames = [
        # (A frame shorter than an Ethernet header cannot be sent at all.)
        eth + b"\x45\x00\x00",  # truncated IPv4 header
        eth + ipv4(src_ip, dst_ip, 17, good_udp, bad_sum=True),  # bad IPv4 header checksum
        eth + ipv4(src_ip, dst_ip, 17, udp(src_ip, dst_ip, 9999, 7, b"y" * 32, bad_sum=True)),  # bad UDP checksum
        eth + ipv4(src_ip, dst_ip, 17, good_udp, total_len=1400),  # length beyond the frame
        eth + ipv4(src_ip, dst_ip, 6, b"\x00" * 8),  # truncated TCP header
    ]
    random_frames = [mac(dst_mac) + src_mac + os.urandom(2 + i * 7) for i in range(20)]
    sent = 0
    for _ in range(5):
        for f in frames + random_frames:
            sock.send(f)
            sent += 1
    print(f"sent={sent}")


def watch_arp(iface, who, seconds):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    sock.bind((iface, 0))
    sock.settimeout(0.2)
    # The caller starts the traffic only once this is out: a slow start
    # must not miss the request.
    print("watching", flush=True)
    end = time.time() + seconds
    want = mac(who)
    while time.time() < end:
        try:
            f = sock.recv(2048)
        except socket.timeout:
            continue
        # ARP request (opcode 1) whose sender hardware address is `who`.
        if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[22:28] == want:
            print(f"arp-request-from={who}")
            return
    print("arp-request-from=none")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "malformed":
        malformed(*sys.argv[2:6])
    elif cmd == "watch-arp":
        watch_arp(sys.argv[2], sys.argv[3], float(sys.argv[4]))
