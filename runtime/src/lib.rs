//! The Oasis runtime: what every unikernel runs on, whatever the target.
//!
//! A single-threaded async executor with timers, the [`Os`] handle an
//! application receives in `main`, boot-argument parsing, a `log` backend
//! on the console and a CSPRNG. It is `no_std` + `alloc` and has no
//! `unsafe`: everything that touches hardware or the host sits behind the
//! small [`Machine`] trait, which every platform implements
//! (`oasis-platform-tender` for hvt and spt, `oasis-platform-unix` for a
//! Linux process).
//!
//! It is not a platform binding, and it never reads a clock or blocks on its
//! own: the loop is *run what is ready → next deadline → `Machine::wait`*.
//! That makes it testable with a fake machine (see the tests).

#![cfg_attr(test, allow(clippy::unwrap_used))]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod args;
mod executor;
pub mod logger;
mod machine;
mod os;
pub mod random;
mod termination;
pub mod time;

/// The async mutex (`oasis-sync`), for tasks that share state across awaits.
pub use oasis_sync as sync;

pub use args::{ArgError, Args};
pub use executor::{JoinHandle, start};
pub use machine::Machine;
pub use os::{Console, Os};
pub use random::Random;
pub use termination::Termination;
pub use time::{Duration, Elapsed, Idle, Instant, Sleep};
