//! The superblock: what the store is (magic, format version, geometry,
//! limits, store id) and where its log starts (the tail), kept in two
//! copies in blocks 0 and 1.
//!
//! An update writes copy 0, flushes, writes copy 1, flushes. A torn write
//! can damage at most the copy being written, and the other then still
//! holds either the old or the new state; both are safe to use because log
//! space freed by an update is reused only once *both* copies say so.
//! Opening picks the valid copy with the highest generation.

use alloc::vec;

use oasis_devices::{BlockDevice, BlockInfo};

use super::format::{
    FORMAT_VERSION, KEY_LEN_LIMIT, MAX_BLOCK_SIZE, MIN_LOG_BLOCKS, POS_LIMIT, SB_LEN, SB_MAGIC, SUPERBLOCK_BLOCKS, put,
    u32_at, u64_at,
};
use super::limits;
use crate::error::KvError;

/// A decoded, self-consistent superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub block_size: u32,
    /// The newest session (open for writing); records never carry more.
    pub epoch: u32,
    /// Device bytes the store uses.
    pub capacity: u64,
    pub store_id: u64,
    /// Bumped by every update; the newer copy wins.
    pub generation: u64,
    pub log_blocks: u64,
    /// Where the log starts: a record boundary, its sequence number and
    /// the least epoch of the records from there.
    pub tail_pos: u64,
    pub tail_seq: u64,
    pub tail_epoch: u32,
    pub max_key_len: u32,
    pub max_value_len: u32,
    pub max_record_len: u32,
    /// Log position up to which everything was durable at this update.
    pub flushed_through: u64,
}

/// Why one superblock copy was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SbFault {
    /// Not a superblock at all.
    NoMagic,
    /// A superblock of a newer format.
    Version(u32),
    /// A superblock, but damaged or inconsistent.
    Invalid(&'static str),
}

impl Superblock {
    pub(crate) fn log_bytes(&self) -> u64 {
        self.log_blocks * u64::from(self.block_size)
    }

    pub(crate) fn encode(&self, slot: u32) -> vec::Vec<u8> {
        let mut b = vec![0; self.block_size as usize];
        put(&mut b, 0, &SB_MAGIC);
        put(&mut b, 8, &FORMAT_VERSION.to_le_bytes());
        put(&mut b, 12, &slot.to_le_bytes());
        put(&mut b, 16, &self.block_size.to_le_bytes());
        put(&mut b, 20, &self.epoch.to_le_bytes());
        put(&mut b, 24, &self.capacity.to_le_bytes());
        put(&mut b, 32, &self.store_id.to_le_bytes());
        put(&mut b, 40, &self.generation.to_le_bytes());
        put(&mut b, 48, &self.log_blocks.to_le_bytes());
        put(&mut b, 56, &self.tail_pos.to_le_bytes());
        put(&mut b, 64, &self.tail_seq.to_le_bytes());
        put(&mut b, 72, &self.tail_epoch.to_le_bytes());
        put(&mut b, 76, &self.max_key_len.to_le_bytes());
        put(&mut b, 80, &self.max_value_len.to_le_bytes());
        put(&mut b, 84, &self.max_record_len.to_le_bytes());
        put(&mut b, 88, &self.flushed_through.to_le_bytes());
        let crc = crc32fast::hash(&b[..SB_LEN - 4]);
        put(&mut b, SB_LEN - 4, &crc.to_le_bytes());
        b
    }

    /// Decodes the copy read from `slot`, checking everything that does
    /// not depend on the device.
    pub(crate) fn decode(b: &[u8], slot: u32) -> Result<Self, SbFault> {
        let Some(b) = b.get(..SB_LEN) else { return Err(SbFault::NoMagic) };
        if b[..8] != SB_MAGIC {
            return Err(SbFault::NoMagic);
        }
        // The version is read before the checksum: a newer format may
        // checksum differently, and saying "too new" is the useful answer.
        let version = u32_at(b, 8);
        if version > FORMAT_VERSION {
            return Err(SbFault::Version(version));
        }
        if !super::format::crc_matches(u32_at(b, SB_LEN - 4), crc32fast::hash(&b[..SB_LEN - 4])) {
            return Err(SbFault::Invalid("superblock checksum mismatch"));
        }
        if version != FORMAT_VERSION {
            return Err(SbFault::Invalid("unknown format version"));
        }
        if u32_at(b, 12) != slot {
            return Err(SbFault::Invalid("superblock copy in the wrong block"));
        }
        if b[96..SB_LEN - 4].iter().any(|&byte| byte != 0) {
            return Err(SbFault::Invalid("reserved superblock bytes are not zero"));
        }
        let sb = Superblock {
            block_size: u32_at(b, 16),
            epoch: u32_at(b, 20),
            capacity: u64_at(b, 24),
            store_id: u64_at(b, 32),
            generation: u64_at(b, 40),
            log_blocks: u64_at(b, 48),
            tail_pos: u64_at(b, 56),
            tail_seq: u64_at(b, 64),
            tail_epoch: u32_at(b, 72),
            max_key_len: u32_at(b, 76),
            max_value_len: u32_at(b, 80),
            max_record_len: u32_at(b, 84),
            flushed_through: u64_at(b, 88),
        };
        sb.check().map_err(SbFault::Invalid)?;
        Ok(sb)
    }

