//! The sizes the format implies (`docs/kv-format.md`, "Geometry" and
//! "Limits and costs"): how much of a device is log, the largest record a
//! log allows, what one key and value take. `format` checks its options
//! with these, and tools that plan a store before they make one (`oasis kv
//! format` choosing a value limit that fits) ask here instead of working
//! the format out again.

use super::format::{HDR, OP_HDR, align8};
pub use super::format::{KEY_LEN_LIMIT, MAX_BLOCK_SIZE, MIN_LOG_BLOCKS, SUPERBLOCK_BLOCKS};

/// The value limit [`FormatOptions::new`](super::FormatOptions::new)
/// picks: 1 MiB.
pub const DEFAULT_MAX_VALUE_LEN: u32 = 1 << 20;

/// Whether a store can use blocks of `block_size` bytes: a power of two
/// from 512 to [`MAX_BLOCK_SIZE`].
pub fn block_size_ok(block_size: u32) -> bool {
    block_size.is_power_of_two() && (512..=MAX_BLOCK_SIZE).contains(&block_size)
}

/// Blocks of log on a device of `capacity` bytes: every whole block after
/// the superblocks. A store needs at least [`MIN_LOG_BLOCKS`].
pub fn log_blocks(capacity: u64, block_size: u32) -> u64 {
    (capacity / u64::from(block_size.max(1))).saturating_sub(SUPERBLOCK_BLOCKS)
}

/// The largest record limit a log of `log_blocks` allows: an eighth of
/// it (so compaction always has room to work), a multiple of 8, and
/// within a `u32`.
pub fn record_ceiling(log_blocks: u64, block_size: u32) -> u64 {
    (log_blocks.saturating_mul(u64::from(block_size)) / 8).min(u64::from(u32::MAX)) & !7
}

/// The bytes a record holding nothing but one key and value of these
/// lengths takes: what a record limit must hold for keys and values at
/// their limits.
pub fn single_record_len(key_len: u32, value_len: u32) -> u64 {
    align8(HDR as u64 + OP_HDR as u64 + u64::from(key_len) + u64::from(value_len))
}

/// The largest value limit a store on a device of `capacity` bytes in
/// `block_size` blocks can be formatted with, keys up to `max_key_len`
/// bytes: one key and value at their limits fill a record of an eighth of
/// the log. 0 when no store with such keys fits the device.
pub fn max_value_len(capacity: u64, block_size: u32, max_key_len: u32) -> u64 {
    let log = log_blocks(capacity, block_size);
    if !block_size_ok(block_size) || log < MIN_LOG_BLOCKS {
        return 0;
    }
    record_ceiling(log, block_size).saturating_sub(HDR as u64 + OP_HDR as u64 + u64::from(max_key_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_at_the_limit_fills_the_largest_record() {
        // 1 MiB of 512-byte blocks: 2046 log blocks, records up to an
        // eighth of the log.
        let record = (2046 * 512 / 8) & !7;
        assert_eq!(record_ceiling(log_blocks(1 << 20, 512), 512), record);
        let value = max_value_len(1 << 20, 512, 1024);
        assert_eq!(value, record - 48 - 24 - 1024);
        assert_eq!(single_record_len(1024, value as u32), record);
        // Too small for a log, an unusable block size, keys too long.
        assert_eq!(max_value_len(17 * 512, 512, 16), 0);
        assert_eq!(max_value_len(1 << 20, 1000, 16), 0);
        assert_eq!(max_value_len(64 * 512, 512, 4096), 0);
        assert!(max_value_len(1 << 50, 4096, 1024) < u64::from(u32::MAX));
    }
}
