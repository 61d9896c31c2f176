//! The www unikernel driven by real clients. On the unix target, on
//! loopback: curl for every behaviour a site owes its visitors (statuses,
//! headers, byte-exact bodies against the source files, ranges,
//! conditional requests, gzip and brotli), raw sockets for malformed
//! requests and smuggling attempts (400 and close, never a crash, never
//! a second request read from the smuggled bytes), a slowloris client, the
//! connection limit, and a headless Chromium rendering the home page. On
//! spt, inside a namespace of the test's own, the same site over the
//! unikernel's own TCP/IP stack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use oasis_testkit::{NetNs, Running, netns_available, oasis_binary, run, skip, workspace_root};

const LIMIT: Duration = Duration::from_secs(60);
const BOOT_LIMIT: Duration = Duration::from_secs(120);

fn cargo_build(args: &[&str]) {
    let root = workspace_root();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", root.join("target/oasis"))
        .args(["build", "--quiet", "-p", "www"])
        .args(args)
        .status()
        .expect("running cargo");
    assert!(status.success(), "building www failed");
}

/// www for the unix target, serving the project's documentation.
fn unix_image() -> PathBuf {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build(&["--release"]);
        workspace_root().join("target/oasis/release/www")
    })
    .clone()
}

/// www for hvt and spt.
fn guest_image() -> PathBuf {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build(&["--profile", "guest", "--target", "x86_64-unknown-none"]);
        workspace_root().join("target/oasis/x86_64-unknown-none/guest/www")
    })
    .clone()
}

/// A directory of test files, and www built to serve it with
/// `oasis build --kv htdocs=DIR` (in a target directory of its own, so
/// the default image is left alone).
fn kv_site() -> &'static (PathBuf, PathBuf) {
    static ONCE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = workspace_root().join("target/oasis/www-test-site");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        let page =
            "<!doctype html><title>Test</title>\n".to_string() + &"<p>Lorem ipsum dolor sit amet.</p>\n".repeat(200);
        std::fs::write(dir.join("index.html"), &page).unwrap();
        std::fs::write(dir.join("404.html"), "<h1>custom 404</h1>\n").unwrap();
        std::fs::write(dir.join("app.js"), "console.log('hi');\n".repeat(100)).unwrap();
        std::fs::write(dir.join("sub/index.html"), "<p>sub index</p>\n").unwrap();
        std::fs::write(dir.join("sub/deeper/data.json"), "{\"k\": [1, 2, 3]}\n".repeat(50)).unwrap();
        std::fs::write(dir.join("sub/with space.txt"), "spaced\n").unwrap();
        std::fs::write(dir.join("sub/é.txt"), "accent\n").unwrap();
        std::fs::write(dir.join("kib.txt"), vec![b'k'; 1024]).unwrap();
        let binary: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(dir.join("blob.bin"), binary).unwrap();
        let mut c = Command::new(oasis_binary());
        c.env("OASIS_TARGET_DIR", workspace_root().join("target/oasis/www-kv"))
            .args(["build", workspace_root().join("unikernels/www").to_str().unwrap(), "--target", "unix", "--kv"])
            .arg(format!("htdocs={}", dir.display()));
        let out = run(&mut c, Duration::from_secs(900));
        assert_eq!(out.status, Some(0), "oasis build --kv: {out:#?}");
        (dir, PathBuf::from(out.stdout.lines().last().unwrap()))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running www and where to reach it.
struct Server {
    guest: Running,
    ns: Option<NetNs>,
    host: String,
    port: u16,
}

