//! The log's geometry and block I/O: logical positions, the circular
//! mapping onto the device, and reading byte ranges out of whole blocks.
//!
//! A log *position* is a logical byte offset that only grows; the device
//! block holding it is `2 + (pos / block_size) % log_blocks`. While the
//! tail is at `tail`, the log may occupy positions up to
//! [`Geometry::window_end`]: one lap of the device, less nothing of the
//! block the tail is in (which still holds live records).

use alloc::vec;
use alloc::vec::Vec;

use oasis_devices::{BlockDevice, DeviceError};

use super::format::{HDR, SUPERBLOCK_BLOCKS};
use super::superblock::Superblock;

/// Block size and log length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub block: u64,
    pub log_blocks: u64,
}

impl Geometry {
    pub(crate) fn of(sb: &Superblock) -> Self {
        Geometry { block: u64::from(sb.block_size), log_blocks: sb.log_blocks }
    }

    pub(crate) fn log_bytes(&self) -> u64 {
        self.block * self.log_blocks
    }

    /// `pos` rounded up to a block boundary.
    pub(crate) fn ceil(&self, pos: u64) -> u64 {
        pos.div_ceil(self.block) * self.block
    }

    /// Offset within its block.
    pub(crate) fn offset_in_block(&self, pos: u64) -> u64 {
        pos % self.block
    }

    /// Where a record at or after `pos` starts: a header never straddles
    /// the end of a block with fewer than [`HDR`] bytes left, so such a
    /// remainder is skipped (it is left as zeros).
    pub(crate) fn record_start(&self, pos: u64) -> u64 {
        let offset = self.offset_in_block(pos);
        if offset != 0 && self.block - offset < HDR as u64 { self.ceil(pos) } else { pos }
    }

    /// The end of the positions the log may use while its tail is at
    /// `tail`.
    pub(crate) fn window_end(&self, tail: u64) -> u64 {
        (tail / self.block + self.log_blocks) * self.block
    }

    /// Device offset of logical block `lblock`.
    pub(crate) fn device_offset(&self, lblock: u64) -> u64 {
        (SUPERBLOCK_BLOCKS + lblock % self.log_blocks) * self.block
    }

    /// Device offset of log position `pos`, for messages.
    pub(crate) fn device_pos(&self, pos: u64) -> u64 {
        self.device_offset(pos / self.block) + self.offset_in_block(pos)
    }

    /// Splits `count` blocks from `lblock` into physically contiguous runs:
    /// `(device offset, first index into the run's bytes, blocks)`.
    fn runs(&self, lblock: u64, count: u64) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let mut done = 0;
        core::iter::from_fn(move || {
            if done == count {
                return None;
            }
            let first = lblock + done;
            let to_wrap = self.log_blocks - first % self.log_blocks;
            let n = to_wrap.min(count - done);
            let run = (self.device_offset(first), done, n);
            done += n;
            Some(run)
        })
    }
}

/// Where log blocks are read from.
pub(crate) trait LogSource {
    /// Reads whole blocks from logical block `lblock` into `out` (a
    /// multiple of the block size).
    async fn read_blocks(&mut self, lblock: u64, out: &mut [u8]) -> Result<(), DeviceError>;
}

/// The device, with the store's unwritten head block laid over it.
pub(crate) struct DeviceLog<'a, D> {
    pub dev: &'a mut D,
    pub geo: Geometry,
    /// The partially filled head block: its logical block and the bytes
    /// written into it so far (the rest reads as zeros).
    pub head: Option<(u64, &'a [u8])>,
}