    /// The invariants every superblock keeps (also checked before one is
    /// written).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let block = u64::from(self.block_size);
        if !limits::block_size_ok(self.block_size) {
            return Err("bad block size");
        }
        if self.log_blocks < MIN_LOG_BLOCKS || self.log_blocks > POS_LIMIT / block / 4 {
            return Err("bad log size");
        }
        if self.capacity != (self.log_blocks + SUPERBLOCK_BLOCKS) * block {
            return Err("capacity does not match the log size");
        }
        if !(1..=KEY_LEN_LIMIT).contains(&self.max_key_len) || self.max_value_len == 0 {
            return Err("bad key or value limit");
        }
        let min_record = limits::single_record_len(self.max_key_len, self.max_value_len);
        let record = u64::from(self.max_record_len);
        let ceiling = limits::record_ceiling(self.log_blocks, self.block_size);
        if record < min_record || record > ceiling || !record.is_multiple_of(8) {
            return Err("bad record limit");
        }
        if !self.tail_pos.is_multiple_of(8) || self.tail_pos >= POS_LIMIT / 2 || self.tail_seq >= POS_LIMIT / 2 {
            return Err("bad log tail");
        }
        if self.tail_epoch > self.epoch {
            return Err("tail epoch newer than the store's");
        }
        if self.flushed_through < self.tail_pos || self.flushed_through - self.tail_pos > self.log_bytes() {
            return Err("bad durable position");
        }
        Ok(())
    }

    /// Checks the superblock against the device it was read from.
    pub(crate) fn fits(&self, info: BlockInfo) -> Result<(), KvError> {
        if self.block_size != info.block_size {
            return Err(KvError::Geometry("the device's block size differs from the store's"));
        }
        if self.capacity > info.capacity {
            return Err(KvError::Geometry("the device is smaller than the store"));
        }
        Ok(())
    }
}

/// Both copies as read, the chosen one first.
pub(crate) struct SuperblockRead {
    pub chosen: Superblock,
    pub copies: [Result<Superblock, SbFault>; 2],
}

/// Reads both copies and picks the newest valid one, or says why none is.
pub(crate) async fn read<D: BlockDevice>(dev: &mut D) -> Result<SuperblockRead, KvError> {
    let info = dev.info();
    let block = u64::from(info.block_size);
    if info.block_size < 512 || info.block_size > MAX_BLOCK_SIZE || info.capacity < SUPERBLOCK_BLOCKS * block {
        return Err(KvError::NotAStore);
    }
    let mut buf = vec![0; info.block_size as usize];
    let mut copies = [Err(SbFault::NoMagic), Err(SbFault::NoMagic)];
    for (slot, copy) in copies.iter_mut().enumerate() {
        dev.read(slot as u64 * block, &mut buf).await?;
        *copy = Superblock::decode(&buf, slot as u32);
    }
    let newest = copies.iter().filter_map(|copy| copy.as_ref().ok()).max_by_key(|sb| sb.generation).copied();
    if let Some(chosen) = newest {
        chosen.fits(info)?;
        return Ok(SuperblockRead { chosen, copies });
    }
    for copy in &copies {
        if let Err(SbFault::Version(found)) = copy {
            return Err(KvError::UnsupportedVersion { found: *found, supported: FORMAT_VERSION });
        }
    }
    for copy in &copies {
        if let Err(SbFault::Invalid(reason)) = copy {
            return Err(KvError::corrupt(0, reason));
        }
    }
    Err(KvError::NotAStore)
}

/// Writes `sb` to both copies, flushing after each (see the module doc).
pub(crate) async fn write<D: BlockDevice>(dev: &mut D, sb: &Superblock) -> Result<(), KvError> {
    // Only reachable from a hostile image with extreme values (or a bug):
    // refuse rather than write a superblock that would not read back.
    sb.check().map_err(|reason| KvError::corrupt(0, reason))?;
    for slot in 0..2u32 {
        dev.write(u64::from(slot) * u64::from(sb.block_size), &sb.encode(slot)).await?;
        dev.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Superblock {
        Superblock {
            block_size: 512,
            epoch: 3,
            capacity: 66 * 512,
            store_id: 42,
            generation: 5,
            log_blocks: 64,
            tail_pos: 1024,
            tail_seq: 17,
            tail_epoch: 2,
            max_key_len: 64,
            max_value_len: 2048,
            max_record_len: 4096,
            flushed_through: 2048,
        }
    }

    #[test]
    fn round_trip() {
        let sb = sample();
        assert_eq!(Superblock::decode(&sb.encode(1), 1), Ok(sb));
        assert_eq!(Superblock::decode(&sb.encode(1), 0), Err(SbFault::Invalid("superblock copy in the wrong block")));
    }

    #[test]
    fn rejects_damage_and_newer_versions() {
        let bytes = sample().encode(0);
        for bit in 0..SB_LEN * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(Superblock::decode(&damaged, 0).is_err(), "bit {bit}");
        }
        let mut newer = bytes.clone();
        put(&mut newer, 8, &2u32.to_le_bytes());
        assert_eq!(Superblock::decode(&newer, 0), Err(SbFault::Version(2)));
        assert_eq!(Superblock::decode(&[0; 512], 0), Err(SbFault::NoMagic));
        assert_eq!(Superblock::decode(&bytes[..100], 0), Err(SbFault::NoMagic));
    }

    #[test]
    fn invariants() {
        let mut sb = sample();
        sb.max_record_len = 64 * 512 / 8 + 8;
        assert!(sb.check().is_err());
        let mut sb = sample();
        sb.flushed_through = 0;
        assert!(sb.check().is_err());
        let mut sb = sample();
        sb.capacity += 512;
        assert!(sb.check().is_err());
    }
}
