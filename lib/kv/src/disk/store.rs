//! The store's state and its write path: appending records through a
//! one-block write buffer, sealing and flushing on `sync`, and opening
//! (recovery plus a new session).
//!
//! The rule that makes the buffer safe: **a block is written once per lap
//! of the log.** Records are appended into the buffer for the partially
//! filled head block, and that block is written only when it is full or
//! when `sync` seals it (padding the rest). After a sync the next record
//! starts in a fresh block; after reopening, a new session starts at the
//! block boundary after the recovered end. So no write ever covers a block
//! that holds records a flush already made durable, and a torn write can
//! only damage records that were never acknowledged as durable.

use alloc::string::String;
use alloc::vec::Vec;

use oasis_devices::{BlockDevice, DeviceError};

use super::format::{
    EncodeOp, HDR, KEY_LEN_LIMIT, MIN_LOG_BLOCKS, OP_HDR, OpHeader, OpKind, RecordHeader, SUPERBLOCK_BLOCKS, align8,
    crc_matches, encode_pad, encode_record, meta_crc, record_len, seed, value_hasher,
};
use super::index::{Entry, Index};
use super::limits;
use super::log::{DeviceLog, Geometry, read_log, write_blocks};
use super::plan::Plan;
use super::recover::{Mode, recover};
use super::superblock::{self, Superblock};
use super::{Durability, FormatOptions, OpenOptions, StoreInfo};
use crate::error::KvError;
use crate::key::valid_key;
use crate::traits::BatchOp;

/// An open store.
pub(crate) struct Store<D> {
    pub dev: D,
    /// The superblock as last written or read: its tail is the durable
    /// tail, its epoch this session's.
    pub sb: Superblock,
    pub geo: Geometry,
    pub index: Index,
    /// Where the next byte of log goes.
    pub head: u64,
    /// The head block's bytes before `head` (empty when `head` is on a
    /// block boundary).
    pub buf: Vec<u8>,
    pub next_seq: u64,
    /// Log position up to which everything is durable.
    pub last_flush: u64,
    /// Whether anything was written since the last flush.
    pub unflushed: bool,
    pub writable: bool,
    pub durability: Durability,
    /// Set by a device error in a write: no more writes.
    pub failed: Option<DeviceError>,
    pub clock: Option<u64>,
}

/// The default largest record: two values of the largest size, so a batch
/// can replace a big value and write another.
fn default_record_len(single: u64) -> u64 {
    2 * single
}

/// Writes a new, empty store over whatever `dev` holds.
pub(crate) async fn format<D: BlockDevice>(dev: &mut D, options: &FormatOptions) -> Result<(), KvError> {
    let info = dev.info();
    if !limits::block_size_ok(info.block_size) {
        return Err(KvError::Geometry("unsupported block size"));
    }
    let block = u64::from(info.block_size);
    let log_blocks = limits::log_blocks(info.capacity, info.block_size);
    if log_blocks < MIN_LOG_BLOCKS {
        return Err(KvError::Geometry("the device is too small for a store (at least 18 blocks)"));
    }
    if !(1..=KEY_LEN_LIMIT).contains(&options.max_key_len) || options.max_value_len == 0 {
        return Err(KvError::Geometry("key limit must be 1..=4096 bytes and the value limit at least 1"));
    }
    let single = limits::single_record_len(options.max_key_len, options.max_value_len);
    let ceiling = limits::record_ceiling(log_blocks, info.block_size);
    let record = align8(match options.max_record_len {
        Some(record) => u64::from(record),
        None => default_record_len(single).min(ceiling).max(single),
    });
    if record < single {
        return Err(KvError::Geometry("the record limit is smaller than one key and value at their limits"));
    }
    if record > ceiling || record > u64::from(u32::MAX) {
        return Err(KvError::Geometry("the record limit (or value limit) is more than an eighth of the log"));
    }
    if let Ok(old) = superblock::read(dev).await
        && old.chosen.store_id == options.store_id
    {
        return Err(KvError::Geometry("the new store id equals the old store's: pick a fresh random id"));
    }
    let sb = Superblock {
        block_size: info.block_size,
        epoch: 0,
        capacity: (log_blocks + SUPERBLOCK_BLOCKS) * block,
        store_id: options.store_id,
        generation: 1,
        log_blocks,
        tail_pos: 0,
        tail_seq: 0,
        tail_epoch: 0,
        max_key_len: options.max_key_len,
        max_value_len: options.max_value_len,
        max_record_len: record as u32,
        flushed_through: 0,
    };
    sb.check().map_err(KvError::Geometry)?;
    // Zero the first log block: belt and braces against an old log at the
    // same place (its records carry another store id anyway).
    let geo = Geometry::of(&sb);
    write_blocks(dev, &geo, 0, &alloc::vec![0; block as usize]).await?;
    dev.flush().await?;
    superblock::write(dev, &sb).await
}

