//! Differential testing of authoritative DNS servers.
//!
//! - [`generate`]: seeded zones (wildcards, empty non-terminals,
//!   delegations with glue, CNAME and DNAME chains, MX/SRV/TXT/CAA,
//!   unknown types) and seeded queries against them (hits and misses,
//!   case variations, EDNS sizes, DO, TCP and UDP, malformed headers).
//! - [`compare`]: two responses agree on rcode, flags and every section,
//!   the order of records inside an RRset aside.
//! - [`client`]: one query over UDP or TCP to any address.
//! - [`nsd`]: runs NSD on 127.0.0.1 with given zones.
//! - [`shim`]: serves a [`oasis_dns::Responder`] over std sockets.
//! - [`run`]: one differential run of probes against two servers.
//!
//! To check a running unikernel, point [`client`] at its address with the
//! same [`generate`] output and [`compare`] against NSD.

pub mod client;
pub mod compare;
pub mod generate;
pub mod nsd;
pub mod run;
pub mod shim;
