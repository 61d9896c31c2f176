//! The Oasis unix target: a unikernel's source built as an ordinary Linux
//! process, for development, debugging with ordinary tools, and running
//! protocol tests without a hypervisor.
//!
//! It implements [`oasis_platform::Platform`] over the host as [`Unix`]:
//! the console is standard output (buffered, flushed before sleeping and at
//! exit), clocks are the host's, `wait` is `ppoll`, randomness is
//! `getrandom`, a block device is a file. Panics and CPU faults are
//! reported the way the tenders report them, with the same exit statuses
//! ([`oasis_abi::exit`]).
//!
//! Networking comes two ways (`net`): the host's own sockets
//! ([`net::HostStack`], no privileges needed, the default), or with the
//! `tap` feature the unikernel's own stack on a TAP device
//! ([`net::TapNet`] under `oasis_net::SmolStack`), exactly as on hvt and
//! spt.
//!
//! It is not a sandbox: the process has the rights of whoever runs it.

pub mod block;
mod fault;
pub mod net;
mod platform;
mod reactor;

pub use platform::{NetSetup, Unix};
