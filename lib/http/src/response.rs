//! Responses as handlers build them, and the bytes of a response head.

use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::parse::is_token_byte;
use crate::status;

/// What follows the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// No content.
    Empty,
    /// Borrowed bytes (a `&'static` file in the image is sent without a copy).
    Bytes(&'a [u8]),
    /// Owned bytes.
    Owned(Vec<u8>),
}

impl Body<'_> {
    /// The content.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Bytes(bytes) => bytes,
            Body::Owned(bytes) => bytes,
        }
    }
}

/// A response: status, header fields and content. The server adds
/// `Date`, `Server`, `Content-Length` (or chunked framing) and
/// `Connection`; a handler never sets those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub(crate) status: u16,
    /// Field lines, each `Name: value\r\n`.
    pub(crate) fields: Vec<u8>,
    /// A ready status line and field lines (with `Content-Length`),
    /// sent as they are: see [`Response::prepared`].
    pub(crate) prepared: Option<&'a [u8]>,
    pub(crate) body: Body<'a>,
}

impl<'a> Response<'a> {
    /// A response with `status` (100..=999 are sent; anything else is sent
    /// as 500) and no fields or content.
    pub fn new(status: u16) -> Response<'a> {
        let status = if (100..=999).contains(&status) { status } else { 500 };
        Response { status, fields: Vec::new(), prepared: None, body: Body::Empty }
    }

    /// A response whose head was built beforehand: `head` is the status
    /// line and every field line (each ending in CRLF), `Content-Length`
    /// included and matching `body`, but not `Date`, `Connection` or the
    /// empty line that ends the head. The hot path of static files: the
    /// server copies it, adds the date and sends `body` as it is.
    pub fn prepared(status: u16, head: &'a [u8], body: &'a [u8]) -> Response<'a> {
        Response { status, fields: Vec::new(), prepared: Some(head), body: Body::Bytes(body) }
    }

    /// Its status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Its content.
    pub fn body_bytes(&self) -> &[u8] {
        self.body.as_bytes()
    }

    /// Its field lines (`Name: value\r\n` each), as they will be sent.
    pub fn field_lines(&self) -> &[u8] {
        &self.fields
    }

    /// Adds a field. A name that is not a token, a value with CR, LF or
    /// NUL, and the fields the server owns (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Date`) are left out: a handler
    /// cannot split or reframe a response by mistake.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Response<'a> {
        self.add_header(name, value.as_ref());
        self
    }

    /// [`Response::header`] in place.
    pub fn add_header(&mut self, name: &str, value: &[u8]) {
        if !valid_field(name, value) || server_owned(name) {
            return;
        }
        self.fields.extend_from_slice(name.as_bytes());
        self.fields.extend_from_slice(b": ");
        self.fields.extend_from_slice(value);
        self.fields.extend_from_slice(b"\r\n");
    }

    /// Sets borrowed content.
    pub fn body(mut self, bytes: &'a [u8]) -> Response<'a> {
        self.body = Body::Bytes(bytes);
        self
    }

    /// Sets owned content.
    pub fn owned_body(mut self, bytes: Vec<u8>) -> Response<'a> {
        self.body = Body::Owned(bytes);
        self
    }

    /// A short plain-text response: `status` and its reason phrase as the
    /// content (what error pages look like when a site has none).
    pub fn plain(status: u16) -> Response<'a> {
        let mut text = Vec::new();
        let _ = writeln!(VecWriter(&mut text), "{status} {}", status::reason(status));
        Response::new(status).header("Content-Type", "text/plain; charset=utf-8").owned_body(text)
    }

    /// `405 Method Not Allowed` with `Allow: allow` (RFC 9110 §15.5.6).
    pub fn method_not_allowed(allow: &str) -> Response<'a> {
        Response::plain(405).header("Allow", allow)
    }
}

/// Whether `name: value` may be sent as a field line.
pub fn valid_field(name: &str, value: &[u8]) -> bool {
    !name.is_empty() && name.bytes().all(is_token_byte) && !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

fn server_owned(name: &str) -> bool {
    ["content-length", "transfer-encoding", "connection", "date"].iter().any(|owned| name.eq_ignore_ascii_case(owned))
}

/// `fmt::Write` into a byte vector.
pub(crate) struct VecWriter<'v>(pub &'v mut Vec<u8>);

impl core::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub fn push_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(status::reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}
