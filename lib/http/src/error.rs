//! Why a request is refused before a handler sees it.

use core::fmt;

/// A request the connection cannot serve. Each maps to a status; after
/// any of them the connection is closed, because the bytes that follow
/// can no longer be trusted to start a request (the defence against
/// request smuggling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not HTTP/1.x syntax, or framing that cannot be trusted (400).
    Malformed(&'static str),
    /// The request line is longer than the limit (414).
    RequestLineTooLong,
    /// The header section is larger than the limit, or has too many
    /// fields (431).
    HeadersTooLarge,
    /// The body is larger than the limit (413).
    BodyTooLarge,
    /// An HTTP version other than 1.0 and 1.1 (505).
    UnsupportedVersion,
    /// A transfer coding other than `chunked` (501).
    UnsupportedTransferCoding,
    /// An `Expect` the server cannot meet (417).
    UnsupportedExpectation,
    /// The header section did not arrive in time (408).
    HeaderTimeout,
}

impl RequestError {
    /// The status the client gets.
    pub fn status(self) -> u16 {
        match self {
            RequestError::Malformed(_) => 400,
            RequestError::RequestLineTooLong => 414,
            RequestError::HeadersTooLarge => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::UnsupportedVersion => 505,
            RequestError::UnsupportedTransferCoding => 501,
            RequestError::UnsupportedExpectation => 417,
            RequestError::HeaderTimeout => 408,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::RequestLineTooLong => f.write_str("request line too long"),
            RequestError::HeadersTooLarge => f.write_str("header section too large"),
            RequestError::BodyTooLarge => f.write_str("request body too large"),
            RequestError::UnsupportedVersion => f.write_str("HTTP version not supported"),
            RequestError::UnsupportedTransferCoding => f.write_str("transfer coding not supported"),
            RequestError::UnsupportedExpectation => f.write_str("expectation not supported"),
            RequestError::HeaderTimeout => f.write_str("header section not received in time"),
        }
    }
}

impl core::error::Error for RequestError {}