impl<D: BlockDevice> LogSource for DeviceLog<'_, D> {
    async fn read_blocks(&mut self, lblock: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        let block = self.geo.block as usize;
        let count = (out.len() / block) as u64;
        for (offset, first, n) in self.geo.runs(lblock, count) {
            let start = first as usize * block;
            let end = start + n as usize * block;
            self.dev.read(offset, &mut out[start..end]).await?;
        }
        if let Some((head_block, bytes)) = self.head
            && (lblock..lblock + count).contains(&head_block)
        {
            let start = (head_block - lblock) as usize * block;
            let dst = &mut out[start..start + block];
            dst.fill(0);
            dst[..bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }
}

/// Writes whole blocks from logical block `lblock`.
pub(crate) async fn write_blocks<D: BlockDevice>(
    dev: &mut D,
    geo: &Geometry,
    lblock: u64,
    data: &[u8],
) -> Result<(), DeviceError> {
    let block = geo.block as usize;
    for (offset, first, n) in geo.runs(lblock, (data.len() / block) as u64) {
        let start = first as usize * block;
        dev.write(offset, &data[start..start + n as usize * block]).await?;
    }
    Ok(())
}

/// Reads `len` bytes at log position `pos` (through whole blocks).
pub(crate) async fn read_log<S: LogSource>(
    src: &mut S,
    geo: &Geometry,
    pos: u64,
    len: usize,
) -> Result<Vec<u8>, DeviceError> {
    let first = pos / geo.block;
    let skip = geo.offset_in_block(pos) as usize;
    let blocks = (skip + len).div_ceil(geo.block as usize);
    let mut buf = vec![0; blocks * geo.block as usize];
    src.read_blocks(first, &mut buf).await?;
    buf.drain(..skip);
    buf.truncate(len);
    Ok(buf)
}

/// A sequential reader over a log source that reads a window of blocks at
/// a time, for scans that touch every byte.
pub(crate) struct Window<S> {
    src: S,
    geo: Geometry,
    buf: Vec<u8>,
    /// Log position of `buf[0]`, when it holds data.
    start: Option<u64>,
}

impl<S: LogSource> Window<S> {
    /// The window is `bytes` long, rounded to whole blocks.
    pub(crate) fn new(src: S, geo: Geometry, bytes: usize) -> Self {
        let blocks = bytes.div_ceil(geo.block as usize).max(1);
        Window { src, geo, buf: vec![0; blocks * geo.block as usize], start: None }
    }

    /// Fills `out` with the bytes at `pos`.
    pub(crate) async fn read(&mut self, mut pos: u64, mut out: &mut [u8]) -> Result<(), DeviceError> {
        while !out.is_empty() {
            let held = match self.start {
                Some(start) if pos >= start && pos < start + self.buf.len() as u64 => start,
                _ => {
                    let start = pos - self.geo.offset_in_block(pos);
                    self.start = None;
                    self.src.read_blocks(start / self.geo.block, &mut self.buf).await?;
                    self.start = Some(start);
                    start
                }
            };
            let from = (pos - held) as usize;
            let n = out.len().min(self.buf.len() - from);
            out[..n].copy_from_slice(&self.buf[from..from + n]);
            out = &mut out[n..];
            pos += n as u64;
        }
        Ok(())
    }

    pub(crate) fn into_source(self) -> S {
        self.src
    }

    pub(crate) async fn read_vec(&mut self, pos: u64, len: usize) -> Result<Vec<u8>, DeviceError> {
        let mut out = vec![0; len];
        self.read(pos, &mut out).await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let geo = Geometry { block: 512, log_blocks: 16 };
        assert_eq!(geo.device_offset(0), 1024);
        assert_eq!(geo.device_offset(16), 1024);
        assert_eq!(geo.device_offset(17), 1024 + 512);
        assert_eq!(geo.record_start(100), 100);
        assert_eq!(geo.record_start(512 - 48), 512 - 48);
        assert_eq!(geo.record_start(512 - 40), 512);
        assert_eq!(geo.window_end(1000), (1 + 16) * 512);
        let runs: Vec<_> = geo.runs(14, 4).collect();
        assert_eq!(runs, [(geo.device_offset(14), 0, 2), (geo.device_offset(16), 2, 2)]);
    }
}
