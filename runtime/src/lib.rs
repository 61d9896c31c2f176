//! The Oasis runtime: what every unikernel runs on, whatever the target.
//!
//! A single-threaded async executor with timers, the [`Os`] handle an
//! application receives in `main`, boot-argument parsing, a `log` backend
//! on the console and a CSPRNG. It is `no_std` + `alloc` and has no
//! `unsafe`: everything that touches hardware or the host sits behind the
//! small [`Platform`] trait, implemented by `oasis-platform-tender` (hvt, spt) and
//! `oasis-platform-unix` (a Linux process).
//!
//! It is not a platform binding, and it never reads a clock or blocks on its
//! own: the loop is *run what is ready → next deadline → `Platform::wait`*.
//! That makes it testable with a fake platform (see the tests).

#![cfg_attr(test, allow(clippy::unwrap_used))]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod args;
mod executor;
pub mod logger;
mod os;
mod platform;
pub mod random;
mod termination;
pub mod time;

/// The async mutex (`oasis-sync`), for tasks that share state across awaits.
pub use oasis_sync as sync;

pub use args::{ArgError, Args};
pub use executor::{JoinHandle, start};
pub use os::{Console, Os};
pub use platform::Platform;
pub use random::Random;
pub use termination::Termination;
pub use time::{DeviceReady, Duration, Elapsed, Idle, Instant, Sleep};