fn boot_unix(image: &Path, args: &[&str]) -> Server {
    let port = free_port();
    let mut c = Command::new(image);
    c.args(["--port", &port.to_string()]).args(args);
    let mut guest = Running::spawn(&mut c);
    guest.wait_for("www: serving", BOOT_LIMIT);
    Server { guest, ns: None, host: "127.0.0.1".into(), port }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.host, self.port)
    }

    fn command(&self, program: &str) -> Command {
        match &self.ns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    /// curl with `args`: (status, headers, body bytes).
    fn curl(&self, path: &str, args: &[&str]) -> (u16, String, Vec<u8>) {
        let tmp = std::env::temp_dir().join(format!("www-test-{}-{}", std::process::id(), rand_suffix()));
        let head = tmp.with_extension("head");
        let mut c = self.command("curl");
        c.args(["-s", "--max-time", "20", "--path-as-is", "-o"])
            .arg(&tmp)
            .arg("-D")
            .arg(&head)
            .args(args)
            .arg(self.url(path));
        let out = run(&mut c, LIMIT);
        assert_eq!(out.status, Some(0), "curl {path} {args:?}: {out:#?}\n{}", self.guest.output());
        let headers = std::fs::read_to_string(&head).unwrap_or_default();
        let body = std::fs::read(&tmp).unwrap_or_default();
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(&head);
        // The last head (after any 100 Continue).
        let last = headers.rsplit("HTTP/1.1 ").next().unwrap_or_default().to_string();
        let status = last.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, last, body)
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[test]
fn the_documentation_site_renders_and_its_links_work() {
    let server = boot_unix(&unix_image(), &[]);
    let (status, head, body) = server.curl("/", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(header(&head, "server").as_deref(), Some("oasis-www"));
    let home = String::from_utf8(body).unwrap();
    assert!(home.contains("<h1>Oasis</h1>") && home.contains("/style.css"), "{home}");
    assert!(home.contains("href=\"/docs/kv-format.html\""), "README's docs/kv-format.md mention is a link");
    // Every site-local link of every page leads somewhere.
    let mut seen = BTreeSet::new();
    let mut queue = vec!["/".to_string()];
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) || seen.len() > 100 {
            continue;
        }
        let (status, _, body) = server.curl(&path, &[]);
        assert_eq!(status, 200, "{path}");
        let text = String::from_utf8_lossy(&body);
        for link in text.split("href=\"").skip(1).filter_map(|s| s.split('"').next()) {
            if link.starts_with('/') {
                queue.push(link.split('#').next().unwrap().to_string());
            }
        }
    }
    for page in ["/docs/", "/docs/net.html", "/docs/abi.html", "/style.css"] {
        assert!(seen.contains(page), "{page} is not linked: {seen:?}");
    }
    // The rendered page matches the markdown it came from.
    let (_, _, net) = server.curl("/docs/net.html", &[]);
    let source = std::fs::read_to_string(workspace_root().join("docs/net.md")).unwrap();
    let first_heading = source.lines().find(|l| l.starts_with("# ")).unwrap().trim_start_matches("# ");
    assert!(String::from_utf8_lossy(&net).contains(first_heading));
    let (status, _, body) = server.curl("/no/such/page", &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("Not found"));
    assert!(server.guest.output().contains("\"GET /docs/net.html HTTP/1.1\" 200"), "access log");
}

