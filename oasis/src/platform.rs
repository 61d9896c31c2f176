//! The one place the platform is chosen: the tender platform for images
//! (`target_os = "none"`, run by hvt and spt), the unix platform for host
//! programs. Everything else in the project reaches the platform through
//! [`Target`] and the `oasis_platform::Platform` trait.

#[cfg(target_os = "none")]
pub use oasis_platform_tender::{Guest as Target, entry};

#[cfg(not(target_os = "none"))]
pub use oasis_platform_unix::{Unix as Target, entry};

use alloc::vec::Vec;
use core::future::Future;

use oasis_platform::{ArgError, Declared, DeviceSetupError, Os, Platform, Termination};

/// What a declared net device becomes on this target.
pub type NetStack = <Target as Platform>::Net;

/// What a declared block device becomes on this target.
pub type Block = <Target as Platform>::Block;

/// `Platform::take_net_args` of this target.
pub fn take_net_args(
    args: &mut Vec<&'static str>,
    handle: u32,
    name: &'static str,
) -> Result<<Target as Platform>::NetSetup, ArgError> {
    Target::take_net_args(Declared { handle, name }, args)
}

/// `Platform::open_net` of this target.
pub fn open_net(os: &Os, setup: <Target as Platform>::NetSetup) -> Result<NetStack, DeviceSetupError> {
    Target::instance().open_net(os, setup)
}

/// `Platform::take_block_args` of this target.
pub fn take_block_args(
    args: &mut Vec<&'static str>,
    handle: u32,
    name: &'static str,
) -> Result<<Target as Platform>::BlockSetup, ArgError> {
    Target::take_block_args(Declared { handle, name }, args)
}

/// `Platform::open_block` of this target.
pub fn open_block(os: &Os, setup: <Target as Platform>::BlockSetup) -> Result<Block, DeviceSetupError> {
    Target::instance().open_block(os, setup)
}

/// `Platform::boot` of this target.
pub fn boot<S, P, F, Fut, T>(setup: S, main: F) -> u8
where
    S: FnOnce(&mut Vec<&'static str>) -> Result<P, ArgError>,
    F: FnOnce(Os, P) -> Fut,
    Fut: Future<Output = T> + 'static,
    T: Termination,
{
    Target::boot(setup, main)
}
