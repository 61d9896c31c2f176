//! A parsed request head: method, target, version and header fields,
//! held in one reusable buffer so a persistent connection allocates
//! nothing per request once warm.

use alloc::vec::Vec;
use core::ops::Range;

use crate::method::Method;

/// How the request's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0 when there is no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// One request's head. Names and the target are ASCII (the parser
/// refuses anything else); values are bytes, as RFC 9110 allows.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) bytes: Vec<u8>,
    pub(crate) method: Method,
    pub(crate) method_span: Range<usize>,
    pub(crate) target: Range<usize>,
    /// The path within the target (the target itself in origin-form).
    pub(crate) path: Range<usize>,
    pub(crate) query: Option<Range<usize>>,
    pub(crate) version: Version,
    pub(crate) headers: Vec<(Range<usize>, Range<usize>)>,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

impl Default for Request {
    fn default() -> Request {
        Request {
            bytes: Vec::new(),
            method: Method::Get,
            method_span: 0..0,
            target: 0..0,
            path: 0..0,
            query: None,
            version: Version::Http11,
            headers: Vec::new(),
            framing: Framing::Length(0),
            keep_alive: true,
            expect_continue: false,
        }
    }
}

fn text(bytes: &[u8]) -> &str {
    // Spans handed out as text were checked to be ASCII when parsed.
    core::str::from_utf8(bytes).unwrap_or_default()
}

impl Request {
    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method token as sent (for [`Method::Other`]).
    pub fn method_token(&self) -> &str {
        text(&self.bytes[self.method_span.clone()])
    }

    /// The request target as sent.
    pub fn target(&self) -> &str {
        text(&self.bytes[self.target.clone()])
    }

    /// The path: the target up to `?` (for an absolute-form target, its
    /// path part; `*` for `OPTIONS *`). Still percent-encoded.
    pub fn path(&self) -> &str {
        text(&self.bytes[self.path.clone()])
    }

    /// The query after `?`, if any. Still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.query.clone().map(|q| text(&self.bytes[q]))
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every value of the fields named `name`, in order.
    pub fn header_values<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r [u8]> + 'r {
        self.headers().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every field as (name, value), in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (text(&self.bytes[n.clone()]), &self.bytes[v.clone()]))
    }

    /// How the body is framed.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the request has a body (chunked, or a non-zero length).
    pub fn has_body(&self) -> bool {
        self.framing != Framing::Length(0)
    }

    /// Whether the client wants the connection kept after this exchange
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.expect_continue
    }
}
