//! Oasis: write a network service once, run it as a unikernel on hvt (KVM)
//! or spt (a seccomp-sandboxed process), or as a plain Linux process.
//!
//! An application is an `async fn main(os: Os)` marked `#[oasis::main]`,
//! in a package whose `main.rs` begins with
//! `#![cfg_attr(target_os = "none", no_std, no_main)]`. Build it with
//! `oasis build DIR --target hvt|spt|unix`; the target picks the platform
//! this crate binds to, and nothing in the application changes.
//!
//! ```ignore
//! #![cfg_attr(target_os = "none", no_std, no_main)]
//! use oasis::{Duration, Os};
//!
//! #[oasis::main]
//! async fn main(os: Os) -> Result<(), oasis::ArgError> {
//!     let mut args = os.args().parser();
//!     let ticks: u32 = args.value("--ticks")?.unwrap_or(4);
//!     args.finish()?;
//!     for i in 0..ticks {
//!         os.sleep(Duration::from_millis(500)).await;
//!         oasis::log::info!("tick {i}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! This crate holds no logic of its own: it re-exports the runtime and
//! selects the platform. It is not where hypercalls or host code live.

#![no_std]
#![forbid(unsafe_code)]

pub use oasis_abi as abi;
pub use oasis_macros::main;
pub use oasis_runtime::args::ArgParser;
pub use oasis_runtime::time::{DeviceReady, Sleep, Timeout, YieldNow};
pub use oasis_runtime::{ArgError, Args, Console, Duration, Elapsed, Instant, JoinHandle, Os, Random, Termination};

/// `alloc`, for `String`, `Vec` and `Box` in `no_std` applications.
pub extern crate alloc;

/// The `log` crate, for `oasis::log::info!` and friends without a direct
/// dependency. Output goes to the console; `--log LEVEL` sets the level.
pub use log;

/// Items the `#[oasis::main]` expansion uses. Not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_os = "none")]
    pub use oasis_guest::run;
    #[cfg(not(target_os = "none"))]
    pub use oasis_unix::run;
}
