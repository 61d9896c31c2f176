#!/usr/bin/env python3
"""Writes seed corpora for the dns_* fuzz targets into corpus/dns_*/:
well-formed queries, responses, updates and zone files, so fuzzing starts
past the headers.

    cd fuzz && python3 seeds/dns.py && cargo +nightly fuzz run dns_respond
"""
import os
import struct


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(id_, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", id_, flags, qd, an, ns, ar)


def opt(size=1232, do=False, options=b""):
    return b"\0" + struct.pack("!HHBBHH", 41, size, 0, 0, 0x8000 if do else 0, len(options)) + options


def query(qname, qtype, edns=None, flags=0x0100):
    body = name(qname) + struct.pack("!HH", qtype, 1)
    ar = 0
    if edns is not None:
        body += opt(*edns)
        ar = 1
    return header(0x1234, flags, ar=ar) + body


def rr(owner, rtype, rclass, ttl, rdata):
    return name(owner) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def write(target, items):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i:03}"), "wb") as f:
            f.write(data)


names = ["example.com", "www.example.com", "WwW.ExAmPlE.CoM", "x.wild.example.com", "a.b.ent.example.com",
         "b.ent.example.com", "q.sub.example.com", "x.old.example.com", "loop.example.com", "big.example.com",
         "_s._tcp.example.com", "nothere.example.com", "example.org", "u.example.com"]
types = [1, 28, 2, 6, 15, 16, 5, 33, 39, 255, 43, 65280, 252, 251]
queries = []
for i, n in enumerate(names):
    t = types[i % len(types)]
    queries.append(query(n, t))
    queries.append(query(n, t, (4096, True)))
    queries.append(query(n, t, (512, False, struct.pack("!HH", 65001, 2) + b"ab")))
# Malformed headers and counts.
queries.append(header(1, 0x8000) + name("example.com") + struct.pack("!HH", 1, 1))
queries.append(header(1, 0x1800) + name("example.com") + struct.pack("!HH", 1, 1))
queries.append(header(1, 0, qd=2) + (name("example.com") + struct.pack("!HH", 1, 1)) * 2)
queries.append(header(1, 0, qd=0, ar=1) + opt())
queries.append(header(1, 0, ar=1) + name("example.com") + struct.pack("!HH", 1, 1) + b"\0" + struct.pack("!HHBBHH", 41, 1232, 0, 1, 0, 0))
write("dns_respond", [bytes([m]) + q for q in queries for m in (0, 1, 200)])

soa = name("ns.example.com") + name("h.example.com") + struct.pack("!IIIII", 1, 2, 3, 4, 5)
response = header(0x1234, 0x8500, an=3, ns=1, ar=1) + name("www.example.com") + struct.pack("!HH", 1, 1)
response += rr("www.example.com", 5, 1, 300, b"\x03web\xc0\x10") + rr("web.example.com", 1, 1, 300, bytes([192, 0, 2, 1]))
response += b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, 6) + b"\x05hello"
response += rr("example.com", 6, 1, 300, soa) + opt(4096, True)
write("dns_message", queries + [response])

update = header(7, 0x2800, qd=1, an=1, ns=3) + name("example.com") + struct.pack("!HH", 6, 1)
update += rr("www.example.com", 255, 255, 0, b"")
update += rr("new.example.com", 1, 1, 60, bytes([192, 0, 2, 9]))
update += rr("mail.example.com", 15, 255, 0, b"")
update += rr("ns.example.com", 1, 254, 0, bytes([192, 0, 2, 1]))
update2 = header(8, 0x2800, qd=1, an=1, ns=1) + name("example.com") + struct.pack("!HH", 6, 1)
update2 += rr("ns.example.com", 1, 1, 0, bytes([192, 0, 2, 1])) + rr("example.com", 2, 255, 0, b"")
write("dns_update", [update, update2])

zones = [
    b"$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww CNAME ns\n",
    b"$ORIGIN example.com.\n$TTL 1h\n@ IN SOA ns hm ( 1 2 3\n 4 5 ) ; c\n  NS ns\nns 60 IN A 192.0.2.1\n"
    b"*.w TXT \"a \\\"b\\\" \\065\" c\nx TYPE65280 \\# 2 abcd\n_s._tcp SRV 1 2 3 ns\n@ CAA 0 issue \"ca\"\n"
    b"d DNAME example.net.\nm MX 10 ns\n$INCLUDE other\n",
]
write("dns_zone", zones)