impl<D: BlockDevice> Store<D> {
    /// Opens the store on `dev`: recovery, then (for writing) a new
    /// session whose epoch is durable before any record is written.
    pub(crate) async fn open(mut dev: D, options: OpenOptions) -> Result<Self, (KvError, D)> {
        let found = match superblock::read(&mut dev).await {
            Ok(read) => {
                let sb = read.chosen;
                let geo = Geometry::of(&sb);
                recover(DeviceLog { dev: &mut dev, geo, head: None }, &sb, Mode::Open).await.map(|found| (sb, found))
            }
            Err(error) => Err(error),
        };
        let (sb, found) = match found {
            Ok(found) => found,
            Err(error) => return Err((error, dev)),
        };
        let geo = Geometry::of(&sb);
        let end = found.end;
        let mut store = Store {
            dev,
            sb,
            geo,
            index: found.index,
            // Never write into the block holding the last recovered record.
            head: geo.ceil(end.pos),
            buf: Vec::new(),
            next_seq: end.seq,
            last_flush: end.pos,
            unflushed: false,
            writable: !options.read_only,
            durability: options.durability,
            failed: None,
            clock: None,
        };
        if store.writable
            && let Err(error) = store.begin_session().await
        {
            return Err((error, store.dev));
        }
        Ok(store)
    }

    /// Starts a session: what recovery read becomes durable (it may so far
    /// only be in a host cache), then the new epoch, before any record.
    async fn begin_session(&mut self) -> Result<(), KvError> {
        self.dev.flush().await?;
        let mut sb = self.sb;
        sb.epoch = sb.epoch.checked_add(1).ok_or(KvError::Geometry("the store's session counter is exhausted"))?;
        sb.generation += 1;
        sb.flushed_through = self.last_flush;
        superblock::write(&mut self.dev, &sb).await?;
        self.sb = sb;
        Ok(())
    }

    pub(crate) fn info(&self) -> StoreInfo {
        StoreInfo {
            store_id: self.sb.store_id,
            block_size: self.sb.block_size,
            capacity: self.sb.capacity,
            log_bytes: self.geo.log_bytes(),
            log_used: self.head - self.sb.tail_pos,
            usable_bytes: self.usable(),
            live_bytes: self.index.live_bytes(),
            keys: self.index.len(),
            generation: self.sb.generation,
            epoch: self.sb.epoch,
            max_key_len: self.sb.max_key_len,
            max_value_len: self.sb.max_value_len,
            max_record_len: self.sb.max_record_len,
        }
    }

    /// Space kept free so compaction can always copy a record: one record
    /// plus slack for block rounding.
    pub(crate) fn reserve(&self) -> u64 {
        u64::from(self.sb.max_record_len) + 2 * self.geo.block
    }

    /// Live data the store accepts: the log less two records, some blocks
    /// and a sixteenth, so there is always dead space for compaction to
    /// win back.
    pub(crate) fn usable(&self) -> u64 {
        let log = self.geo.log_bytes();
        log.saturating_sub(2 * u64::from(self.sb.max_record_len) + 8 * self.geo.block + log / 16)
    }

    /// Bytes a record can take from the head before reaching the tail's
    /// block.
    pub(crate) fn room(&self) -> u64 {
        self.geo.window_end(self.sb.tail_pos).saturating_sub(self.geo.record_start(self.head))
    }

