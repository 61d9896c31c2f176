//! The device traits Oasis protocol code is written against (network and
//! block devices), in a crate of their own (as `embassy-net-driver` does),
//! so a protocol crate depends on these and never on a platform. Its one
//! dependency is the ABI's data-only crate, for the offloaded frame format.
//!
//! Implementations live with the platforms: `oasis-platform-tender`
//! (hypercalls on hvt and spt) and `oasis-platform-unix` (a TAP device, a
//! file). Each device owns its readiness, as embassy's drivers do: a
//! network device keeps the waker of the task waiting for its input and
//! wakes it when the platform brings news; a block request is a future the
//! device completes. No handle or ready mask leaves the platform.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;
use core::task::{Context, Poll};

/// Why a device request failed. The program keeps running either way.
///
/// `Io` and `Gone` are the device's fault. `OutOfRange` and `Unaligned`
/// are the caller's: a block device that refuses such a request rather
/// than stopping the program says so with them (the tenders stop a guest
/// for this instead; the unix target and host tools refuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The host side failed the request (an I/O error there). What a failed
    /// write left on the device is unknown.
    Io,
    /// The request reaches past the end of the device.
    OutOfRange,
    /// The offset or the length is not a whole number of blocks.
    Unaligned,
    /// The device is gone (its host side closed, or its power cut): no
    /// request will succeed any more.
    Gone,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceError::Io => "I/O error on the host side",
            DeviceError::OutOfRange => "request past the end of the device",
            DeviceError::Unaligned => "request not in whole blocks at a block boundary",
            DeviceError::Gone => "the device is gone",
        })
    }
}

impl core::error::Error for DeviceError {}

/// What a network device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetInfo {
    /// Its Ethernet address.
    pub mac: [u8; 6],
    /// Largest IP packet its link carries on the wire.
    pub mtu: u16,
    /// Frames it moves are offloaded: each is an [`OffloadHeader`] and an
    /// Ethernet frame of up to 64 KiB (TCP segments the host cuts or joined).
    pub offload: bool,
}

impl NetInfo {
    /// Largest frame `receive` may return and `transmit` take: the
    /// Ethernet frame (no FCS), with its offload header when offloading.
    pub fn max_frame(&self) -> usize {
        if self.offload { OFFLOAD_MAX_FRAME } else { usize::from(self.mtu) + 14 }
    }
}

/// The largest offloaded frame: its header, Ethernet, a 64 KiB IP packet.
pub const OFFLOAD_MAX_FRAME: usize = net_offload::MAX_FRAME as usize;

/// The offloaded frame format's constants: header length, `flags` and
/// `gso_type` values.
pub use oasis_abi::net_offload;

/// What comes before each frame of an offloading device: the Linux TAP's
/// and virtio's `virtio_net_hdr` (virtio 1.2, 5.1.6), little-endian, as the
/// hypercall ABI passes it through (`oasis_abi::net_offload`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadHeader {
    /// [`net_offload::NEEDS_CSUM`], [`net_offload::DATA_VALID`].
    pub flags: u8,
    /// [`net_offload::GSO_NONE`], [`net_offload::GSO_TCPV4`],
    /// [`net_offload::GSO_TCPV6`], maybe with [`net_offload::GSO_ECN`].
    pub gso_type: u8,
    /// Bytes of headers (Ethernet, IP, TCP) before the payload.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts, from the start of the Ethernet frame.
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl OffloadHeader {
    /// Reads one from the start of `bytes`, if it is long enough.
    pub fn read(bytes: &[u8]) -> Option<OffloadHeader> {
        let b = bytes.get(..net_offload::HEADER_LEN)?;
        let word = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(OffloadHeader {
            flags: b[0],
            gso_type: b[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        })
    }

    /// Writes it to the start of `bytes`; nothing if `bytes` is too short.
    pub fn write(&self, bytes: &mut [u8]) {
        let Some(b) = bytes.get_mut(..net_offload::HEADER_LEN) else { return };
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }
}

/// An Ethernet device: one frame in, one frame out, never blocking; the
/// task that finds no frame waits with [`NetDevice::poll_receive_ready`].
pub trait NetDevice {
    /// Its MAC address and MTU.
    fn info(&self) -> NetInfo;

    /// `Ready` when [`NetDevice::receive`] may have a frame; otherwise the
    /// device keeps `cx`'s waker and wakes it once a frame may have arrived
    /// (it may wake spuriously: the caller tries `receive` again).
    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()>;

    /// Receives one frame into `buf` (at least `max_frame` bytes); `None`
    /// when none is waiting.
    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError>;

    /// Sends one frame. `Ok(false)` when the device is busy and the frame
    /// was not sent (the caller may drop it, as a full link would). A
    /// device may hold frames back to send several at once; they go out by
    /// the next [`NetDevice::flush`].
    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError>;

    /// Sends any frames held back. The stack calls it whenever it has sent
    /// all it has for now, so a device that batches never sits on a frame
    /// while its task sleeps.
    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    /// As [`NetDevice::receive`], into `buf` (`max_frame` bytes long), but
    /// a device that holds frames in buffers of its own may swap one for
    /// `buf` instead of copying: 64 KiB frames are worth not copying. The
    /// buffer left in `buf` is again `max_frame` bytes long.
    fn receive_swap(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>, DeviceError> {
        self.receive(buf)
    }

    /// As [`NetDevice::transmit`] of `frame[..len]`, but the device may keep
    /// `frame` and leave another buffer of at least `max_frame` bytes in its
    /// place instead of copying.
    fn transmit_swap(&mut self, frame: &mut Vec<u8>, len: usize) -> Result<bool, DeviceError> {
        self.transmit(&frame[..len.min(frame.len())])
    }
}

/// What a block device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Capacity in bytes, a multiple of `block_size`.
    pub capacity: u64,
    /// Block size in bytes: a power of two, at least 512.
    pub block_size: u32,
}

/// A block device: whole blocks at block-aligned offsets. A request is in
/// flight until its future completes (the device wakes the task when it
/// does); a write is durable only once a later `flush` has returned `Ok`.
/// One request at a time per device (`&mut self`).
#[allow(async_fn_in_trait)]
pub trait BlockDevice {
    /// Its geometry.
    fn info(&self) -> BlockInfo;

    /// Reads `buf.len()` bytes (a multiple of the block size) at `offset`
    /// (block-aligned, `offset + buf.len()` within the capacity).
    async fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;

    /// Writes `data` (whole blocks) at `offset` (block-aligned, within the
    /// capacity). Not durable until `flush`.
    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError>;

    /// Returns once every earlier write is durable.
    async fn flush(&mut self) -> Result<(), DeviceError>;
}
