#!/usr/bin/env python3
"""Echo clients for the network tests, run inside the test's namespace.

  echo_client.py tcp-bulk HOST PORT MIB        send MIB MiB, read it back, compare SHA-256
  echo_client.py tcp-concurrent HOST PORT N    N connections at once, each echoes a message
  echo_client.py udp HOST PORT N               N datagrams of varied sizes, each echoed

Prints one line of key=value results; exits 1 on a mismatch. Every wait is
bounded (socket timeouts), so a stuck server fails the test instead of
hanging it.
"""
import asyncio
import hashlib
import os
import socket
import sys
import threading
import time


def tcp_bulk(host, port, mib):
    total = mib * 1024 * 1024
    s = socket.create_connection((host, port), timeout=60)
    block = os.urandom(1 << 20)
    sent, got = hashlib.sha256(), hashlib.sha256()

    def writer():
        left = total
        while left:
            chunk = block[: min(left, len(block))]
            s.sendall(chunk)
            sent.update(chunk)
            left -= len(chunk)
        s.shutdown(socket.SHUT_WR)

    start = time.time()
    t = threading.Thread(target=writer)
    t.start()
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got.update(b)
        n += len(b)
    t.join()
    dt = time.time() - start
    ok = n == total and sent.hexdigest() == got.hexdigest()
    print(f"bytes={n} sha_ok={int(ok)} seconds={dt:.2f} mbit={n * 8 / dt / 1e6:.0f}")
    return ok


def tcp_concurrent(host, port, count):
    async def one(i):
        err = None
        for _ in range(20):
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
                break
            except Exception as e:  # a full backlog drops SYNs; retry
                err = e
                await asyncio.sleep(0.2)
        else:
            return f"connect: {err}"
        msg = (f"connection {i} " * 20).encode()
        w.write(msg)
        await w.drain()
        back = await asyncio.wait_for(r.readexactly(len(msg)), 60)
        # Hold every connection open until all have echoed: truly concurrent.
        await barrier.wait() if barrier else None
        w.close()
        return back == msg

    async def main():
        global barrier
        barrier = asyncio.Barrier(count) if hasattr(asyncio, "Barrier") else None
        results = await asyncio.gather(*[one(i) for i in range(count)], return_exceptions=True)
        ok = sum(1 for r in results if r is True)
        errors = [repr(r) for r in results if r is not True][:3]
        print(f"ok={ok} total={count} errors={errors}")
        return ok == count

    return asyncio.run(asyncio.wait_for(main(), 300))


barrier = None


def udp(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    ok = 0
    for i in range(count):
        msg = os.urandom(1 + (i * 97) % 1400)
        for _ in range(3):  # UDP may be lost; retry a little
            s.sendto(msg, (host, port))
            try:
                back, _ = s.recvfrom(65536)
            except socket.timeout:
                continue
            if back == msg:
                ok += 1
                break
    print(f"ok={ok} total={count}")
    return ok == count


def main():
    cmd, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fn = {"tcp-bulk": tcp_bulk, "tcp-concurrent": tcp_concurrent, "udp": udp}[cmd]
    sys.exit(0 if fn(host, port, n) else 1)


if __name__ == "__main__":
    main()
