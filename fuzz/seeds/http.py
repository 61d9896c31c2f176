#!/usr/bin/env python3
"""Writes seed corpora for the http_request, http_chunked and http_path
fuzz targets into corpus/: well-formed requests (pipelined, chunked,
with 100-continue), the smuggling shapes servers disagree on, chunked
bodies and paths, so fuzzing starts from what clients really send.

    cd fuzz && python3 seeds/http.py && cargo +nightly fuzz run http_request
"""
import os

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /r HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, br;q=0.5\r\n\r\nHEAD /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"PUT /r HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n12345",
    b"POST /r HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /r HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET http://h/a/b HTTP/1.1\r\nHost: h\r\nRange: bytes=0-3\r\nIf-None-Match: \"x\"\r\n\r\n",
]
CHUNKED = [
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"a;ext=\"q\"\r\n0123456789\r\n0\r\nX: y\r\n\r\n",
    b"ffffffffffffffff\r\nab",
]
PATHS = [b"/", b"/index.html", b"/docs/", b"/a%20b/c%C3%A9.txt", b"/%2e%2e/x", b"/a/%2f", b"/%c0%ae"]


def write(target, seeds, prefix=b""):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    for i, seed in enumerate(seeds):
        with open(f"corpus/{target}/seed-{i}", "wb") as f:
            f.write(prefix + seed)


# The first byte of a request or chunked input sets how it is cut.
write("http_request", REQUESTS, b"\x07")
os.makedirs("corpus/http_request", exist_ok=True)
open("corpus/http_request/seed-paused", "wb").write(b"\x87" + REQUESTS[2])
write("http_chunked", CHUNKED, b"\x03")
write("http_path", PATHS)
