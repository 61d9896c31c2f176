//! DNS for an authoritative name server, without I/O: bytes in, bytes
//! out, time passed in. It never reads a clock, never blocks and never
//! panics on bytes from outside.
//!
//! What it is:
//! - [`message`]: the wire format (RFC 1035, EDNS(0) RFC 6891, unknown
//!   types RFC 3597) with name compression and checked reading.
//! - [`zone`]: zones, loaded from RFC 1035 master files with the checks
//!   NSD makes, and written back out.
//! - [`answer`] and [`Responder`]: authoritative answering (RFC 1034
//!   §4.3.2, wildcards RFC 4592, DNAME RFC 6672, negative answers RFC
//!   2308), with a fast path that serves repeated questions from
//!   precomputed wire templates.
//! - [`transfer`], [`notify`], [`secondary`], [`tsig`], [`update`],
//!   [`serial`], [`store`]: the building blocks of primaries and
//!   secondaries — AXFR (RFC 5936) both ways, NOTIFY (RFC 1996), the
//!   refresh/retry/expire timers, TSIG with HMAC-SHA256 (RFC 8945),
//!   dynamic updates (RFC 2136), serial arithmetic (RFC 1982), and a
//!   versioned binary form of a zone for a key-value store.
//!
//! What it is not: a resolver or cache, a DNSSEC signer or validator
//! (DNSSEC records are carried opaquely, never generated), or a server:
//! sockets, TCP framing, access control and storage belong to the
//! unikernel that uses this crate.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

pub mod answer;
pub mod base64;
pub mod message;
pub mod name;
pub mod notify;
pub mod rdata;
pub mod record;
pub mod responder;
pub mod secondary;
pub mod serial;
pub mod store;
pub mod transfer;
pub mod tsig;
pub mod types;
pub mod update;
pub mod wire;
pub mod zone;

pub use answer::Catalog;
pub use message::{Edns, Flags, Message};
pub use name::{Name, NameError};
pub use rdata::{RData, Soa};
pub use record::{Question, Record};
pub use responder::{Action, Config, Pass, Responder, Transport};
pub use types::{Class, Opcode, RType, Rcode};
pub use wire::WireError;
pub use zone::{ParseOptions, Zone, parse_zone};
