//! What a net device's frames cross on the host: the [`Link`] trait, and
//! [`TapLink`], a TAP device. A test link that drops, duplicates and
//! reorders frames (`faults::FaultyLink`) wraps a `TapLink`, so the
//! hypercall path has one way to move a frame, whatever the link does.
//!
//! Frames move straight between guest memory (a checked `VolatileSlice`)
//! and the link: no copy on a TAP.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};

use oasis_abi::result;
use oasis_tap::Tap;
use vm_memory::{ReadVolatile, VolatileMemoryError, VolatileSlice, WriteVolatile};

use crate::faults::FaultCounts;

/// Guest memory holding one frame (vm-memory's checked view).
pub type FrameSlice<'a> = VolatileSlice<'a, ()>;

/// One network link on the host side. Every method returns at once.
pub trait Link: std::fmt::Debug {
    /// Sends the frame in `frame`; a `oasis_abi::result` code (`AGAIN`
    /// when the link is busy and the frame was not sent).
    fn send(&mut self, frame: &FrameSlice<'_>) -> u64;

    /// Receives one frame into `buf` (large enough for any); its length
    /// and a result code (`AGAIN` when none waits).
    fn receive(&mut self, buf: &mut FrameSlice<'_>) -> (u64, u64);

    /// Whether frames already wait on this side of the descriptor (held by
    /// the link itself), so a yield must not sleep.
    fn input_held(&self) -> bool {
        false
    }

    /// The guest is about to sleep: send anything held back.
    fn before_sleep(&mut self) {}

    /// The descriptor that becomes readable when frames arrive.
    fn fd(&self) -> RawFd;

    /// What injected faults did, for a faulty link.
    fn fault_counts(&self) -> Option<FaultCounts> {
        None
    }
}

/// A TAP device.
#[derive(Debug)]
pub struct TapLink {
    tap: Tap,
}

impl TapLink {
    /// The link of an open TAP.
    pub fn new(tap: Tap) -> TapLink {
        TapLink { tap }
    }

    /// The TAP's file.
    pub fn file(&self) -> &File {
        self.tap.file()
    }

    /// The TAP itself.
    pub fn tap(&self) -> &Tap {
        &self.tap
    }

    /// Sends bytes the host holds (a frame a faulty link let through). A
    /// full TAP queue drops the frame, as a congested link would.
    pub fn send_bytes(&self, frame: &[u8]) {
        let _ = std::io::Write::write(&mut self.tap.file(), frame);
    }

    /// Reads one frame into `buf`; `None` when none waits or reading fails.
    pub fn receive_bytes(&self, buf: &mut [u8]) -> Option<usize> {
        std::io::Read::read(&mut self.tap.file(), buf).ok()
    }
}

impl Link for TapLink {
    fn send(&mut self, frame: &FrameSlice<'_>) -> u64 {
        match self.tap.file().write_volatile(frame) {
            Ok(_) => result::OK,
            Err(VolatileMemoryError::IOError(e)) if e.kind() == std::io::ErrorKind::WouldBlock => result::AGAIN,
            // The kernel refused this frame (a malformed offload header):
            // dropped, as a NIC drops a bad frame; the device still works.
            Err(VolatileMemoryError::IOError(e)) if e.raw_os_error() == Some(libc::EINVAL) => result::OK,
            Err(_) => result::IO_ERROR,
        }
    }

    fn receive(&mut self, buf: &mut FrameSlice<'_>) -> (u64, u64) {
        match self.tap.file().read_volatile(buf) {
            Ok(n) => (n as u64, result::OK),
            Err(VolatileMemoryError::IOError(e)) if e.kind() == std::io::ErrorKind::WouldBlock => (0, result::AGAIN),
            Err(_) => (0, result::IO_ERROR),
        }
    }

    fn fd(&self) -> RawFd {
        self.tap.file().as_raw_fd()
    }
}
