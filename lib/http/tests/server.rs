//! The connection loop through bytes: persistence, pipelining, bodies
//! both ways, 100-continue, refusals that close (and never read a second
//! request from what follows), limits and timeouts, on a simulated
//! connection with a fake clock.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SECOND, Step, TestHandler, header, responses, serve_bytes, serve_script};
use oasis_http::Config;

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    let out = serve_bytes(
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyzGET /d HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let r = common::responses_head_only(&out, &[1]);
    assert_eq!(r.len(), 4, "{out}");
    assert_eq!((r[0].0, r[0].2.as_str()), (200, "GET /a"));
    assert_eq!(header(&r[1].1, "content-length").as_deref(), Some("7"), "HEAD gets GET's length");
    assert_eq!(r[1].2, "");
    assert_eq!(r[2].2, "POST /c");
    assert_eq!(r[3].2, "GET /d");
    for (_, head, _) in &r {
        assert_eq!(header(head, "date").as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(header(head, "server").as_deref(), Some("oasis"));
        assert_eq!(header(head, "connection"), None);
    }
}

#[test]
fn pipelined_responses_leave_together() {
    let clock = common::FakeClock::default();
    let mut io = common::FakeIo::new(
        &clock,
        vec![Step::Send(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n".to_vec())],
    );
    let reads = io.reads.clone();
    let output = io.output.clone();
    common::run(&clock, oasis_http::serve_connection(&mut io, clock.clone(), Config::default(), &TestHandler, None));
    // One read before anything was written, the next (EOF) after both.
    assert_eq!(reads.borrow()[0], 0);
    assert_eq!(reads.borrow()[1], output.borrow().len());
}

#[test]
fn connection_close_and_http10() {
    let out = serve_bytes(b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = responses(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"));

    let out = serve_bytes(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    assert_eq!(responses(&out).len(), 1, "HTTP/1.0 closes by default");
    let out = serve_bytes(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    let r = responses(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("keep-alive"));
    assert_eq!(header(&r[1].1, "connection").as_deref(), Some("close"));
}

#[test]
fn chunked_request_body_streams_back() {
    let out = serve_bytes(
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let r = responses(&out);
    assert_eq!(r.len(), 2, "{out}");
    assert_eq!(header(&r[0].1, "transfer-encoding").as_deref(), Some("chunked"));
    assert!(r[0].2.ends_with("0\r\n\r\n"), "{:?}", r[0].2);
    let decoded: String =
        r[0].2.split("\r\n").collect::<Vec<_>>().chunks(2).filter_map(|pair| pair.get(1).copied()).collect();
    assert_eq!(decoded, "hello world");
    assert_eq!(r[1].2, "GET /after");
}

#[test]
fn http10_streaming_is_close_delimited() {
    let out = serve_bytes(b"POST /echo HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd");
    let r = responses(&out);
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"));
    assert_eq!(header(&r[0].1, "transfer-encoding"), None);
    assert_eq!(r[0].2, "abcd");
}

#[test]
fn expect_continue_is_answered_at_the_first_read() {
    let (out, _, _) = serve_script(
        &TestHandler,
        Config::default(),
        vec![
            Step::Send(b"PUT /len HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n".to_vec()),
            Step::Until(SECOND),
            Step::Send(b"12345".to_vec()),
        ],
    );
    assert!(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n5"));
    // A handler that answers without reading: no 100, and the connection
    // closes (the client may or may not send the body).
    let out = serve_bytes(
        b"PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let r = responses(&out);
    assert_eq!(r.len(), 1, "{out}");
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"));
}

#[test]
fn unread_bodies_are_skipped_or_the_connection_closes() {
    let out = serve_bytes(
        b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nGET /aGET /y HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let r = responses(&out);
    assert_eq!(r.len(), 2, "{out}");
    assert_eq!(r[1].2, "GET /y");
    let config = Config { max_drain: 4, ..Config::default() };
    let (out, _, _) = serve_script(
        &TestHandler,
        config,
        vec![Step::Send(
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n12345GET /y HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        )],
    );
    let r = responses(&out);
    assert_eq!(r.len(), 1, "{out}");
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"));
}

#[test]
fn methods() {
    let out = serve_bytes(b"BREW /pot HTTP/1.1\r\nHost: h\r\n\r\nCONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.0).collect::<Vec<_>>(), [501, 501, 200], "{out}");
}

/// Each is refused with its status, the connection closes, and the
/// request hidden behind it is never served.
#[test]
fn malformed_requests_close_and_nothing_is_smuggled() {
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    let cases: &[(&str, u16)] = &[
        ("GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", 400),
        ("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\nabcd\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdef\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-4\r\nabcd\r\n0\r\n\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", 400),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        ("POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        ("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505),
    ];
    for (request, status) in cases {
        let bytes = format!("{request}{smuggled}");
        let out = serve_bytes(bytes.as_bytes());
        assert!(!out.contains("/smuggled"), "{request:?} let a second request through:\n{out}");
        let r = responses(&out);
        assert_eq!(r.len(), 1, "{request:?}:\n{out}");
        assert_eq!(r[0].0, *status, "{request:?}:\n{out}");
        assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"), "{request:?}");
    }
}

#[test]
fn limits_give_413_414_431() {
    let config = Config { max_body: 10, max_request_line: 100, max_head: 400, ..Config::default() };
    let serve = |bytes: &[u8]| serve_script(&TestHandler, config.clone(), vec![Step::Send(bytes.to_vec())]).0;
    let out = serve(b"POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
    assert_eq!(responses(&out)[0].0, 413);
    let out = serve(
        b"POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n",
    );
    let r = responses(&out);
    assert_eq!((r.len(), r[0].0), (1, 413), "{out}");
    assert_eq!(header(&r[0].1, "connection").as_deref(), Some("close"));
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(200));
    assert_eq!(responses(&serve(long.as_bytes()))[0].0, 414);
    let big = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n", "a".repeat(500));
    assert_eq!(responses(&serve(big.as_bytes()))[0].0, 431);
    let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
    let out = serve_script(
        &TestHandler,
        Config::default(),
        vec![Step::Send(format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n").into_bytes())],
    )
    .0;
    assert_eq!(responses(&out)[0].0, 431);
}

#[test]
fn a_slowloris_head_times_out_with_408() {
    // One byte a second never finishes the head in 10 s.
    let mut script = Vec::new();
    for (i, b) in b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaa".iter().enumerate() {
        script.push(Step::Until(i as u64 * SECOND));
        script.push(Step::Send(vec![*b]));
    }
    let (out, _, clock) = serve_script(&TestHandler, Config::default(), script);
    let r = responses(&out);
    assert_eq!((r.len(), r[0].0), (1, 408), "{out}");
    assert!(clock.now() <= 11 * SECOND, "closed after {} s", clock.now() / SECOND);
}

#[test]
fn idle_connections_close_after_the_idle_timeout() {
    let (out, summary, clock) = serve_script(
        &TestHandler,
        Config::default(),
        vec![Step::Send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec()), Step::Hang],
    );
    assert_eq!(responses(&out).len(), 1);
    assert_eq!(summary.requests, 1);
    assert_eq!(clock.now(), 60 * SECOND);
    // A body that stops coming ends the connection too.
    let (out, _, clock) = serve_script(
        &TestHandler,
        Config::default(),
        vec![Step::Send(b"POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab".to_vec()), Step::Hang],
    );
    assert_eq!(responses(&out)[0].0, 400, "{out}");
    assert_eq!(clock.now(), 60 * SECOND);
}

#[test]
fn large_responses_arrive_whole() {
    let out = serve_bytes(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\nGET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = responses(&out);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r.2.len() == 100_000 && r.2.bytes().all(|b| b == b'x')));
}