#[test]
fn curl_sees_every_behaviour_byte_exact() {
    let (dir, image) = kv_site();
    let server = boot_unix(image, &[]);
    let index = std::fs::read(dir.join("index.html")).unwrap();
    let blob = std::fs::read(dir.join("blob.bin")).unwrap();
    // Files, byte for byte.
    for (path, file) in [
        ("/", "index.html"),
        ("/index.html", "index.html"),
        ("/blob.bin", "blob.bin"),
        ("/kib.txt", "kib.txt"),
        ("/sub/", "sub/index.html"),
        ("/sub/deeper/data.json", "sub/deeper/data.json"),
        ("/sub/with%20space.txt", "sub/with space.txt"),
        ("/sub/%C3%A9.txt", "sub/é.txt"),
    ] {
        let (status, head, body) = server.curl(path, &[]);
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, std::fs::read(dir.join(file)).unwrap(), "{path}");
        assert_eq!(header(&head, "content-length"), Some(body.len().to_string()));
    }
    let (_, head, _) = server.curl("/blob.bin", &[]);
    assert_eq!(header(&head, "content-type").as_deref(), Some("application/octet-stream"));
    let (_, head, _) = server.curl("/app.js", &[]);
    assert_eq!(header(&head, "content-type").as_deref(), Some("text/javascript; charset=utf-8"));
    assert!(header(&head, "date").is_some_and(|d| d.ends_with(" GMT") && d.len() == 29));
    // HEAD: the same head, no body (what follows the head is nothing).
    let (status, head, _) = server.curl("/index.html", &["-I"]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-length"), Some(index.len().to_string()));
    let (out, _) = raw(&server, b"HEAD /index.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 ") && out.ends_with("\r\n\r\n"), "{out}");
    // Validators and conditional requests.
    let (_, head, _) = server.curl("/index.html", &[]);
    let etag = header(&head, "etag").unwrap();
    let modified = header(&head, "last-modified").unwrap();
    assert_eq!(server.curl("/index.html", &["-H", &format!("If-None-Match: {etag}")]).0, 304);
    assert_eq!(server.curl("/index.html", &["-H", "If-None-Match: \"nope\""]).0, 200);
    assert_eq!(server.curl("/index.html", &["-H", &format!("If-Modified-Since: {modified}")]).0, 304);
    assert_eq!(server.curl("/index.html", &["-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT"]).0, 200);
    assert_eq!(server.curl("/index.html", &["-H", "If-Match: \"nope\""]).0, 412);
    // Ranges.
    let (status, head, body) = server.curl("/blob.bin", &["-r", "1000-1999"]);
    assert_eq!((status, &body[..]), (206, &blob[1000..2000]));
    assert_eq!(header(&head, "content-range"), Some(format!("bytes 1000-1999/{}", blob.len())));
    let (status, _, body) = server.curl("/blob.bin", &["-r", "-500"]);
    assert_eq!((status, &body[..]), (206, &blob[blob.len() - 500..]));
    let (status, head, _) = server.curl("/blob.bin", &["-r", "400000-"]);
    assert_eq!((status, header(&head, "content-range")), (416, Some(format!("bytes */{}", blob.len()))));
    let (_, head, _) = server.curl("/blob.bin", &[]);
    let blob_etag = header(&head, "etag").unwrap();
    assert_eq!(server.curl("/blob.bin", &["-r", "0-9", "-H", &format!("If-Range: {blob_etag}")]).0, 206);
    assert_eq!(server.curl("/blob.bin", &["-r", "0-9", "-H", "If-Range: \"old\""]).2, blob);
    // Compression: curl decodes, and the result is the file.
    for (encoding, expected) in [("br", "br"), ("gzip", "gzip"), ("gzip, br", "br"), ("identity", "")] {
        let (status, head, body) =
            server.curl("/index.html", &["--compressed", "-H", &format!("Accept-Encoding: {encoding}")]);
        assert_eq!(status, 200);
        assert_eq!(header(&head, "content-encoding").unwrap_or_default(), expected, "{encoding}");
        assert_eq!(header(&head, "vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(body, index, "{encoding}");
    }
    let (_, head, body) = server.curl("/app.js", &["--compressed"]);
    assert!(header(&head, "content-encoding").is_some());
    assert_eq!(body, std::fs::read(dir.join("app.js")).unwrap());
    // identity;q=0: a variant the client takes, or 406.
    assert_eq!(server.curl("/index.html", &["-H", "Accept-Encoding: identity;q=0"]).0, 406);
    let (status, head, _) = server.curl("/kib.txt", &["-H", "Accept-Encoding: identity;q=0, gzip"]);
    assert_eq!((status, header(&head, "content-encoding").as_deref()), (200, Some("gzip")));
    assert_eq!(server.curl("/blob.bin", &["-H", "Accept-Encoding: identity;q=0, gzip"]).0, 406, "not compressed");
    // Directories, errors, methods.
    let (status, head, _) = server.curl("/sub", &[]);
    assert_eq!((status, header(&head, "location").as_deref()), (301, Some("/sub/")));
    let (status, _, body) = server.curl("/missing", &[]);
    assert_eq!((status, body.as_slice()), (404, &b"<h1>custom 404</h1>\n"[..]));
    let (status, head, _) = server.curl("/", &["-X", "POST", "-d", "x"]);
    assert_eq!((status, header(&head, "allow").as_deref()), (405, Some("GET, HEAD, OPTIONS")));
    assert_eq!(server.curl("/", &["-X", "BREW"]).0, 501);
    for bad in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub%2f..%2f404.html", "/a%00b", "/%c0%ae%c0%ae/"] {
        assert_eq!(server.curl(bad, &[]).0, 400, "{bad}");
    }
    // HTTP/1.0, keep-alive through several requests on one connection.
    assert_eq!(server.curl("/kib.txt", &["--http1.0"]).2.len(), 1024);
    let mut c = server.command("curl");
    c.args(["-s", "--max-time", "20", "-w", "%{num_connects} "]);
    for _ in 0..5 {
        c.args(["-o", "/dev/null"]).arg(server.url("/kib.txt"));
    }
    let out = run(&mut c, LIMIT);
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["1", "0", "0", "0", "0"], "one connection reused");
}

