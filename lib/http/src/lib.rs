//! HTTP/1.1 for Oasis unikernels (RFC 9110, RFC 9112).
//!
//! - A **sans-I/O protocol core**: [`parse_head`] (on `httparse`, with the
//!   checks a server needs beyond syntax: one `Host`, unambiguous
//!   framing, limits), the strict [`chunked`] decoder, and
//!   [`Connection`], which owns a connection's input and turns bytes and
//!   the time it is told into requests, body data and deadlines.
//! - A **thin async loop**, [`serve_connection`], generic over any
//!   `embedded_io_async` stream and a [`Clock`]: persistent connections,
//!   pipelining (answers in order), `Expect: 100-continue`, chunked
//!   bodies both ways, `Date` and `Server`, a header timeout and an idle
//!   timeout, 400 and close on malformed requests, and an access-log
//!   line per request through `log` (target `access`).
//! - An application is a [`Handler`]: it gets an [`Exchange`] (the
//!   request, its body as a stream) and answers with a [`Response`] or
//!   streams one through a [`BodyWriter`].
//! - [`files::StaticFiles`]: a handler serving any read-only key-value
//!   store (`oasis_kv::KvRo`) as a web site — types, validators,
//!   conditional and range requests, precompressed variants, index
//!   pages, and paths that cannot name anything outside the store.
//! - With the `oasis` feature (default): [`serve`], the accept loop over
//!   an `oasis-net` listener with a connection limit, and [`Clock`] for
//!   `oasis_runtime::Os`.
//!
//! It is not a client, not HTTP/2 or 3, and not TLS; it does not
//! implement `CONNECT` or `Upgrade` (answered 501 and ignored), nor any
//! transfer coding but chunked (a request with another gets 501).
//! Requests on one connection are answered one at a time.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

#[cfg(feature = "oasis")]
mod accept;
mod body;
pub mod chunked;
mod clock;
mod config;
mod conn;
pub mod date;
mod error;
pub mod files;
mod method;
mod parse;
mod request;
mod response;
mod server;
pub mod status;

#[cfg(feature = "oasis")]
pub use accept::serve;
pub use clock::{Clock, TimedOut, with_deadline};
pub use config::Config;
pub use conn::{BodyNext, Connection, Next};
pub use embedded_io_async;
pub use error::RequestError;
#[cfg(feature = "oasis")]
pub use method::Method;
pub use parse::{Head, parse_head};
pub use request::{Framing, Request, Version};
pub use response::{Body, Response, valid_field};
pub use server::{BodyWriter, ConnectionSummary, Exchange, Handler, Sent, WriteError, serve_connection};
