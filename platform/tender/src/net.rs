//! Network devices through the `NET_*` hypercalls, in batches.
//!
//! Frames move in batches of up to [`BATCH`] per hypercall: sent frames
//! wait in the device's queue, written with one `NET_WRITE_BATCH` when it
//! fills or when the stack flushes it before sleeping; received frames are
//! read with one `NET_READ_BATCH`, and after a short batch no call is made
//! until a yield reports the device ready again. Under load that is a few
//! exits per batch instead of one or two per frame, which is what counts
//! on hvt.

use alloc::vec;
use alloc::vec::Vec;
use core::task::{Context, Poll};

use oasis_abi::{NetBatch, NetFrame, NetInfo as NetInfoArgs, op, result};
use oasis_devices::{DeviceError, NetDevice, NetInfo};

use crate::hypercall;
use crate::news::{self, News};

/// Frames per batch call.
pub const BATCH: usize = 32;

/// Frames per batch on an offloading device, whose buffers are 64 KiB
/// each: 1 MiB for receiving and 1 MiB for sending, rather than 2 each.
pub const OFFLOAD_BATCH: usize = 16;

/// Frames waiting to be sent in one batch.
#[derive(Debug)]
struct SendQueue {
    /// Buffers, swapped in as frames are queued (64 KiB each when
    /// offloading, so fewer of them).
    frames: Vec<Vec<u8>>,
    lens: Vec<usize>,
    table: Vec<NetFrame>,
}

/// A declared network device.
#[derive(Debug)]
pub struct GuestNet {
    handle: u32,
    info: NetInfo,
    news: &'static News,
    rx: Vec<Vec<u8>>,
    rx_table: Vec<NetFrame>,
    rx_count: usize,
    rx_next: usize,
    tx: SendQueue,
}

impl GuestNet {
    /// The device with manifest handle `handle`. The tender stops a guest
    /// that names a handle it did not declare.
    pub fn open(handle: u32) -> GuestNet {
        let mut arg = NetInfoArgs { handle: u64::from(handle), ..Default::default() };
        hypercall::call::<op::NetInfo>(&mut arg);
        let m = arg.mac;
        let info = NetInfo {
            mac: [m[0], m[1], m[2], m[3], m[4], m[5]],
            mtu: arg.mtu.min(65535) as u16,
            offload: arg.offload == 1,
        };
        let slots = if info.offload { OFFLOAD_BATCH } else { BATCH };
        GuestNet {
            handle,
            info,
            news: news::of(handle),
            rx: (0..slots).map(|_| vec![0; info.max_frame()]).collect(),
            rx_table: vec![NetFrame::default(); slots],
            rx_count: 0,
            rx_next: 0,
            tx: SendQueue {
                frames: (0..slots).map(|_| Vec::new()).collect(),
                lens: Vec::with_capacity(slots),
                table: vec![NetFrame::default(); slots],
            },
        }
    }

    fn read_batch(&mut self) -> Result<(), DeviceError> {
        for (d, buf) in self.rx_table.iter_mut().zip(&mut self.rx) {
            *d = NetFrame { data: buf.as_mut_ptr().addr() as u64, len: buf.len() as u64 };
        }
        let mut arg = NetBatch {
            handle: u64::from(self.handle),
            frames: self.rx_table.as_mut_ptr().addr() as u64,
            count: self.rx.len() as u64,
            ..Default::default()
        };
        hypercall::call::<op::NetReadBatch>(&mut arg);
        if arg.result == result::IO_ERROR {
            return Err(DeviceError::Io);
        }
        self.rx_count = (arg.out_count as usize).min(self.rx.len());
        self.rx_next = 0;
        if self.rx_count < self.rx.len() {
            self.news.drained();
        }
        Ok(())
    }

    /// The index of the next received frame, reading a batch when none is
    /// left and the device may have some.
    fn next_received(&mut self) -> Result<Option<usize>, DeviceError> {
        if self.rx_next == self.rx_count {
            if !self.news.input() {
                return Ok(None);
            }
            self.read_batch()?;
            if self.rx_count == 0 {
                return Ok(None);
            }
        }
        let i = self.rx_next;
        self.rx_next += 1;
        Ok(Some(i))
    }

    /// Puts a frame in the next send slot (`fill` stores it and says its
    /// length), sending the queue when it is full.
    fn queue(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> usize) -> Result<bool, DeviceError> {
        let i = self.tx.lens.len();
        let len = fill(&mut self.tx.frames[i]);
        self.tx.lens.push(len);
        if self.tx.lens.len() == self.tx.frames.len() {
            self.send_queued();
        }
        Ok(true)
    }

    fn send_queued(&mut self) {
        let q = &mut self.tx;
        let n = q.lens.len();
        if n == 0 {
            return;
        }
        for (i, d) in q.table.iter_mut().enumerate().take(n) {
            *d = NetFrame { data: q.frames[i].as_ptr().addr() as u64, len: q.lens[i] as u64 };
        }
        let mut arg = NetBatch {
            handle: u64::from(self.handle),
            frames: q.table.as_ptr().addr() as u64,
            count: n as u64,
            ..Default::default()
        };
        hypercall::call::<op::NetWriteBatch>(&mut arg);
        // Frames the device was too busy to take are dropped, as a full link
        // would drop them; TCP retransmits.
        q.lens.clear();
    }
}

impl NetDevice for GuestNet {
    fn info(&self) -> NetInfo {
        self.info
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.rx_next < self.rx_count || self.news.input() {
            return Poll::Ready(());
        }
        self.news.wait(cx.waker());
        Poll::Pending
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        let Some(i) = self.next_received()? else { return Ok(None) };
        let len = (self.rx_table[i].len as usize).min(self.rx[i].len()).min(buf.len());
        buf[..len].copy_from_slice(&self.rx[i][..len]);
        Ok(Some(len))
    }

    fn receive_swap(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>, DeviceError> {
        let Some(i) = self.next_received()? else { return Ok(None) };
        let len = (self.rx_table[i].len as usize).min(self.rx[i].len());
        if buf.len() == self.rx[i].len() {
            // The next read batch fills the buffer given in exchange.
            core::mem::swap(buf, &mut self.rx[i]);
        } else {
            let len = len.min(buf.len());
            buf[..len].copy_from_slice(&self.rx[i][..len]);
        }
        Ok(Some(len.min(buf.len())))
    }

    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError> {
        let len = frame.len().min(self.info.max_frame());
        self.queue(|slot| {
            slot.clear();
            slot.extend_from_slice(&frame[..len]);
            len
        })
    }

    fn transmit_swap(&mut self, frame: &mut Vec<u8>, len: usize) -> Result<bool, DeviceError> {
        let max = self.info.max_frame();
        let len = len.min(max).min(frame.len());
        self.queue(|slot| {
            // The slot's buffer goes back to the caller, at full size
            // (grown once, the first time round).
            if slot.len() < max {
                slot.resize(max, 0);
            }
            core::mem::swap(slot, frame);
            len
        })
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.send_queued();
        Ok(())
    }
}
