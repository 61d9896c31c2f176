//! Request heads as bytes: what is accepted, how it is read, and every
//! refusal a server owes its clients.

use super::*;
use alloc::string::String;
use alloc::vec::Vec;
use proptest::prelude::*;

fn parse(bytes: &[u8]) -> Result<(Request, usize), RequestError> {
    let mut request = Request::default();
    match parse_head(bytes, &Config::default(), &mut request)? {
        Head::Complete(n) => Ok((request, n)),
        Head::Partial => Err(RequestError::Malformed("partial")),
    }
}

#[test]
fn a_simple_get() {
    let head = b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(b"rest");
    let (r, n) = parse(&bytes).unwrap();
    assert_eq!(n, head.len());
    assert_eq!(r.method(), Method::Get);
    assert_eq!(r.target(), "/a/b?x=1");
    assert_eq!(r.path(), "/a/b");
    assert_eq!(r.query(), Some("x=1"));
    assert_eq!(r.version(), Version::Http11);
    assert_eq!(r.header("HOST"), Some(&b"h"[..]));
    assert_eq!(r.framing(), Framing::Length(0));
    assert!(r.keep_alive());
}

#[test]
fn absolute_form_and_options_star() {
    let (r, _) = parse(b"GET http://example.com/x/y?q HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    assert_eq!((r.path(), r.query()), ("/x/y", Some("q")));
    let (r, _) = parse(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    assert_eq!(r.path(), "/");
    let (r, _) = parse(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    assert_eq!(r.path(), "*");
    assert!(parse(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n").is_err());
}

#[test]
fn framing_and_persistence() {
    let (r, _) = parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n").unwrap();
    assert_eq!(r.framing(), Framing::Length(5));
    let (r, _) = parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n").unwrap();
    assert_eq!(r.framing(), Framing::Length(5));
    let (r, _) = parse(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
    assert_eq!(r.framing(), Framing::Chunked);
    let (r, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!r.keep_alive());
    let (r, _) = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
    assert!(r.keep_alive());
    let (r, _) = parse(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n").unwrap();
    assert!(!r.keep_alive());
    let (r, _) = parse(b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").unwrap();
    assert!(r.expects_continue());
}

#[test]
fn refusals() {
    let cases: &[(&[u8], u16)] = &[
        (b"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400),                // no colon
        (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),              // space before colon
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400), // obs-fold
        (b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400),         // bare CR
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400),  // NUL in a value
        (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),               // bad token
        (b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", 400),              // bad name
        (b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400),           // DEL in target
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400),       // raw UTF-8 in target
        (b"GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400),               // not a path
        (b"GET / HTTP/1.1\r\n\r\n", 400),                          // no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),    // two Hosts
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTXP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417),
    ];
    for (bytes, status) in cases {
        let got = parse(bytes).map(|_| ()).map_err(RequestError::status);
        assert_eq!(got, Err(*status), "{:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn limits() {
    let config = Config { max_request_line: 64, max_head: 256, max_headers: 4, ..Config::default() };
    let mut request = Request::default();
    let mut long = b"GET /".to_vec();
    long.extend(core::iter::repeat_n(b'a', 100));
    assert_eq!(parse_head(&long, &config, &mut request), Err(RequestError::RequestLineTooLong));
    long.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(parse_head(&long, &config, &mut request), Err(RequestError::RequestLineTooLong));
    let mut many = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..5 {
        many.extend_from_slice(alloc::format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse_head(&many, &config, &mut request), Err(RequestError::HeadersTooLarge));
    let mut big = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    big.extend(core::iter::repeat_n(b'v', 300));
    assert_eq!(parse_head(&big, &config, &mut request), Err(RequestError::HeadersTooLarge));
    assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHo", &config, &mut request), Ok(Head::Partial));
}

proptest! {
    #[test]
    fn never_panics_and_stays_inside(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut request = Request::default();
        if let Ok(Head::Complete(n)) = parse_head(&bytes, &Config::default(), &mut request) {
            prop_assert!(n <= bytes.len());
            let _ = (request.path(), request.query(), request.headers().count());
        }
    }

    #[test]
    fn never_panics_on_near_requests(
        prefix in prop::sample::select(vec!["GET / HTTP/1.1\r\n", "POST /x HTTP/1.0\r\n", "HEAD * HTTP/1.1\r\n"]),
        lines in proptest::collection::vec("[ -~\t\r\n:]{0,30}", 0..8),
    ) {
        let mut bytes: Vec<u8> = prefix.as_bytes().to_vec();
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        let mut request = Request::default();
        let _ = parse_head(&bytes, &Config::default(), &mut request);
    }
}
