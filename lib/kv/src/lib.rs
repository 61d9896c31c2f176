//! Key-value stores for Oasis unikernels, after MirageOS's `mirage-kv`.
//!
//! - [`KvRo`] and [`KvRw`]: the async signatures applications program
//!   against (keys are `/`-separated paths, values are bytes).
//! - [`StaticKv`]: a read-only store compiled into the image (MirageOS's
//!   crunch); `oasis-kv-build` turns a directory into its table at build
//!   time, and values are served as `&'static [u8]` without copying.
//! - [`DiskKv`]: a crash-safe read-write store on any
//!   [`BlockDevice`](oasis_devices::BlockDevice): an append-only,
//!   checksummed, circular log with a double superblock, recovery on
//!   open, compaction and `check`. Its format is specified in
//!   `docs/kv-format.md`.
//! - [`tools`]: synchronous `ls`/`get`/`import`/`export` and `block_on`
//!   for host tools, and with the `std` feature a `FileDevice` over a host
//!   file.
//!
//! It is `no_std` + `alloc` with no `unsafe`, and depends on the device
//! traits and `oasis-sync`'s async mutex only (never on a runtime). It is not a file system (no partial writes, no
//! hierarchy on disk beyond key names), not a cache (the index of keys
//! lives in memory, values stay on the device), and not shared between
//! processes: one store has one owner.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

pub mod disk;
mod error;
#[cfg(feature = "std")]
mod file_device;
pub mod key;
mod static_kv;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tools;
mod traits;

pub use disk::{
    CheckReport, DiskKv, Durability, FormatOptions, OpenError, OpenOptions, Problem, ProblemKind, StoreInfo,
};
pub use error::{KeyError, KvError};
#[cfg(feature = "std")]
pub use file_device::FileDevice;
pub use static_kv::{StaticEntry, StaticKv};
pub use traits::{BatchOp, EntryKind, KvRo, KvRw};
