//! The contract between a platform and everything above it: the
//! [`Platform`] trait, implemented once per platform crate —
//! `oasis-platform-tender` (the guest side of the hvt and spt tenders) and
//! `oasis-platform-unix` (a Linux process) — and chosen in one place, the
//! `oasis` crate's `platform` module.
//!
//! A platform says what the runtime runs on ([`Machine`]: clocks, console,
//! sleeping, leaving), what the devices a unikernel declares become (a net
//! device a [`Stack`], a block device a [`BlockDevice`]), and how it boots
//! ([`Platform::boot`]). Adding a platform means a crate implementing this
//! trait and a row in the table of targets (`oasis-targets`); nothing else
//! needs to know. `docs/platforms.md` walks through it.
//!
//! It is not an implementation, and applications never name it: they take
//! `impl Stack` and `impl BlockDevice` in `main`.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

pub use oasis_devices::BlockDevice;
pub use oasis_net::Stack;
pub use oasis_runtime::{ArgError, Machine, Os, Termination};

/// A device as the unikernel declares it (`#[oasis::main(net =
/// "service")]`): its place in the manifest and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    /// Its index in the manifest: the handle the tenders know it by.
    pub handle: u32,
    /// Its name, as bound on the command line (`--net:service=tap0`).
    pub name: &'static str,
}

/// A device that could not be set up at boot. `main` never runs; the
/// program prints this and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSetupError {
    /// The device's name.
    pub device: &'static str,
    /// What went wrong, as a sentence fragment.
    pub why: String,
}

impl fmt::Display for DeviceSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device '{}': {}", self.device, self.why)
    }
}

impl core::error::Error for DeviceSetupError {}

/// What an Oasis platform is. One crate implements it per platform.
///
/// A boot goes: the platform's entry point (made by its `entry!` macro
/// around what `#[oasis::main]` generates) calls [`Platform::boot`], which
/// gathers the boot arguments and a seed and starts the runtime; the
/// runtime first lets each declared device take its boot arguments
/// ([`Platform::take_net_args`], [`Platform::take_block_args`]) and then,
/// as the first task, opens each device ([`Platform::open_net`],
/// [`Platform::open_block`]) and calls the application's `main` with them.
pub trait Platform: Machine + Sized {
    /// What a declared net device becomes: a TCP/IP stack.
    type Net: Stack + 'static;
    /// What a declared block device becomes.
    type Block: BlockDevice + 'static;
    /// A net device's settings, taken from the boot arguments.
    type NetSetup;
    /// A block device's settings, taken from the boot arguments.
    type BlockSetup;

    /// The platform (every platform is one static value).
    fn instance() -> &'static Self;

    /// Removes the boot arguments net device `device` takes (`--ipv4 …`)
    /// from `args`, before the application sees the rest.
    fn take_net_args(device: Declared, args: &mut Vec<&'static str>) -> Result<Self::NetSetup, ArgError>;

    /// Opens a net device and starts what it becomes.
    fn open_net(&'static self, os: &Os, setup: Self::NetSetup) -> Result<Self::Net, DeviceSetupError>;

    /// Removes the boot arguments block device `device` takes from `args`.
    fn take_block_args(device: Declared, args: &mut Vec<&'static str>) -> Result<Self::BlockSetup, ArgError>;

    /// Opens a block device.
    fn open_block(&'static self, os: &Os, setup: Self::BlockSetup) -> Result<Self::Block, DeviceSetupError>;

    /// Boots: runs `main` on the runtime (`oasis_runtime::start`) with this
    /// platform's boot arguments and seed; returns the exit status.
    fn boot<S, P, F, Fut, T>(setup: S, main: F) -> u8
    where
        S: FnOnce(&mut Vec<&'static str>) -> Result<P, ArgError>,
        F: FnOnce(Os, P) -> Fut,
        Fut: Future<Output = T> + 'static,
        T: Termination;
}