/// Sends `bytes` on a fresh connection, then reads until the server
/// closes (or 10 s pass): what came back, and whether it closed.
fn raw(server: &Server, bytes: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[test]
fn malformed_and_smuggling_requests_get_400_and_close() {
    let server = boot_unix(&unix_image(), &["--echo"]);
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    let cases: &[(&str, &str)] = &[
        ("no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n"),
        ("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
        ("bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"),
        ("bad token", "G<T / HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("no Host", "GET / HTTP/1.1\r\n\r\n"),
        ("CL.TE", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("TE.CL", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n"),
        (
            "TE obfuscated",
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: x\r\n\r\n0\r\n\r\n",
        ),
        ("two lengths", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"),
        (
            "bad chunk size",
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "chunk size overflow",
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n",
        ),
        (
            "LF-only chunk line",
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        ),
        (
            "chunk too long",
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        ),
    ];
    for (what, request) in cases {
        let (out, closed) = raw(&server, format!("{request}{smuggled}").as_bytes());
        assert!(closed, "{what}: the connection stayed open:\n{out}");
        assert!(!out.contains("/smuggled") && out.matches("HTTP/1.1 ").count() <= 2, "{what}:\n{out}");
        let last = out.rsplit("HTTP/1.1 ").next().unwrap_or_default();
        if last.starts_with("200 ") {
            // The echo had begun before the bad chunk: its response is cut
            // short (no last chunk), and the connection closed.
            assert!(last.contains("Transfer-Encoding: chunked") && !last.ends_with("0\r\n\r\n"), "{what}:\n{out}");
            continue;
        }
        assert!(last.starts_with("400 ") || last.starts_with("501 "), "{what}:\n{out}");
        assert!(last.contains("Connection: close"), "{what}:\n{out}");
    }
    // Limits.
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(10_000));
    assert!(raw(&server, long.as_bytes()).0.starts_with("HTTP/1.1 414 "));
    let big = format!("GET / HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n", "b".repeat(20_000));
    assert!(raw(&server, big.as_bytes()).0.starts_with("HTTP/1.1 431 "));
    let (out, closed) = raw(&server, b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 413 ") && closed, "{out}");
    assert!(raw(&server, b"GET / HTTP/2.0\r\nHost: h\r\n\r\n").0.starts_with("HTTP/1.1 505 "));
    // Random garbage never brings it down.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..50 {
        let bytes: Vec<u8> = (0..200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        let (out, closed) = raw(&server, &bytes);
        assert!(closed && (out.is_empty() || out.starts_with("HTTP/1.1 4") || out.starts_with("HTTP/1.1 5")), "{out}");
    }
    assert_eq!(server.curl("/", &[]).0, 200, "still serving");
}

#[test]
fn pipelining_continue_and_streaming_echo() {
    let server = boot_unix(&unix_image(), &["--echo"]);
    // Three requests at once; the answers come in order.
    let (out, _) = raw(
        &server,
        b"GET /docs/net.html HTTP/1.1\r\nHost: h\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: h\r\n\r\nGET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let statuses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
    assert_eq!(statuses, ["200", "200", "404"], "{out}");

    // 100-continue, then the body echoed.
    let mut s = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello world").unwrap();
    let mut out = Vec::new();
    while !out.ends_with(b"hello world") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }

    // Streaming: the first chunk comes back before the second is sent.
    let mut s = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst!\r\n").unwrap();
    let mut out = Vec::new();
    while !String::from_utf8_lossy(&out).contains("first!") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        out.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"6\r\nsecond\r\n0\r\n\r\n").unwrap();
    while !out.ends_with(b"0\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&out).contains("second"));
    // And with curl: a 1 MB upload minus a byte comes back whole.
    let upload = workspace_root().join("target/oasis/www-echo-upload");
    let data: Vec<u8> = (0..(1 << 20) - 1).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let (status, _, body) =
        server.curl("/echo", &["--data-binary", &format!("@{}", upload.display()), "-H", "Content-Type: x"]);
    assert_eq!((status, body.len()), (200, data.len()));
    assert_eq!(body, data);
}

#[test]
fn a_slowloris_client_is_dropped_without_starving_others() {
    let server = boot_unix(&unix_image(), &["--header-timeout", "2"]);
    let mut slow = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut closed = false;
    for b in b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ".iter().chain([b'a'; 40].iter()) {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        // Others are served meanwhile, promptly.
        let t = Instant::now();
        assert_eq!(server.curl("/style.css", &[]).0, 200);
        assert!(t.elapsed() < Duration::from_secs(2));
        let mut buf = [0u8; 1024];
        match slow.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    assert!(closed, "still open after {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(8), "closed after {:?}", start.elapsed());
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&answer));
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    let server = boot_unix(&unix_image(), &["--max-connections", "4", "--idle-timeout", "30"]);
    let idle: Vec<TcpStream> =
        (0..4).map(|_| TcpStream::connect((server.host.as_str(), server.port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut buf = [0u8; 64];
    let t = Instant::now();
    let got = extra.read(&mut buf);
    assert!(matches!(got, Ok(0) | Err(_)) && t.elapsed() < Duration::from_secs(3), "{got:?}");
    // Free a slot; new connections are served again.
    idle[0].shutdown(Shutdown::Both).unwrap();
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (out, _) = raw(&server, b"GET /style.css HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        if out.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.guest.output().contains("connections open, the limit"));
}

/// The number of distinct colours in a PNG.
fn png_colours(path: &Path) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    buf[..info.buffer_size()].chunks(step).map(|px| px.to_vec()).collect::<BTreeSet<_>>().len()
}

#[test]
fn headless_chromium_renders_the_home_page() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        skip("headless_chromium_renders_the_home_page", "chromium is not installed (scripts/setup installs it)");
        return;
    };
    let server = boot_unix(&unix_image(), &[]);
    let profile = std::env::temp_dir().join(format!("www-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let browse = |extra: &[&str], path: &str| {
        let mut c = Command::new(chromium);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(server.url(path));
        run(&mut c, Duration::from_secs(90))
    };
    let dom = browse(&["--dump-dom"], "/");
    assert!(dom.stdout.contains("<h1>Oasis</h1>"), "{dom:#?}");
    let link = dom.stdout.split("href=\"/docs/").nth(1).and_then(|s| s.split('"').next()).expect("a docs link");
    let page = browse(&["--dump-dom"], &format!("/docs/{link}"));
    assert!(page.stdout.contains("<main>") && page.stdout.contains("</h1>"), "{page:#?}");
    let shot = profile.join("home.png");
    let out = browse(&[&format!("--screenshot={}", shot.display()), "--window-size=1024,768"], "/");
    assert!(shot.is_file(), "no screenshot: {out:#?}");
    let bytes = std::fs::read(&shot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let colours = png_colours(&shot);
    assert!(colours > 16, "a blank page? {colours} colours");
    let log = server.guest.output();
    assert!(log.contains("\"GET /style.css HTTP/1.1\" 200"), "the browser fetched the stylesheet:\n{log}");
    let _ = std::fs::remove_dir_all(&profile);
}

#[test]
fn spt_serves_the_site_over_its_own_stack() {
    if let Err(why) = netns_available() {
        skip("spt_serves_the_site_over_its_own_stack", &why);
        return;
    }
    let image = guest_image();
    let ns = NetNs::create().unwrap();
    ns.add_tap("tap0", &["10.0.0.1/24"]).unwrap();
    let oasis = oasis_binary();
    let mut c = ns.command(oasis.to_str().unwrap());
    c.arg("spt").arg(&image).args(["--mem=64M", "--net:service=tap0", "--", "--ipv4", "10.0.0.2/24", "--echo"]);
    let mut guest = Running::spawn(&mut c);
    guest.wait_for("www: serving", BOOT_LIMIT);
    assert!(guest.output().contains("on port 80"), "port 80 inside a unikernel");
    let server = Server { guest, ns: Some(ns), host: "10.0.0.2".into(), port: 80 };
    let unix = boot_unix(&unix_image(), &[]);
    for path in ["/", "/docs/net.html", "/style.css", "/docs/"] {
        let (status, _, body) = server.curl(path, &[]);
        assert_eq!(status, 200, "{path}");
        let (_, _, expected) = unix.curl(path, &[]);
        assert_eq!(body, expected, "{path}: spt and unix serve the same bytes");
    }
    let (_, head, body) = server.curl("/", &["--compressed"]);
    assert_eq!(header(&head, "content-encoding").as_deref(), Some("br"));
    assert_eq!(body, unix.curl("/", &[]).2);
    assert_eq!(server.curl("/style.css", &["-r", "0-9"]).2.len(), 10);
    assert_eq!(server.curl("/nope", &[]).0, 404);
    // A smuggling attempt over the unikernel's own TCP: 400, closed, no second answer.
    let script = "exec 3<>/dev/tcp/10.0.0.2/80; \
                  printf 'POST / HTTP/1.1\\r\\nHost: h\\r\\nContent-Length: 3\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\nGET /smuggled HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n' >&3; \
                  timeout 10 cat <&3";
    let mut c = server.command("bash");
    c.args(["-c", script]);
    let out = run(&mut c, LIMIT);
    assert!(out.stdout.starts_with("HTTP/1.1 400 ") && out.stdout.matches("HTTP/1.1").count() == 1, "{out:#?}");
    assert_eq!(out.status, Some(0), "closed by the server, not by the timeout: {out:#?}");
    // The echo handler over the guest's stack.
    let (status, _, body) = server.curl("/echo", &["--data-binary", "streamed through a unikernel"]);
    assert_eq!((status, body.as_slice()), (200, &b"streamed through a unikernel"[..]));
    assert!(server.guest.output().contains("\"GET /docs/net.html HTTP/1.1\" 200"));
}
