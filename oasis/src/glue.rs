//! Turning declared devices into what `main` receives, per target.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use oasis_net::NetConfig;
use oasis_runtime::{ArgError, Os};

use crate::net::NetStack;

/// A device that could not be set up at boot.
#[derive(Debug)]
pub struct DeviceSetupError {
    name: &'static str,
    why: String,
}

impl fmt::Display for DeviceSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device '{}': {}", self.name, self.why)
    }
}

/// A declared network device, from boot arguments to a running stack.
#[derive(Debug)]
pub struct NetSetup {
    handle: u32,
    #[cfg_attr(target_os = "none", allow(dead_code))]
    name: &'static str,
    config: NetConfig,
    #[cfg(all(not(target_os = "none"), feature = "unix-tap"))]
    tap: Option<&'static str>,
    #[cfg(all(not(target_os = "none"), feature = "unix-tap"))]
    mac: Option<[u8; 6]>,
}

impl NetSetup {
    /// Takes this device's boot arguments (`--ipv4 …`; on unix with a TAP,
    /// also `--net:NAME=TAP` and `--net-mac:NAME=MAC`).
    pub fn take(args: &mut Vec<&'static str>, handle: u32, name: &'static str) -> Result<NetSetup, ArgError> {
        let config = NetConfig::take_from_args(args)?;
        #[cfg(all(not(target_os = "none"), feature = "unix-tap"))]
        {
            let tap = take_binding(args, "--net:", name);
            let mac = match take_binding(args, "--net-mac:", name) {
                None => None,
                Some(v) => Some(oasis_tap_parse_mac(v)?),
            };
            return Ok(NetSetup { handle, name, config, tap, mac });
        }
        #[cfg(not(all(not(target_os = "none"), feature = "unix-tap")))]
        Ok(NetSetup { handle, name, config })
    }

    /// Starts the device's stack.
    pub fn start(self, os: &Os) -> Result<NetStack, DeviceSetupError> {
        #[cfg(target_os = "none")]
        {
            let device = oasis_platform_tender::net::GuestNet::open(self.handle);
            Ok(oasis_net::SmolStack::new(os, device, self.config))
        }
        #[cfg(all(not(target_os = "none"), not(feature = "unix-tap")))]
        {
            let _ = (os, self.handle);
            if self.config != NetConfig::default() {
                log::warn!(
                    "net '{}': the host-socket stack uses the host's addresses; network options are ignored",
                    self.name
                );
            }
            Ok(oasis_platform_unix::net::HostStack)
        }
        #[cfg(all(not(target_os = "none"), feature = "unix-tap"))]
        {
            let Some(tap) = self.tap else {
                return Err(DeviceSetupError {
                    name: self.name,
                    why: alloc::format!("bind it to a TAP device: --net:{}=TAP", self.name),
                });
            };
            let device = oasis_platform_unix::net::TapNet::open(tap, self.name, self.handle, self.mac)
                .map_err(|e| DeviceSetupError { name: self.name, why: alloc::format!("{e}") })?;
            Ok(oasis_net::SmolStack::new(os, device, self.config))
        }
    }
}

#[cfg(all(not(target_os = "none"), feature = "unix-tap"))]
fn oasis_tap_parse_mac(v: &'static str) -> Result<[u8; 6], ArgError> {
    oasis_platform_unix::net::parse_mac(v).map_err(|reason| ArgError::Invalid {
        name: "--net-mac",
        value: v.into(),
        reason,
    })
}

/// A declared block device, from boot arguments to an open device.
#[derive(Debug)]
pub struct BlockSetup {
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    handle: u32,
    #[cfg_attr(target_os = "none", allow(dead_code))]
    name: &'static str,
    #[cfg(not(target_os = "none"))]
    file: Option<&'static str>,
}

impl BlockSetup {
    /// Takes this device's boot arguments (on unix: `--block:NAME=FILE`).
    pub fn take(args: &mut Vec<&'static str>, handle: u32, name: &'static str) -> Result<BlockSetup, ArgError> {
        #[cfg(not(target_os = "none"))]
        {
            let file = take_binding(args, "--block:", name);
            Ok(BlockSetup { handle, name, file })
        }
        #[cfg(target_os = "none")]
        {
            let _ = args;
            Ok(BlockSetup { handle, name })
        }
    }

    /// Opens the device.
    pub fn start(self, _os: &Os) -> Result<crate::block::Block, DeviceSetupError> {
        #[cfg(target_os = "none")]
        {
            Ok(oasis_platform_tender::block::GuestBlock::open(self.handle))
        }
        #[cfg(not(target_os = "none"))]
        {
            let Some(file) = self.file else {
                return Err(DeviceSetupError {
                    name: self.name,
                    why: alloc::format!("bind it to a file: --block:{}=FILE", self.name),
                });
            };
            oasis_platform_unix::block::FileBlock::open(file)
                .map_err(|why| DeviceSetupError { name: self.name, why: alloc::format!("{file}: {why}") })
        }
    }
}

/// Removes `PREFIX NAME=VALUE` from `args` and returns the value.
#[cfg(not(target_os = "none"))]
fn take_binding(args: &mut Vec<&'static str>, prefix: &str, name: &str) -> Option<&'static str> {
    let at = args
        .iter()
        .position(|a| a.strip_prefix(prefix).and_then(|r| r.strip_prefix(name)).is_some_and(|r| r.starts_with('=')))?;
    let arg = args.remove(at);
    arg.split_once('=').map(|(_, v)| v)
}
