#!/usr/bin/env python3
"""Protocol checks against the kv unikernel, as a hostile or careless
client would talk to it. Usage: resp_client.py HOST PORT CHECK... where
CHECK is one of the functions below; the server must run with
--max-key 64 --max-value 4096. Exits 1 with a message on the first failure.
Every socket has a timeout, so nothing waits forever."""

import socket
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def conn():
    s = socket.create_connection((HOST, PORT), timeout=20)
    return s, s.makefile("rb")


def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        fail(f"truncated reply line {line!r}")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return (kind, rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2 or not data.endswith(b"\r\n"):
            fail(f"bad bulk reply {data[:40]!r}")
        return data[:-2]
    if kind == b"*":
        return [reply(f) for _ in range(int(rest))]
    fail(f"unknown reply {line!r}")


def expect(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def is_error(r, needle, what):
    if not (isinstance(r, tuple) and r[0] == b"-" and needle.encode() in r[1]):
        fail(f"{what}: want an error containing {needle!r}, got {r!r}")


def closed(s, f, what):
    try:
        rest = f.read()
    except OSError:
        return
    if rest:
        fail(f"{what}: expected the connection closed, got {rest[:80]!r}")


def binary_values():
    s, f = conn()
    for i, value in enumerate([b"", b"\r\n", b"\x00" * 100, bytes(range(256)) * 3, b"$5\r\nhello\r\n"]):
        key = b"bin\x00key\r\n%d" % i
        s.sendall(command("SET", key, value))
        expect(reply(f), (b"+", b"OK"), f"SET binary {i}")
        s.sendall(command("GET", key))
        expect(reply(f), value, f"GET binary {i}")


def pipelining():
    s, f = conn()
    n = 2000
    batch = b"".join(command("SET", f"p{i}", f"v{i}" * (i % 7)) for i in range(n))
    batch += b"".join(command("GET", f"p{i}") for i in range(n))
    s.sendall(batch)
    for i in range(n):
        expect(reply(f), (b"+", b"OK"), f"pipelined SET {i}")
    for i in range(n):
        expect(reply(f), f"v{i}".encode() * (i % 7), f"pipelined GET {i}")
    # A command split across many small writes still works.
    for b in command("MGET", "p1", "p2", "nope"):
        s.send(bytes([b]))
    expect(reply(f), [b"v1", b"v2" * 2, None], "MGET sent a byte at a time")


def inline_commands():
    s, f = conn()
    s.sendall(b"PING\r\n")
    expect(reply(f), (b"+", b"PONG"), "inline PING")
    s.sendall(b"SET inl 42\r\nGET inl\r\n")
    expect(reply(f), (b"+", b"OK"), "inline SET")
    expect(reply(f), b"42", "inline GET")


def errors_keep_the_connection():
    s, f = conn()
    s.sendall(command("NOSUCH", "x"))
    is_error(reply(f), "unknown command", "unknown command")
    s.sendall(command("GET"))
    is_error(reply(f), "wrong number of arguments", "GET without a key")
    s.sendall(command("SET", "k" * 65, "v"))
    is_error(reply(f), "limit", "a key over --max-key")
    s.sendall(command("MSET", "m1", "a", "m2" * 40, "b"))
    is_error(reply(f), "limit", "MSET with a key over the limit")
    s.sendall(command("SET", "fits", "v" * 4096))
    expect(reply(f), (b"+", b"OK"), "a value at --max-value")
    s.sendall(command("EXISTS", "m1", "fits"))
    expect(reply(f), 1, "nothing of a refused MSET was stored")
    s.sendall(command("PING"))
    expect(reply(f), (b"+", b"PONG"), "the connection still works")


def oversized_values_close():
    for i, cmd in enumerate([command("SET", "big", "v" * 4097), command("MSET", "m1", "a", "m2", "v" * 5000)]):
        s, f = conn()
        s.sendall(cmd[:200])  # refused from the announced length, before the bytes arrive
        is_error(reply(f), "over the limit of 4096", f"a value over --max-value ({i})")
        closed(s, f, f"a value over --max-value ({i})")
    s, f = conn()
    s.sendall(command("EXISTS", "big", "m1"))
    expect(reply(f), 0, "nothing of a refused SET or MSET was stored")


def malformed_closes():
    cases = [
        b"*2\r\n$3\r\nGET\r\n$x\r\n",  # a length that is not a number
        b"*1\r\n$-5\r\n",  # a negative bulk length
        b"*2\r\n:3\r\n",  # an integer where a bulk belongs
        b"*1\r\n$3\r\nGETXX\r\n",  # a bulk longer than its length
        b"*99999999999999999999\r\n",
        b"*1\r\n$99999999\r\n",  # a bulk over the limit: refused, not buffered
    ]
    for i, case in enumerate(cases):
        s, f = conn()
        s.sendall(case)
        r = reply(f)
        is_error(r, "Protocol error", f"malformed input {i} {case[:30]!r}")
        closed(s, f, f"malformed input {i}")
    # The server still serves new connections.
    s, f = conn()
    s.sendall(command("PING"))
    expect(reply(f), (b"+", b"PONG"), "PING after malformed input")


def oversized_inline_closes():
    s, f = conn()
    try:
        s.sendall(b"A" * (200 * 1024))
    except OSError:
        return
    r = reply(f)
    is_error(r, "Protocol error", "an endless inline line")
    closed(s, f, "an endless inline line")


def keys_patterns():
    s, f = conn()
    for k in ["user:1", "user:2", "user:10", "admin:1", "h?llo", "hallo", "hbllo"]:
        s.sendall(command("SET", k, "x"))
        expect(reply(f), (b"+", b"OK"), f"SET {k}")
    s.sendall(command("KEYS", "user:*"))
    expect(sorted(reply(f)), [b"user:1", b"user:10", b"user:2"], "KEYS user:*")
    s.sendall(command("KEYS", "user:?"))
    expect(sorted(reply(f)), [b"user:1", b"user:2"], "KEYS user:?")
    s.sendall(command("KEYS", "h[ab]llo"))
    expect(sorted(reply(f)), [b"hallo", b"hbllo"], "KEYS h[ab]llo")
    s.sendall(command("KEYS", "h\\?llo"))
    expect(reply(f), [b"h?llo"], "KEYS with an escaped ?")
    s.sendall(command("DEL", "user:1", "user:2", "nope"))
    expect(reply(f), 2, "DEL counts what it removed")


for name in sys.argv[3:]:
    print(f"{name} ...", flush=True)
    globals()[name]()
print("ok")
