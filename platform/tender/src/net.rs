//! Network devices through the `NET_*` hypercalls, in batches.
//!
//! Frames move in batches of up to [`BATCH`] per hypercall: sent frames
//! wait in a per-device queue that is written with one `NET_WRITE_BATCH`
//! when it fills or before the guest yields; received frames are read with
//! one `NET_READ_BATCH`, and after a short batch no call is made until a
//! yield reports the device ready again. Under load that is a few exits per
//! batch instead of one or two per frame, which is what counts on hvt.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use oasis_abi::{NetBatch, NetFrame, NetInfo as NetInfoArgs, op, result};
use oasis_devices::{DeviceError, NetDevice, NetInfo};

use crate::hypercall;

/// Frames per batch call.
pub const BATCH: usize = 32;

/// Frames per batch on an offloading device, whose buffers are 64 KiB
/// each: 1 MiB for receiving and 1 MiB for sending, rather than 2 each.
pub const OFFLOAD_BATCH: usize = 16;

/// Devices that may have frames waiting: set by yield's ready set, cleared
/// by a short read batch. All set at boot, so the first read asks.
static RX_MAYBE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Frames queued for sending, per device.
struct TxQueue {
    handle: u32,
    frames: Vec<Vec<u8>>,
    lens: Vec<usize>,
    table: Vec<NetFrame>,
}

static TX: spin::Mutex<Vec<TxQueue>> = spin::Mutex::new(Vec::new());

fn flush_queue(q: &mut TxQueue) {
    let n = q.lens.len();
    if n == 0 {
        return;
    }
    for (i, d) in q.table.iter_mut().enumerate().take(n) {
        *d = NetFrame { data: q.frames[i].as_ptr().addr() as u64, len: q.lens[i] as u64 };
    }
    let mut arg = NetBatch {
        handle: u64::from(q.handle),
        frames: q.table.as_ptr().addr() as u64,
        count: n as u64,
        ..Default::default()
    };
    hypercall::call::<op::NetWriteBatch>(&mut arg);
    // Frames the device was too busy to take are dropped, as a full link
    // would drop them; TCP retransmits.
    q.lens.clear();
}

/// Sends every queued frame; called before the guest yields.
pub(crate) fn flush_all() {
    if let Some(mut queues) = TX.try_lock() {
        for q in queues.iter_mut() {
            flush_queue(q);
        }
    }
}

/// Notes devices a yield reported ready.
pub(crate) fn note_ready(ready: u64) {
    RX_MAYBE.fetch_or(ready, Ordering::Relaxed);
}

/// A declared network device.
#[derive(Debug)]
pub struct GuestNet {
    handle: u32,
    info: NetInfo,
    rx: Vec<Vec<u8>>,
    table: Vec<NetFrame>,
    rx_count: usize,
    rx_next: usize,
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
        let frame = info.max_frame();
        TX.lock().push(TxQueue {
            handle,
            // Buffers are swapped in as frames are sent (64 KiB each when
            // offloading, so fewer of them).
            frames: (0..if info.offload { OFFLOAD_BATCH } else { BATCH }).map(|_| Vec::new()).collect(),
            lens: Vec::with_capacity(BATCH),
            table: vec![NetFrame::default(); BATCH],
        });
        GuestNet {
            handle,
            info,
            rx: (0..if info.offload { OFFLOAD_BATCH } else { BATCH }).map(|_| vec![0; frame]).collect(),
            table: vec![NetFrame::default(); BATCH],
            rx_count: 0,
            rx_next: 0,
        }
    }

    fn read_batch(&mut self) -> Result<(), DeviceError> {
        for (d, buf) in self.table.iter_mut().zip(&mut self.rx) {
            *d = NetFrame { data: buf.as_mut_ptr().addr() as u64, len: buf.len() as u64 };
        }
        let mut arg = NetBatch {
            handle: u64::from(self.handle),
            frames: self.table.as_mut_ptr().addr() as u64,
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
            RX_MAYBE.fetch_and(!(1u64 << (self.handle % 64)), Ordering::Relaxed);
        }
        Ok(())
    }
}

impl NetDevice for GuestNet {
    fn info(&self) -> NetInfo {
        self.info
    }

    fn handle(&self) -> u32 {
        self.handle
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        let Some(i) = self.next_received()? else { return Ok(None) };
        let len = (self.table[i].len as usize).min(self.rx[i].len()).min(buf.len());
        buf[..len].copy_from_slice(&self.rx[i][..len]);
        Ok(Some(len))
    }

    fn receive_swap(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>, DeviceError> {
        let Some(i) = self.next_received()? else { return Ok(None) };
        let len = (self.table[i].len as usize).min(self.rx[i].len());
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
}

impl GuestNet {
    /// The index of the next received frame, reading a batch when none is
    /// left and the device may have some.
    fn next_received(&mut self) -> Result<Option<usize>, DeviceError> {
        if self.rx_next == self.rx_count {
            if RX_MAYBE.load(Ordering::Relaxed) & (1 << (self.handle % 64)) == 0 {
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
        let mut queues = TX.lock();
        let Some(q) = queues.iter_mut().find(|q| q.handle == self.handle) else { return Err(DeviceError::Gone) };
        let i = q.lens.len();
        let len = fill(&mut q.frames[i]);
        q.lens.push(len);
        if q.lens.len() == q.frames.len() {
            flush_queue(q);
        }
        Ok(true)
    }
}
