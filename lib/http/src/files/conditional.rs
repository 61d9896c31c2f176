//! Conditional requests (RFC 9110 §13): validators compared in the
//! order the RFC gives.

use crate::date::parse_http_date;
use crate::parse::list_items;
use crate::request::Request;

/// What the preconditions say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Go on (and honour `Range`, if `range_allowed`).
    Proceed {
        /// Whether `If-Range` (if any) lets a `Range` apply.
        range_allowed: bool,
    },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Splits an entity-tag list into tags (`W/"x"` or `"x"`), or `*`.
fn tags(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    list_items(value)
}

fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// Weak comparison: the opaque tags match, weak or not.
fn weak_match(list: &[u8], etag: &str) -> bool {
    tags(list).any(|tag| tag == b"*" || opaque(tag) == opaque(etag.as_bytes()))
}

/// Strong comparison: both strong and equal.
fn strong_match(list: &[u8], etag: &str) -> bool {
    tags(list).any(|tag| tag == b"*" || (!tag.starts_with(b"W/") && tag == etag.as_bytes()))
}

/// Evaluates the preconditions of a GET or HEAD for a representation
/// with strong `etag` and `last_modified` (Unix seconds; `None` unknown).
pub fn evaluate(request: &Request, etag: &str, last_modified: Option<u64>) -> Precondition {
    if let Some(list) = request.header("if-match") {
        if !strong_match(list, etag) {
            return Precondition::Failed;
        }
    } else if let (Some(date), Some(modified)) =
        (request.header("if-unmodified-since").and_then(parse_http_date), last_modified)
        && modified > date
    {
        return Precondition::Failed;
    }
    if let Some(list) = request.header("if-none-match") {
        if weak_match(list, etag) {
            return Precondition::NotModified;
        }
    } else if let (Some(date), Some(modified)) =
        (request.header("if-modified-since").and_then(parse_http_date), last_modified)
        && modified <= date
    {
        return Precondition::NotModified;
    }
    let range_allowed = match request.header("if-range") {
        None => true,
        // An entity tag must match strongly; a date must be the exact
        // modification time (RFC 9110 §13.1.5).
        Some(value) if value.trim_ascii().starts_with(b"\"") || value.trim_ascii().starts_with(b"W/") => {
            value.trim_ascii() == etag.as_bytes()
        }
        Some(value) => parse_http_date(value).is_some_and(|date| Some(date) == last_modified),
    };
    Precondition::Proceed { range_allowed }
}
