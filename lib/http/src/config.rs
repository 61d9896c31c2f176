//! What a server accepts, and for how long it waits.

use core::time::Duration;

/// Limits and timeouts. Every limit is checked before what it bounds is
/// buffered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The `Server` header's value; empty leaves the header out.
    pub server: &'static str,
    /// Longest request line (method, target, version), bytes; longer gets 414.
    pub max_request_line: usize,
    /// Largest header section (request line included), bytes; larger gets 431.
    pub max_head: usize,
    /// Most header fields in a request; more gets 431. At most
    /// [`Config::HEADER_SLOTS`].
    pub max_headers: usize,
    /// Largest request body, bytes; larger gets 413 (refused from
    /// `Content-Length` before it is read, and counted as chunks arrive).
    pub max_body: u64,
    /// How long a request's header section may take to arrive, from its
    /// first byte (a slowloris client is dropped after it).
    pub header_timeout: Duration,
    /// How long an open connection may wait for its next request, and a
    /// body read or a response write may wait for the peer.
    pub idle_timeout: Duration,
    /// At most this much of a request body the handler did not read is
    /// read and discarded to keep the connection; past it the connection
    /// is closed.
    pub max_drain: u64,
    /// Most connections served at once by the accept loop; more are
    /// closed at once.
    pub max_connections: usize,
}

impl Config {
    /// The most header fields the parser has room for.
    pub const HEADER_SLOTS: usize = 128;
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server: "oasis",
            max_request_line: 8 * 1024,
            max_head: 16 * 1024,
            max_headers: 100,
            max_body: 1 << 20,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_drain: 64 * 1024,
            max_connections: 1024,
        }
    }
}
