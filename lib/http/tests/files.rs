//! The static-file handler over a `StaticKv`, through bytes: types,
//! validators, conditional and range requests, precompressed variants,
//! index pages, redirects, the site's 404 page and refused paths.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Step, header, responses, responses_head_only, serve_script};
use oasis_http::Config;
use oasis_http::files::StaticFiles;
use oasis_kv::{StaticEntry, StaticKv};
use sha2::{Digest, Sha256};

const INDEX: &[u8] = b"<!doctype html><title>home</title>";
const STYLE: &[u8] = b"body { color: black }\n";

fn site() -> StaticFiles<StaticKv> {
    let entries: Vec<(&'static str, &'static [u8])> = vec![
        ("404.html", b"<h1>not here</h1>"),
        ("docs/index.html", b"<h1>docs</h1>"),
        ("docs/page.html", b"0123456789"),
        ("index.html", INDEX),
        ("index.html.br", b"BROTLI"),
        ("index.html.gz", b"GZIP"),
        ("style.css", STYLE),
        ("style.css.gz", b"GZ-STYLE"),
    ];
    let table: Vec<StaticEntry> =
        entries.into_iter().map(|(k, v)| (k, v, <[u8; 32]>::from(Sha256::digest(v)))).collect();
    let kv = StaticKv::new(table.leak()).with_modified(784_111_777);
    kv.validate().unwrap();
    StaticFiles::new(kv)
}

fn get(request: &str) -> Vec<(u16, String, String)> {
    let head_only = if request.starts_with("HEAD") { vec![0] } else { vec![] };
    let out = serve_script(&site(), Config::default(), vec![Step::Send(request.as_bytes().to_vec())]).0;
    responses_head_only(&out, &head_only)
}

fn one(request: &str) -> (u16, String, String) {
    let mut r = get(request);
    assert_eq!(r.len(), 1, "{request:?}: {r:?}");
    r.remove(0)
}

fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", digest[..16].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn files_with_types_and_validators() {
    let (status, head, body) = one("GET /style.css HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status, body.as_bytes()), (200, STYLE));
    assert_eq!(header(&head, "content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(header(&head, "content-length"), Some(STYLE.len().to_string()));
    assert_eq!(header(&head, "etag"), Some(etag(STYLE)));
    assert_eq!(header(&head, "last-modified").as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_eq!(header(&head, "vary").as_deref(), Some("Accept-Encoding"));
    assert_eq!(header(&head, "accept-ranges").as_deref(), Some("bytes"));
    let (status, head, body) = one("HEAD /style.css HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(header(&head, "content-length"), Some(STYLE.len().to_string()));
    let (_, head, _) = one("GET /docs/page.html HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(header(&head, "vary"), None, "no variants, no Vary");
}

#[test]
fn index_pages_redirects_and_404() {
    assert_eq!(one("GET / HTTP/1.1\r\nHost: h\r\n\r\n").2.as_bytes(), INDEX);
    assert_eq!(one("GET /docs/ HTTP/1.1\r\nHost: h\r\n\r\n").2, "<h1>docs</h1>");
    let (status, head, _) = one("GET /docs?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status, header(&head, "location").as_deref()), (301, Some("/docs/?x=1")));
    let (status, head, body) = one("GET /nope.html HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status, body.as_str()), (404, "<h1>not here</h1>"));
    assert_eq!(header(&head, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(one("GET /style.css/ HTTP/1.1\r\nHost: h\r\n\r\n").0, 404);
    assert_eq!(one("GET /index.html.gz HTTP/1.1\r\nHost: h\r\n\r\n").2, "GZIP");
}

#[test]
fn methods() {
    let (status, head, _) = one("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((status, header(&head, "allow").as_deref()), (405, Some("GET, HEAD, OPTIONS")));
    assert_eq!(one("DELETE /style.css HTTP/1.1\r\nHost: h\r\n\r\n").0, 405);
    let (status, head, _) = one("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((status, header(&head, "allow").as_deref()), (204, Some("GET, HEAD, OPTIONS")));
}

#[test]
fn refused_paths() {
    for path in [
        "/../etc/passwd",
        "/%2e%2e/x",
        "/docs/%2fpage.html",
        "/a%00",
        "/docs\\page.html",
        "/%c0%ae%c0%ae/",
        "//index.html",
        "/docs/./page.html",
    ] {
        let (status, head, _) = one(&format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_eq!(status, 400, "{path}");
        assert_eq!(header(&head, "connection"), None, "a refused path keeps the connection");
    }
}

#[test]
fn negotiation() {
    let (_, head, body) = one("GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n");
    assert_eq!((header(&head, "content-encoding").as_deref(), body.as_str()), (Some("br"), "BROTLI"));
    assert_eq!(header(&head, "etag"), Some(etag(b"BROTLI")));
    assert_eq!(header(&head, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    let (_, head, body) = one("GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!((header(&head, "content-encoding").as_deref(), body.as_str()), (Some("gzip"), "GZIP"));
    let (_, head, body) = one("GET /style.css HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br\r\n\r\n");
    assert_eq!((header(&head, "content-encoding"), body.as_bytes()), (None, STYLE));
    let (_, _, body) = one("GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br;q=0.5, gzip;q=0.8\r\n\r\n");
    assert_eq!(body, "GZIP");
    let (_, head, body) = one("GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br;q=0, gzip;q=0\r\n\r\n");
    assert_eq!((header(&head, "content-encoding"), body.as_bytes()), (None, INDEX));
    assert_eq!(one("GET /docs/page.html HTTP/1.1\r\nHost: h\r\nAccept-Encoding: identity;q=0\r\n\r\n").0, 406);
    assert_eq!(one("GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: identity;q=0, gzip\r\n\r\n").2, "GZIP");
}

#[test]
fn conditional_requests() {
    let tag = etag(STYLE);
    let r = |extra: &str| one(&format!("GET /style.css HTTP/1.1\r\nHost: h\r\n{extra}\r\n"));
    let (status, head, body) = r(&format!("If-None-Match: {tag}\r\n"));
    assert_eq!((status, body.as_str()), (304, ""));
    assert_eq!(header(&head, "etag"), Some(tag.clone()));
    assert_eq!(header(&head, "content-length"), None);
    assert_eq!(r(&format!("If-None-Match: \"other\", W/{tag}\r\n")).0, 304);
    assert_eq!(r("If-None-Match: *\r\n").0, 304);
    assert_eq!(r("If-None-Match: \"other\"\r\n").0, 200);
    assert_eq!(r("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n").0, 304);
    assert_eq!(r("If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n").0, 200);
    assert_eq!(r("If-Modified-Since: garbage\r\n").0, 200);
    // If-None-Match wins over If-Modified-Since.
    assert_eq!(r("If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n").0, 200);
    assert_eq!(r("If-Match: \"other\"\r\n").0, 412);
    assert_eq!(r(&format!("If-Match: {tag}\r\n")).0, 200);
    assert_eq!(r("If-Unmodified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n").0, 412);
}

#[test]
fn ranges() {
    let r = |extra: &str| one(&format!("GET /docs/page.html HTTP/1.1\r\nHost: h\r\n{extra}\r\n"));
    let (status, head, body) = r("Range: bytes=2-5\r\n");
    assert_eq!((status, body.as_str()), (206, "2345"));
    assert_eq!(header(&head, "content-range").as_deref(), Some("bytes 2-5/10"));
    assert_eq!(header(&head, "content-length").as_deref(), Some("4"));
    assert_eq!(r("Range: bytes=-3\r\n").2, "789");
    assert_eq!(r("Range: bytes=7-\r\n").2, "789");
    let (status, head, _) = r("Range: bytes=10-\r\n");
    assert_eq!((status, header(&head, "content-range").as_deref()), (416, Some("bytes */10")));
    assert_eq!(r("Range: bytes=0-1,4-5\r\n").0, 200);
    let tag = etag(b"0123456789");
    assert_eq!(r(&format!("Range: bytes=0-0\r\nIf-Range: {tag}\r\n")).2, "0");
    assert_eq!(r("Range: bytes=0-0\r\nIf-Range: \"old\"\r\n").2, "0123456789");
    assert_eq!(r("Range: bytes=0-0\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n").0, 206);
    assert_eq!(r("Range: bytes=0-0\r\nIf-Range: Mon, 07 Nov 1994 08:49:37 GMT\r\n").0, 200);
    let (status, _, body) = one("HEAD /docs/page.html HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
}

#[test]
fn a_keep_alive_session_of_many_requests() {
    let mut script = String::new();
    for _ in 0..50 {
        script.push_str("GET /style.css HTTP/1.1\r\nHost: h\r\n\r\n");
    }
    let out = serve_script(&site(), Config::default(), vec![Step::Send(script.into_bytes())]).0;
    let r = responses(&out);
    assert_eq!(r.len(), 50);
    assert!(r.iter().all(|r| r.0 == 200 && r.2.as_bytes() == STYLE));
}
