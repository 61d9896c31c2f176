//! Parsing a request head (RFC 9112 §2-§3, §6) on top of `httparse`,
//! with the checks a server needs beyond syntax: limits, one `Host`,
//! unambiguous framing, known versions.

use core::ops::Range;

use crate::config::Config;
use crate::error::RequestError;
use crate::method::Method;
use crate::request::{Framing, Request, Version};

/// What the start of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Not a whole head yet, and nothing wrong so far.
    Partial,
    /// A whole head of this many bytes, parsed into the request.
    Complete(usize),
}

fn span(buf: &[u8], part: &[u8]) -> Range<usize> {
    // httparse hands out slices of `buf`; their offset is their address
    // minus the buffer's.
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// Parses the request head at the start of `buf` into `request`
/// (reusing its buffers). `buf` must not start with empty lines.
pub fn parse_head(buf: &[u8], config: &Config, request: &mut Request) -> Result<Head, RequestError> {
    let line_end = buf.iter().take(config.max_request_line + 2).position(|&b| b == b'\n');
    match line_end {
        None if buf.len() > config.max_request_line + 1 => return Err(RequestError::RequestLineTooLong),
        Some(end) if end > config.max_request_line + 1 => return Err(RequestError::RequestLineTooLong),
        _ => {}
    }
    let mut slots = [httparse::EMPTY_HEADER; Config::HEADER_SLOTS];
    let slots = &mut slots[..config.max_headers.clamp(1, Config::HEADER_SLOTS)];
    let mut parsed = httparse::Request::new(slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > config.max_head { Err(RequestError::HeadersTooLarge) } else { Ok(Head::Partial) };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::HeadersTooLarge),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(e) => return Err(RequestError::Malformed(httparse_reason(e))),
    };
    if len > config.max_head {
        return Err(RequestError::HeadersTooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version) else {
        return Err(RequestError::Malformed("incomplete request line"));
    };

    request.bytes.clear();
    request.bytes.extend_from_slice(&buf[..len]);
    request.headers.clear();
    request.method = Method::from_token(method);
    request.method_span = span(buf, method.as_bytes());
    request.version = if version == 0 { Version::Http10 } else { Version::Http11 };
    request.target = span(buf, target.as_bytes());
    set_path(request, target)?;

    let mut host_count = 0;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for header in parsed.headers.iter() {
        let value = header.value.trim_ascii();
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(RequestError::Malformed("control character in a field value"));
        }
        request.headers.push((span(buf, header.name.as_bytes()), span(buf, value)));
        let name = header.name;
        if name.eq_ignore_ascii_case("host") {
            host_count += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            for item in value.split(|&b| b == b',') {
                let length = parse_length(item.trim_ascii())?;
                if content_length.is_some_and(|seen| seen != length) {
                    return Err(RequestError::Malformed("Content-Length values differ"));
                }
                content_length = Some(length);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding_list(value, &mut transfer_encoding)?;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_items(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(RequestError::UnsupportedExpectation);
            }
            // HTTP/1.0 clients do not know 100 Continue (RFC 9110 §10.1.1).
            expect_continue = request.version == Version::Http11;
        }
    }

    if request.version == Version::Http11 && host_count != 1 {
        return Err(RequestError::Malformed("an HTTP/1.1 request needs exactly one Host field"));
    }
    if host_count > 1 {
        return Err(RequestError::Malformed("more than one Host field"));
    }
    request.framing = match (transfer_encoding, content_length) {
        (true, Some(_)) => return Err(RequestError::Malformed("both Content-Length and Transfer-Encoding")),
        (true, None) if request.version == Version::Http10 => {
            return Err(RequestError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
        }
        (true, None) => Framing::Chunked,
        (false, length) => Framing::Length(length.unwrap_or(0)),
    };
    request.keep_alive = !close && (request.version == Version::Http11 || keep_alive_token);
    request.expect_continue = expect_continue && request.framing != Framing::Length(0);
    Ok(Head::Complete(len))
}

/// Splits `target` into path and query, checking its form (RFC 9112 §3.2).
fn set_path(request: &mut Request, target: &str) -> Result<(), RequestError> {
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::Malformed("request target is not visible ASCII"));
    }
    let start = request.target.start;
    let path_start = if target.starts_with('/') {
        start
    } else if target == "*" {
        if request.method != Method::Options {
            return Err(RequestError::Malformed("'*' target outside OPTIONS"));
        }
        start
    } else if let Some(scheme_end) = absolute_form(target) {
        // The path starts at the first '/' after the authority; none means "/".
        match target[scheme_end..].find(['/', '?']) {
            Some(i) if target.as_bytes()[scheme_end + i] == b'/' => start + scheme_end + i,
            _ => {
                let at = request.bytes.len();
                request.bytes.push(b'/');
                request.path = at..at + 1;
                request.query = target[scheme_end..].find('?').map(|i| start + scheme_end + i + 1..request.target.end);
                return Ok(());
            }
        }
    } else if request.method == Method::Connect {
        // authority-form: CONNECT is answered 501 anyway; keep it whole.
        start
    } else {
        return Err(RequestError::Malformed("request target is not a path or absolute URI"));
    };
    let rest = &request.bytes[path_start..request.target.end];
    match rest.iter().position(|&b| b == b'?') {
        Some(q) => {
            request.path = path_start..path_start + q;
            request.query = Some(path_start + q + 1..request.target.end);
        }
        None => {
            request.path = path_start..request.target.end;
            request.query = None;
        }
    }
    Ok(())
}

/// For `http://host/…` or `https://…`, the offset just past `://`.
fn absolute_form(target: &str) -> Option<usize> {
    let colon = target.find("://")?;
    let scheme = &target[..colon];
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(colon + 3)
}

fn version_error(buf: &[u8]) -> RequestError {
    // "HTTP/2.0" is a version we do not speak; "HTXP/1.1" is not HTTP.
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default().trim_ascii_end();
    match line.rsplit(|&b| b == b' ').next() {
        Some([b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            RequestError::UnsupportedVersion
        }
        _ => RequestError::Malformed("bad HTTP version"),
    }
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header field name (whitespace before ':' or folding?)",
        httparse::Error::HeaderValue => "invalid header field value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Token => "invalid token in the request line",
        _ => "invalid request syntax",
    }
}

/// A `Content-Length` value: 1*DIGIT, at most 18 digits so it never
/// overflows.
fn parse_length(digits: &[u8]) -> Result<u64, RequestError> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RequestError::Malformed("invalid Content-Length"));
    }
    Ok(digits.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

/// The non-empty, trimmed items of a comma-separated list.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|item| !item.is_empty())
}

/// Checks one `Transfer-Encoding` field: only `chunked` is understood,
/// and it may appear once, last (RFC 9112 §6.1).
fn transfer_encoding_list(value: &[u8], chunked: &mut bool) -> Result<(), RequestError> {
    let mut any = false;
    for coding in list_items(value) {
        any = true;
        if *chunked {
            return Err(RequestError::Malformed("a transfer coding after chunked"));
        }
        if coding.eq_ignore_ascii_case(b"chunked") {
            *chunked = true;
        } else if coding.iter().all(|&b| is_token_byte(b)) {
            return Err(RequestError::UnsupportedTransferCoding);
        } else {
            return Err(RequestError::Malformed("invalid Transfer-Encoding"));
        }
    }
    if !any {
        return Err(RequestError::Malformed("empty Transfer-Encoding"));
    }
    Ok(())
}

/// tchar (RFC 9110 §5.6.2).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
