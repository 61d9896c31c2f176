//! RESP2, the Redis serialization protocol, without I/O: bytes in, a
//! command or "need more" out; replies appended to a buffer. Also the
//! glob matching `KEYS` uses.
//!
//! Requests are parsed in both forms clients send: arrays of bulk strings
//! (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, what `redis-cli` and
//! `redis-benchmark` send) and inline commands (`PING\r\n`, from telnet).
//! Every length is checked against [`Limits`] before anything is
//! allocated; malformed input is a [`ProtocolError`] with Redis's wording.
//! It is not a server: the key-value unikernel is.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

mod glob;
mod parse;
mod reply;

pub use glob::glob_match;
pub use parse::{Limits, Parsed, ProtocolError, parse};
pub use reply::Reply;
