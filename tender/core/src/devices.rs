//! Host resources behind declared devices: a TAP device for each network
//! device. Opened before the sandbox; the sandbox then allows reads and
//! writes on exactly these descriptors.

use std::fs::File;
use std::os::fd::AsRawFd;

use oasis_abi::DeviceKind;
use oasis_tap::{Tap, TapError};

use crate::config::Binding;
use crate::seccomp::Policy;

/// A network device: a TAP, and the MAC and MTU the guest is told.
#[derive(Debug)]
pub struct NetBackend {
    tap: Tap,
    /// The guest's MAC address.
    pub mac: [u8; 6],
    /// The MTU.
    pub mtu: u16,
}

impl NetBackend {
    /// The TAP's file.
    pub fn file(&self) -> &File {
        self.tap.file()
    }

    /// Largest frame: MTU plus the Ethernet header.
    pub fn max_frame(&self) -> u64 {
        u64::from(self.mtu) + 14
    }
}

/// The host side of one declared device, in handle order.
#[derive(Debug)]
pub enum Backend {
    /// A network device.
    Net(NetBackend),
}

impl Backend {
    /// Its kind.
    pub fn kind(&self) -> DeviceKind {
        match self {
            Backend::Net(_) => DeviceKind::Net,
        }
    }

    /// The descriptor to poll for input, if the device has input.
    pub fn poll_fd(&self) -> Option<i32> {
        match self {
            Backend::Net(n) => Some(n.file().as_raw_fd()),
        }
    }
}

/// Why a device could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DeviceSetupError {
    /// The TAP could not be used.
    #[error("--net:{name}={tap}: {source}")]
    Tap {
        /// The device.
        name: String,
        /// The TAP asked for.
        tap: String,
        /// Why not.
        source: TapError,
    },
    /// A kind this tender does not serve yet.
    #[error("--{kind}:{name}: {kind} devices are not supported yet")]
    Unsupported {
        /// The kind.
        kind: &'static str,
        /// The device.
        name: String,
    },
}

/// Opens the host resource of every binding (in handle order). `macs`
/// overrides the MAC of named network devices; others get one derived
/// from the device and TAP names.
pub fn open(bound: &[Binding], macs: &[(String, [u8; 6])]) -> Result<Vec<Backend>, DeviceSetupError> {
    bound
        .iter()
        .map(|b| match b.kind {
            DeviceKind::Net => {
                let tap = Tap::open(&b.value).map_err(|source| DeviceSetupError::Tap {
                    name: b.name.clone(),
                    tap: b.value.clone(),
                    source,
                })?;
                let mac = macs
                    .iter()
                    .find(|(n, _)| *n == b.name)
                    .map(|(_, m)| *m)
                    .unwrap_or_else(|| oasis_tap::derived_mac(&format!("{}@{}", b.name, b.value)));
                let mtu = tap.mtu();
                Ok(Backend::Net(NetBackend { tap, mac, mtu }))
            }
            DeviceKind::Block => Err(DeviceSetupError::Unsupported { kind: "block", name: b.name.clone() }),
        })
        .collect()
}

/// The sandbox rules the devices need.
pub fn allow(policy: Policy, backends: &[Backend]) -> Policy {
    backends.iter().fold(policy, |p, b| match b {
        Backend::Net(n) => {
            let fd = n.file().as_raw_fd() as u64;
            p.allow_pinned(libc::SYS_read, "read", 0, fd, "net-read: one frame from the TAP").allow_pinned(
                libc::SYS_write,
                "write",
                0,
                fd,
                "net-write: one frame to the TAP",
            )
        }
    })
}
