//! Compaction: winning back the space of dead records so the log never
//! fills with them.
//!
//! The log is circular. When a record needs more room than lies between
//! the head and the tail's block, compaction walks records from the tail;
//! each value still live in one is copied to the head (in a new record,
//! keeping its key's current name and its timestamp), and the tail moves
//! past it. The copies are made durable (`sync`) *before* the superblock
//! records the new tail, and the freed blocks are written only after both
//! superblock copies say so: a crash at any point leaves a superblock
//! whose tail still has every live value behind it, either in the old
//! records or in the copies.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use oasis_devices::{BlockDevice, DeviceError};

use super::format::{EncodeOp, HDR, KIND_PAD, OpKind, encode_record, record_len};
use super::index::{Entry, cost};
use super::log::{DeviceLog, Geometry, LogSource, Window};
use super::recover::{Cursor, next_record};
use super::store::Store;
use super::superblock;
use crate::error::KvError;

impl<D: BlockDevice> Store<D> {
    /// Makes room for a record of `len` bytes, leaving the reserve
    /// compaction itself needs, or fails with `NoSpace`.
    pub(crate) async fn make_room(&mut self, len: u64) -> Result<(), KvError> {
        // A header never starts in the last HDR bytes of a block, so a
        // record may need that much more.
        let need = len + HDR as u64 + self.reserve();
        if self.room() >= need {
            return Ok(());
        }
        // Everything written so far becomes durable first. Compaction drops
        // records before the tail that were overwritten by later ones; if
        // those later ones could still be lost in a crash, recovery would
        // need the dropped ones.
        self.sync_now().await?;
        // Compact only what was written before this call: copies made now
        // are not copied again. Win back `slack` more than needed, so the
        // next writes do not compact again at once, but walk at most
        // `slack` of log per run: the work (and the pause it makes) is
        // bounded and spread over the writes, not the whole log at once
        // when it first fills.
        let slack = self.compaction_slack();
        let stop_at = self.head;
        let mut first = true;
        loop {
            // Each run starts with nothing unwritten: a run takes a record
            // without live values as safe to drop, and one whose values an
            // earlier run copied is such a record — its copies must be on
            // the device before the tail passes it.
            if !first {
                self.sync_now().await?;
            }
            first = false;
            let walk_to = stop_at.min(self.sb.tail_pos.saturating_add(slack));
            let progressed = self.compact_run(walk_to).await?;
            if self.room() >= need + slack {
                return Ok(());
            }
            if !progressed || self.sb.tail_pos >= stop_at {
                return if self.room() >= need { Ok(()) } else { Err(KvError::NoSpace) };
            }
        }
    }

    /// How much log one compaction run walks, and how much room beyond
    /// the need it aims to leave: a thirty-second of the log, between
    /// 64 KiB and 4 MiB.
    fn compaction_slack(&self) -> u64 {
        (self.geo.log_bytes() / 32).clamp(64 << 10, 4 << 20)
    }

    /// One run: copies the live values of records from the tail while the
    /// copies fit, makes them durable, then advances the tail in the
    /// superblock. Returns whether the tail moved.
    ///
    /// The run does not seal the head block (that would waste the rest of
    /// it on every run): it flushes the blocks written so far and moves the
    /// tail only past records whose copies lie wholly in them. Copies still
    /// in the buffer are duplicates of records that stay behind the tail.
    /// Only when that would not move the tail at all is the head sealed.
    async fn compact_run(&mut self, stop_at: u64) -> Result<bool, KvError> {
        let geo = self.geo;
        let limit = geo.window_end(self.sb.tail_pos);
        let start = Cursor::tail(&self.sb);
        let mut cursor = start;
        let mut safe = start;
        // Records walked whose copies are not yet wholly written: (end of
        // their copies, cursor after them), one entry per copies end.
        let mut waiting: VecDeque<(u64, Cursor)> = VecDeque::new();
        let mut copies_end = 0;
        let mut ahead =
            ReadAhead { buf: vec![0; READ_AHEAD.div_ceil(geo.block as usize) * geo.block as usize], first: None };
        loop {
            let sb = self.sb;
            let found = {
                let source = AheadSource { ahead: &mut ahead, log: self.source() };
                let mut win = Window::new(source, geo, geo.block as usize);
                next_record(&mut win, &sb, &geo, &cursor, limit).await?
            };
            let Some((pos, header)) = found else {
                if geo.ceil(cursor.pos) < stop_at {
                    return Err(KvError::corrupt(geo.device_pos(cursor.pos), "the log breaks before its end"));
                }
                break;
            };
            if pos >= stop_at {
                break;
            }
            let end = pos + header.total_len();
            if header.kind != KIND_PAD {
                match self.copy_live(pos, end, &geo).await? {
                    Copied::DoesNotFit => break,
                    Copied::Nothing => {}
                    Copied::Some => copies_end = self.head,
                }
            }
            cursor = Cursor::after(pos, &header);
            match waiting.back_mut() {
                Some((at, after)) if *at == copies_end => *after = cursor,
                _ => waiting.push_back((copies_end, cursor)),
            }
            let written = self.head - geo.offset_in_block(self.head);
            while let Some(&(at, after)) = waiting.front()
                && at <= written
            {
                safe = after;
                waiting.pop_front();
            }
        }
        if cursor == start {
            return Ok(false);
        }
        // The blocks written so far become durable; the head block, if
        // partly filled, stays in the buffer.
        self.dev.flush().await?;
        self.last_flush = self.head - geo.offset_in_block(self.head);
        self.unflushed = !self.buf.is_empty();
        if safe == start {
            self.sync_now().await?;
            safe = cursor;
        }
        let mut sb = self.sb;
        sb.tail_pos = safe.pos;
        sb.tail_seq = safe.seq;
        sb.tail_epoch = safe.epoch;
        sb.generation += 1;
        sb.flushed_through = self.last_flush.max(safe.pos);
        superblock::write(&mut self.dev, &sb).await?;
        self.sb = sb;
        Ok(true)
    }

