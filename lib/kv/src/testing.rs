//! Test support: an in-memory block device that behaves like a disk with a
//! volatile write cache and can lose power, and a small seeded random
//! number generator. For this crate's tests, the fuzz target and other
//! crates' tests (feature `testing`); never for images.
//!
//! [`MemDevice`] keeps a *durable* image and the writes made since the last
//! flush. [`MemDevice::crash`] throws away some of those writes (a random
//! prefix, or, modelling reordering, a random subset) and can tear one
//! block (new bytes up to a random point and old ones after, or garbage),
//! then reads see only what survived. [`MemDevice::cut_power_after`] makes
//! the device fail after a number of writes, so a crash can land in the
//! middle of any operation. Misuse (unaligned or out-of-range I/O) is a
//! bug in the caller and panics.

use alloc::vec;
use alloc::vec::Vec;

pub mod workload;

use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

/// SplitMix64: small, fast, seeded, good enough for test workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// Fills `bytes` with random bytes.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for byte in bytes {
            *byte = self.next_u64() as u8;
        }
    }
}

/// What a crash keeps of the writes not yet flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// A random prefix, in order (a disk that writes in order).
    Prefix,
    /// A random subset (a disk that reorders its cache).
    Subset,
}

/// An in-memory block device with a volatile write cache.
#[derive(Clone, Debug)]
pub struct MemDevice {
    info: BlockInfo,
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Blocks written since the last flush, in order: (offset, bytes).
    pending: Vec<(u64, Vec<u8>)>,
    /// Writes and flushes left before the power goes.
    power_left: Option<u64>,
    /// Successful `write` calls.
    pub writes: u64,
    /// Successful `flush` calls.
    pub flushes: u64,
}

impl MemDevice {
    /// A zeroed device.
    pub fn new(capacity: u64, block_size: u32) -> Self {
        Self::from_image(vec![0; capacity as usize], block_size)
    }

    /// A device holding `image` (cut to whole blocks), all durable.
    pub fn from_image(mut image: Vec<u8>, block_size: u32) -> Self {
        assert!(block_size.is_power_of_two() && block_size >= 512);
        image.truncate(image.len() / block_size as usize * block_size as usize);
        let info = BlockInfo { capacity: image.len() as u64, block_size };
        MemDevice {
            info,
            durable: image.clone(),
            current: image,
            pending: Vec::new(),
            power_left: None,
            writes: 0,
            flushes: 0,
        }
    }

    /// What reads see now.
    pub fn image(&self) -> &[u8] {
        &self.current
    }

    /// What survives a crash that keeps no unflushed write.
    pub fn durable_image(&self) -> &[u8] {
        &self.durable
    }

    /// Blocks written since the last flush.
    pub fn unflushed(&self) -> usize {
        self.pending.len()
    }

    /// After `ops` more successful writes or flushes, every write and
    /// flush fails until [`MemDevice::crash`].
    pub fn cut_power_after(&mut self, ops: u64) {
        self.power_left = Some(ops);
    }

    /// Loses power: keeps some unflushed writes as `how` says, tears one
    /// block when `tear`, and comes back up with only what survived.
    pub fn crash(&mut self, rng: &mut Rng, how: Crash, tear: bool) {
        let pending = core::mem::take(&mut self.pending);
        let n = pending.len();
        let keep: Vec<bool> = match how {
            Crash::Prefix => {
                let k = rng.below(n as u64 + 1) as usize;
                (0..n).map(|i| i < k).collect()
            }
            Crash::Subset => (0..n).map(|_| rng.chance(1, 2)).collect(),
        };
        // The block to tear: the first one lost (for a prefix, the write
        // in flight), else any.
        let torn = if !tear || n == 0 {
            None
        } else if how == Crash::Prefix {
            keep.iter().position(|kept| !kept)
        } else {
            Some(rng.below(n as u64) as usize)
        };
        for (i, (offset, bytes)) in pending.iter().enumerate() {
            let at = *offset as usize;
            let dst = &mut self.durable[at..at + bytes.len()];
            if Some(i) == torn {
                if rng.chance(1, 2) {
                    let cut = rng.below(bytes.len() as u64) as usize;
                    dst[..cut].copy_from_slice(&bytes[..cut]);
                } else {
                    rng.fill(dst);
                }
            } else if keep[i] {
                dst.copy_from_slice(bytes);
            }
        }
        self.current.clone_from(&self.durable);
        self.power_left = None;
    }

    /// Flips one bit, durably (media damage).
    pub fn flip_bit(&mut self, offset: u64, bit: u8) {
        let at = offset as usize;
        self.durable[at] ^= 1 << (bit % 8);
        self.current[at] ^= 1 << (bit % 8);
    }

    fn check(&self, offset: u64, len: usize) -> usize {
        let block = u64::from(self.info.block_size);
        assert!(offset.is_multiple_of(block) && (len as u64).is_multiple_of(block), "unaligned I/O: {offset} + {len}");
        assert!(offset.checked_add(len as u64).is_some_and(|end| end <= self.info.capacity), "I/O past the end");
        offset as usize
    }

    fn spend_power(&mut self) -> Result<(), DeviceError> {
        match &mut self.power_left {
            Some(0) => Err(DeviceError::Gone),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl BlockDevice for MemDevice {
    fn info(&self) -> BlockInfo {
        self.info
    }

    async fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = self.check(offset, buf.len());
        buf.copy_from_slice(&self.current[at..at + buf.len()]);
        Ok(())
    }

    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let at = self.check(offset, data.len());
        self.spend_power()?;
        self.writes += 1;
        self.current[at..at + data.len()].copy_from_slice(data);
        let block = self.info.block_size as usize;
        for (i, chunk) in data.chunks(block).enumerate() {
            self.pending.push(((at + i * block) as u64, chunk.to_vec()));
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), DeviceError> {
        self.spend_power()?;
        self.flushes += 1;
        for (offset, bytes) in self.pending.drain(..) {
            let at = offset as usize;
            self.durable[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::block_on;

    #[test]
    fn crash_keeps_flushed_data_only() {
        let mut dev = MemDevice::new(4096, 512);
        block_on(dev.write(0, &[1; 512])).unwrap();
        block_on(dev.flush()).unwrap();
        block_on(dev.write(512, &[2; 1024])).unwrap();
        assert_eq!(dev.unflushed(), 2);
        let mut rng = Rng::new(1);
        let mut dev2 = dev.clone();
        dev2.crash(&mut rng, Crash::Prefix, false);
        assert!(dev2.image()[..512].iter().all(|&b| b == 1));
        // With power cut, writes fail.
        dev.cut_power_after(1);
        assert!(block_on(dev.write(2048, &[3; 512])).is_ok());
        assert_eq!(block_on(dev.write(2560, &[3; 512])), Err(DeviceError::Gone));
        assert_eq!(block_on(dev.flush()), Err(DeviceError::Gone));
        dev.crash(&mut rng, Crash::Subset, true);
        assert!(block_on(dev.write(2560, &[3; 512])).is_ok());
    }
}
