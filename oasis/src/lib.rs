//! Oasis: write a network service once, run it as a unikernel on hvt (KVM)
//! or spt (a seccomp-sandboxed process), or as a plain Linux process.
//!
//! An application is an `async fn main(os: Os, …)` marked `#[oasis::main]`,
//! in a package whose `main.rs` begins with
//! `#![cfg_attr(target_os = "none", no_std, no_main)]`. The attribute
//! declares the devices it uses; each becomes an argument after `os`:
//!
//! ```ignore
//! #![cfg_attr(target_os = "none", no_std, no_main)]
//! use oasis::net::{Stack, TcpListener, TcpStream};
//!
//! #[oasis::main(net = "service")]
//! async fn main(os: oasis::Os, net: impl Stack) -> Result<(), oasis::net::NetError> {
//!     let listener = net.tcp_listen(7).await?;
//!     loop {
//!         let (mut conn, _) = listener.accept().await?;
//!         os.spawn(async move {
//!             let mut buf = [0u8; 4096];
//!             while let Ok(n @ 1..) = conn.read(&mut buf).await {
//!                 if conn.write_all(&buf[..n]).await.is_err() { break }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! Build it with `oasis build DIR --target hvt|spt|unix`; the target picks
//! the platform this crate binds to (in one place, its `platform` module),
//! and nothing in the application changes. This crate holds no logic of its
//! own: it re-exports the runtime, the network stack and the key-value
//! stores, and wires the declared devices through the platform.

#![no_std]
#![forbid(unsafe_code)]

pub use oasis_abi as abi;
pub use oasis_macros::main;
pub use oasis_runtime::args::ArgParser;
pub use oasis_runtime::time::{Idle, Sleep, Timeout, YieldNow};
pub use oasis_runtime::{ArgError, Args, Console, Duration, Elapsed, Instant, JoinHandle, Os, Random, Termination};

/// `alloc`, for `String`, `Vec` and `Box` in `no_std` applications.
pub extern crate alloc;

/// The `log` crate, for `oasis::log::info!` and friends without a direct
/// dependency. Output goes to the console; `--log LEVEL` sets the level.
pub use log;

/// Networking: the [`net::Stack`] API and the target's stack.
pub mod net {
    pub use oasis_net::{NetConfig, NetError, NetStats, Stack, TcpListener, TcpStream, UdpSocket, io, nal};

    /// The stack a `net` device gives this target: the unikernel's own
    /// stack on the device (hvt, spt; unix with `unix-tap`), or the host's
    /// sockets (unix).
    pub type NetStack = crate::platform::NetStack;
}

/// Block devices: the [`block::BlockDevice`] trait and the target's device.
pub mod block {
    pub use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

    /// The block device of this target: hypercalls to the tender (hvt,
    /// spt), a file (unix, `--block:NAME=FILE`).
    pub type Block = crate::platform::Block;
}

/// Key-value stores (`oasis-kv`): the [`kv::KvRo`]/[`kv::KvRw`] traits,
/// [`kv::StaticKv`] compiled into the image (see [`static_kv!`]) and
/// [`kv::DiskKv`], the crash-safe store on a block device.
pub mod kv {
    pub use oasis_kv::{
        BatchOp, CheckReport, DiskKv, Durability, EntryKind, FormatOptions, KeyError, KvError, KvRo, KvRw, OpenError,
        OpenOptions, StaticEntry, StaticKv, StoreInfo,
    };
}

/// The read-only store a package's `build.rs` embedded with
/// `oasis_kv_build::embed(NAME, FILE)`: `static_kv!("htdocs.rs")` is a
/// [`kv::StaticKv`] over `$OUT_DIR/htdocs.rs`. `oasis build --kv
/// NAME=DIR` swaps the directory without editing the package.
///
/// ```ignore
/// static HTDOCS: oasis::kv::StaticKv = oasis::static_kv!("htdocs.rs");
/// ```
#[macro_export]
macro_rules! static_kv {
    ($file:literal) => {
        $crate::kv::StaticKv::new(include!(concat!(env!("OUT_DIR"), "/", $file)))
    };
}

mod platform;

/// Synchronisation between tasks: an async [`sync::Mutex`].
pub mod sync {
    pub use oasis_runtime::sync::{Mutex, MutexGuard};
}

/// Items the `#[oasis::main]` expansion uses. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::platform::{boot, entry, open_block, open_net, take_block_args, take_net_args};
    pub use oasis_platform::DeviceSetupError;
}