    /// The log with the unwritten head block laid over the device.
    pub(crate) fn source(&mut self) -> DeviceLog<'_, D> {
        let head = Some((self.head / self.geo.block, &self.buf[..]));
        DeviceLog { dev: &mut self.dev, geo: self.geo, head }
    }

    pub(crate) fn header(&self, seq: u64) -> RecordHeader {
        RecordHeader {
            kind: 0,
            op_count: 0,
            store_id: self.sb.store_id,
            seq,
            epoch: self.sb.epoch,
            body_len: 0,
            flushed_through: self.last_flush,
        }
    }

    fn writable(&self) -> Result<(), KvError> {
        if !self.writable {
            Err(KvError::ReadOnly)
        } else if let Some(cause) = self.failed {
            Err(KvError::Device(cause))
        } else {
            Ok(())
        }
    }

    /// Passes on the result of a write step (which the caller checked was
    /// allowed with [`Store::writable`]); a device error stops all later
    /// writes, since what reached the device is then unknown.
    fn guarded<T>(&mut self, result: Result<T, KvError>) -> Result<T, KvError> {
        if let Err(KvError::Device(cause)) = result {
            self.failed = Some(cause);
        }
        result
    }

    /// Appends a record (the caller made room); returns its position.
    pub(crate) async fn append(&mut self, bytes: &[u8]) -> Result<u64, KvError> {
        let pos = self.geo.record_start(self.head);
        if bytes.len() as u64 > self.room() {
            return Err(KvError::NoSpace);
        }
        let block = self.geo.block as usize;
        let first = self.head / self.geo.block;
        let mut staging = Vec::with_capacity(block + bytes.len() + block);
        staging.extend_from_slice(&self.buf);
        staging.resize((pos - first * self.geo.block) as usize, 0);
        staging.extend_from_slice(bytes);
        let full = staging.len() / block * block;
        if full > 0 {
            write_blocks(&mut self.dev, &self.geo, first, &staging[..full]).await?;
        }
        staging.drain(..full);
        self.buf = staging;
        self.head = pos + bytes.len() as u64;
        self.unflushed = true;
        Ok(pos)
    }

    /// Fills the rest of the head block (with a padding record when one
    /// fits) and writes it, so the next record starts in a fresh block.
    async fn seal(&mut self) -> Result<(), KvError> {
        let offset = self.geo.offset_in_block(self.head);
        if offset == 0 {
            return Ok(());
        }
        let room = (self.geo.block - offset) as usize;
        let mut block = core::mem::take(&mut self.buf);
        if room >= HDR {
            let header = self.header(self.next_seq);
            self.next_seq += 1;
            block.extend_from_slice(&encode_pad(header, room));
        } else {
            block.resize(self.geo.block as usize, 0);
        }
        let lblock = self.head / self.geo.block;
        self.head = self.geo.ceil(self.head);
        self.unflushed = true;
        write_blocks(&mut self.dev, &self.geo, lblock, &block).await?;
        Ok(())
    }

    /// Seals and flushes: everything appended so far becomes durable.
    pub(crate) async fn sync_now(&mut self) -> Result<(), KvError> {
        if !self.unflushed && self.buf.is_empty() {
            return Ok(());
        }
        self.seal().await?;
        self.dev.flush().await?;
        self.last_flush = self.head;
        self.unflushed = false;
        Ok(())
    }

    pub(crate) async fn sync(&mut self) -> Result<(), KvError> {
        self.writable()?;
        let result = self.sync_now().await;
        self.guarded(result)
    }

    /// Syncs and records the end of the log as durable in the superblock,
    /// so damage to the last records is later told from a torn write.
    pub(crate) async fn checkpoint(&mut self) -> Result<(), KvError> {
        self.writable()?;
        let result = self.checkpoint_now().await;
        self.guarded(result)
    }

    async fn checkpoint_now(&mut self) -> Result<(), KvError> {
        self.sync_now().await?;
        let mut sb = self.sb;
        sb.generation += 1;
        sb.flushed_through = self.head;
        superblock::write(&mut self.dev, &sb).await?;
        self.sb = sb;
        Ok(())
    }

    /// Checks `ops` and applies them as one record.
    pub(crate) async fn write(&mut self, ops: &[BatchOp<'_>]) -> Result<(), KvError> {
        self.writable()?;
        if ops.len() > usize::from(u16::MAX) {
            return Err(KvError::TooLarge { what: "batch (operations)", len: ops.len() as u64, max: u16::MAX.into() });
        }
        let max_value = self.sb.max_value_len;
        for op in ops {
            if let BatchOp::Set(_, value) = op
                && value.len() as u64 > u64::from(max_value)
            {
                return Err(KvError::TooLarge { what: "value", len: value.len() as u64, max: max_value.into() });
            }
        }
        let encoded: Vec<EncodeOp<'_>> = ops.iter().map(|op| encode_op(op, 0)).collect();
        let len = record_len(&encoded);
        if len > u64::from(self.sb.max_record_len) {
            return Err(KvError::TooLarge { what: "batch (bytes)", len, max: self.sb.max_record_len.into() });
        }
        let mut plan = Plan::new(&self.index, self.sb.max_key_len as usize);
        for op in ops {
            match *op {
                BatchOp::Set(key, value) => plan.set(key, value.len() as u64)?,
                BatchOp::Remove(key) => plan.remove(key)?,
                BatchOp::Rename(from, to) => plan.rename(from, to)?,
            }
        }
        if !plan.changes_anything() {
            return Ok(());
        }
        let live_after = plan.live_bytes();
        // Shrinking is always allowed, even over the limit.
        if live_after > self.usable() && live_after > self.index.live_bytes() {
            return Err(KvError::NoSpace);
        }
        let result = self.commit(ops, len).await;
        self.guarded(result)
    }

    async fn commit(&mut self, ops: &[BatchOp<'_>], len: u64) -> Result<(), KvError> {
        self.make_room(len).await?;
        let seq = self.next_seq;
        let modified = self.clock.unwrap_or(seq);
        let encoded: Vec<EncodeOp<'_>> = ops.iter().map(|op| encode_op(op, modified)).collect();
        let (bytes, offsets) = encode_record(self.header(seq), &encoded);
        let pos = self.append(&bytes).await?;
        self.next_seq += 1;
        for (op, offset) in ops.iter().zip(offsets) {
            match *op {
                BatchOp::Set(key, value) => self.index.insert(
                    key,
                    Entry {
                        pos: pos + offset,
                        seq,
                        epoch: self.sb.epoch,
                        key_len: key.len() as u16,
                        value_len: value.len() as u32,
                        modified,
                    },
                ),
                BatchOp::Remove(key) => {
                    self.index.take_tree(key);
                }
                BatchOp::Rename(from, to) => self.index.rename(from, to),
            }
        }
        if self.durability == Durability::Always {
            self.sync_now().await?;
        }
        Ok(())
    }

    /// The value at `key`, read from the device and verified.
    pub(crate) async fn get(&mut self, key: &str) -> Result<Vec<u8>, KvError> {
        let entry = self.entry(key)?;
        match self.read_op(key, &entry).await? {
            (value, true) => Ok(value),
            (_, false) => Err(self.damaged(key, &entry, "value checksum mismatch")),
        }
    }

    pub(crate) fn entry(&self, key: &str) -> Result<Entry, KvError> {
        valid_key(key, self.sb.max_key_len as usize)?;
        match self.index.get(key) {
            Some(entry) => Ok(*entry),
            None if self.index.has_children(key) => Err(KvError::NotAValue(String::from(key))),
            None => Err(KvError::NotFound(String::from(key))),
        }
    }

    fn damaged(&self, key: &str, entry: &Entry, reason: &'static str) -> KvError {
        KvError::Corrupt { offset: self.geo.device_pos(entry.pos), reason, key: Some(String::from(key)) }
    }

    /// Reads the operation `entry` points at, checks its header and key
    /// (an error when damaged), and returns the value with whether it
    /// verified. Damage is reported, never served.
    pub(crate) async fn read_op(&mut self, key: &str, entry: &Entry) -> Result<(Vec<u8>, bool), KvError> {
        let key_len = usize::from(entry.key_len);
        let len = OP_HDR + key_len + entry.value_len as usize;
        let geo = self.geo;
        let mut bytes = read_log(&mut self.source(), &geo, entry.pos, len).await?;
        let Some(op) = OpHeader::decode(&bytes) else { return Err(self.damaged(key, entry, "bad operation header")) };
        if op.kind != OpKind::Set as u8 || op.key_len != entry.key_len || op.value_len != entry.value_len {
            return Err(self.damaged(key, entry, "operation header does not match the index"));
        }
        let seed = seed(self.sb.store_id, entry.seq, entry.epoch);
        let (head, value) = bytes.split_at(OP_HDR + key_len);
        if !crc_matches(op.meta_crc, meta_crc(&seed, &head[4..OP_HDR], &head[OP_HDR..], &[])) {
            return Err(self.damaged(key, entry, "operation checksum mismatch"));
        }
        let mut hasher = value_hasher(&seed);
        hasher.update(value);
        let value_ok = crc_matches(op.value_crc, hasher.finalize());
        bytes.drain(..OP_HDR + key_len);
        Ok((bytes, value_ok))
    }
}

/// The encoding of one batch operation.
fn encode_op<'a>(op: &BatchOp<'a>, modified: u64) -> EncodeOp<'a> {
    match *op {
        BatchOp::Set(key, value) => EncodeOp { kind: OpKind::Set, key, value, modified, damaged: false },
        BatchOp::Remove(key) => EncodeOp { kind: OpKind::Remove, key, value: &[], modified, damaged: false },
        BatchOp::Rename(from, to) => {
            EncodeOp { kind: OpKind::Rename, key: from, value: to.as_bytes(), modified, damaged: false }
        }
    }
}