    /// Copies the live values of the record at `pos..end` to the head
    /// (all of them, or none when they do not fit now).
    async fn copy_live(&mut self, pos: u64, end: u64, geo: &Geometry) -> Result<Copied, KvError> {
        let live = self.index.live_in(pos..end);
        if live.is_empty() {
            return Ok(Copied::Nothing);
        }
        let mut values = Vec::with_capacity(live.len());
        for (_, key) in &live {
            let Some(entry) = self.index.get(key).copied() else { continue };
            // A damaged value is carried forward still marked damaged, so
            // one bad value neither stops compaction nor gets laundered.
            // (A damaged key or header cannot be: that is an error.)
            let (value, ok) = self.read_op(key, &entry).await?;
            values.push((key.clone(), value, entry.modified, !ok));
        }
        // Group into records within the record limit (a renamed key can
        // make a copy longer than its original).
        let max = u64::from(self.sb.max_record_len);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut size = max;
        for (i, (key, value, _, _)) in values.iter().enumerate() {
            let one = cost(key.len(), value.len() as u64) - HDR as u64;
            if size + one > max {
                groups.push(Vec::new());
                size = HDR as u64;
            }
            size += one;
            if let Some(group) = groups.last_mut() {
                group.push(i);
            }
        }
        let encode = |group: &[usize]| -> Vec<EncodeOp<'_>> {
            group
                .iter()
                .map(|&i| {
                    let (key, value, modified, damaged) = &values[i];
                    EncodeOp { kind: OpKind::Set, key, value, modified: *modified, damaged: *damaged }
                })
                .collect()
        };
        let total: u64 = groups.iter().map(|group| record_len(&encode(group)) + HDR as u64).sum();
        if total + geo.block > self.room() {
            return Ok(Copied::DoesNotFit);
        }
        for group in &groups {
            let ops = encode(group);
            let seq = self.next_seq;
            let (bytes, offsets) = encode_record(self.header(seq), &ops);
            let at = self.append(&bytes).await?;
            self.next_seq += 1;
            for (op, offset) in ops.iter().zip(offsets) {
                let entry = Entry {
                    pos: at + offset,
                    seq,
                    epoch: self.sb.epoch,
                    key_len: op.key.len() as u16,
                    value_len: op.value.len() as u32,
                    modified: op.modified,
                };
                self.index.insert(op.key, entry);
            }
        }
        Ok(Copied::Some)
    }
}

/// Bytes of log the compaction walk reads at a time.
const READ_AHEAD: usize = 64 << 10;

/// Log blocks read ahead of the compaction walk, which looks at every
/// record's header: a device call per record would dominate its cost.
///
/// Kept only for one run, and only bytes below the run's stopping point
/// are used as records: those were all written before the run, and the
/// copies it appends land past that point, so the bytes it uses never go
/// stale. (Bytes held from past the stopping point may; they are read,
/// as a header that is then ignored, but never used.)
struct ReadAhead {
    buf: Vec<u8>,
    /// The logical block at the start of `buf`, once filled.
    first: Option<u64>,
}

struct AheadSource<'a, D> {
    ahead: &'a mut ReadAhead,
    log: DeviceLog<'a, D>,
}

impl<D: BlockDevice> LogSource for AheadSource<'_, D> {
    async fn read_blocks(&mut self, lblock: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        let block = self.log.geo.block;
        let count = out.len() as u64 / block;
        let held = self.ahead.buf.len() as u64 / block;
        if count > held {
            return self.log.read_blocks(lblock, out).await;
        }
        let first = match self.ahead.first {
            Some(first) if lblock >= first && lblock + count <= first + held => first,
            _ => {
                self.ahead.first = None;
                self.log.read_blocks(lblock, &mut self.ahead.buf).await?;
                self.ahead.first = Some(lblock);
                lblock
            }
        };
        let from = ((lblock - first) * block) as usize;
        out.copy_from_slice(&self.ahead.buf[from..from + out.len()]);
        Ok(())
    }
}

/// What [`Store::copy_live`] did.
enum Copied {
    /// The record holds no live value.
    Nothing,
    /// Its live values were copied.
    Some,
    /// Its live values do not fit before the tail now.
    DoesNotFit,
}
