//! The device traits Oasis protocol code is written against (network and
//! block devices), in a crate of
//! their own with no dependencies (as `embassy-net-driver` does), so a
//! protocol crate depends on these and never on a platform.
//!
//! Implementations live with the platforms: `oasis-guest` (hypercalls on
//! hvt and spt) and `oasis-unix` (a TAP device, a file). Readiness is not
//! part of the traits: a device names its *handle*, and the runtime's
//! `Os::device_ready(handle)` completes when the platform reports input.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

/// A host-side device failure: the device, not the caller, is at fault,
/// and the program keeps running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceError;

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host-side device failed")
    }
}

impl core::error::Error for DeviceError {}

/// What a network device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetInfo {
    /// Its Ethernet address.
    pub mac: [u8; 6],
    /// Largest IP packet it carries; a frame is at most `mtu + 14` bytes.
    pub mtu: u16,
}

impl NetInfo {
    /// Largest Ethernet frame (no FCS).
    pub fn max_frame(&self) -> usize {
        usize::from(self.mtu) + 14
    }
}

/// An Ethernet device: one frame in, one frame out, never blocking.
pub trait NetDevice {
    /// Its MAC address and MTU.
    fn info(&self) -> NetInfo;

    /// The handle to wait on (`Os::device_ready`) when `receive` has
    /// nothing.
    fn handle(&self) -> u32;

    /// Receives one frame into `buf` (at least `max_frame` bytes); `None`
    /// when none is waiting.
    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError>;

    /// Sends one frame. `Ok(false)` when the device is busy and the frame
    /// was not sent (the caller may drop it, as a full link would).
    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError>;
}

/// What a block device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Capacity in bytes, a multiple of `block_size`.
    pub capacity: u64,
    /// Block size in bytes: a power of two, at least 512.
    pub block_size: u32,
}

/// A block device: whole blocks at block-aligned offsets. Calls complete
/// before they return (the hypercall ABI is synchronous); a write is
/// durable only once a later [`BlockDevice::flush`] has returned `Ok`.
pub trait BlockDevice {
    /// Its geometry.
    fn info(&self) -> BlockInfo;

    /// Reads `buf.len()` bytes (a multiple of the block size) at `offset`
    /// (block-aligned, `offset + buf.len()` within the capacity).
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;

    /// Writes `data` (whole blocks) at `offset` (block-aligned, within the
    /// capacity). Not durable until `flush`.
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError>;

    /// Returns once every earlier write is durable.
    fn flush(&mut self) -> Result<(), DeviceError>;
}
