//! Recovery: following the log from the tail, checking every record, and
//! rebuilding the index. Opening a store and `check` both run it; `check`
//! collects what it finds instead of stopping at it.
//!
//! The walk accepts a record at the expected place only if its header
//! verifies and carries this store's id, the next sequence number and an
//! epoch no older than the record before it (the *chain*). It ends where no
//! record continues the chain. A record whose operations fail their
//! checksums is then either a torn write (it was never known durable: the
//! log is cut before it, as if it had never been written) or damage
//! (a later record says a flush covered it: reported, never served, and
//! never silently dropped). See `docs/kv-format.md` for the argument.

use alloc::string::String;
use alloc::vec::Vec;

use oasis_devices::DeviceError;

use super::check::{Problem, ProblemKind};
use super::format::{
    HDR, KIND_PAD, OP_HDR, OpHeader, OpKind, RECORD_MAGIC, RecordHeader, crc_matches, meta_crc, seed, value_hasher,
};
use super::index::{Entry, Index};
use super::log::{Geometry, LogSource, Window};
use super::superblock::Superblock;
use crate::error::KvError;
use crate::key::check_key;

/// Bytes the scanning window reads at a time.
const WINDOW: usize = 64 * 1024;

/// Where the chain continues: the position of the next record, its
/// sequence number and the least epoch it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub pos: u64,
    pub seq: u64,
    pub epoch: u32,
}

impl Cursor {
    pub(crate) fn tail(sb: &Superblock) -> Self {
        Cursor { pos: sb.tail_pos, seq: sb.tail_seq, epoch: sb.tail_epoch }
    }

    /// The cursor after `record` at `pos`.
    pub(crate) fn after(pos: u64, record: &RecordHeader) -> Self {
        Cursor { pos: pos + record.total_len(), seq: record.seq + 1, epoch: record.epoch }
    }
}

/// Reads the header at `pos` if it is the record the chain expects there.
async fn header_at<S: LogSource>(
    win: &mut Window<S>,
    sb: &Superblock,
    geo: &Geometry,
    pos: u64,
    seq: u64,
    min_epoch: u32,
    limit: u64,
) -> Result<Option<RecordHeader>, DeviceError> {
    if pos + HDR as u64 > limit {
        return Ok(None);
    }
    let mut bytes = [0; HDR];
    win.read(pos, &mut bytes).await?;
    let Some(header) = RecordHeader::decode(&bytes) else { return Ok(None) };
    let total = header.total_len();
    let fits = header.store_id == sb.store_id
        && header.seq == seq
        && (min_epoch..=sb.epoch).contains(&header.epoch)
        && header.body_len.is_multiple_of(8)
        && total <= u64::from(sb.max_record_len)
        && pos + total <= limit
        && header.flushed_through <= pos;
    let shaped = if header.kind == KIND_PAD {
        header.op_count == 0
            && header.body_len as u64 + (HDR as u64) <= geo.block
            && (pos + total).is_multiple_of(geo.block)
    } else {
        header.op_count > 0
    };
    Ok((fits && shaped).then_some(header))
}

/// The record continuing the chain at `cursor`, if any.
///
/// A session never writes into the block holding the last record it
/// recovered: it starts at the next block boundary, with a newer epoch.
/// So from a position inside a block, a record at the next boundary with
/// the expected sequence number and a newer epoch is where the chain goes
/// on (whatever lies in between is a torn write that session cut off),
/// and it is looked for first. Only a later session that recovered exactly
/// this far can have written such a record.
pub(crate) async fn next_record<S: LogSource>(
    win: &mut Window<S>,
    sb: &Superblock,
    geo: &Geometry,
    cursor: &Cursor,
    limit: u64,
) -> Result<Option<(u64, RecordHeader)>, DeviceError> {
    let pos = geo.record_start(cursor.pos);
    let aligned = geo.ceil(pos);
    if aligned != pos
        && let Some(epoch) = cursor.epoch.checked_add(1)
        && let Some(header) = header_at(win, sb, geo, aligned, cursor.seq, epoch, limit).await?
    {
        return Ok(Some((aligned, header)));
    }
    Ok(header_at(win, sb, geo, pos, cursor.seq, cursor.epoch, limit).await?.map(|header| (pos, header)))
}

/// One decoded operation.
#[derive(Clone, Debug)]
pub(crate) struct Op {
    pub kind: OpKind,
    pub key: String,
    /// A rename's destination.
    pub dest: String,
    pub pos: u64,
    pub key_len: u16,
    pub value_len: u32,
    pub modified: u64,
    /// Whether a `Set`'s value verified.
    pub value_ok: bool,
}

/// What a record's body holds.
pub(crate) enum Body {
    /// Its operations (some values may have failed their checksum).
    Ops(Vec<Op>),
    /// Its operations cannot be read.
    Unreadable(&'static str),
}

/// Reads and verifies every operation of the record at `pos`, streaming
/// values through their checksum a window at a time.
pub(crate) async fn read_body<S: LogSource>(
    win: &mut Window<S>,
    sb: &Superblock,
    pos: u64,
    header: &RecordHeader,
) -> Result<Body, DeviceError> {
    let seed = seed(header.store_id, header.seq, header.epoch);
    let end = pos + header.total_len();
    let mut at = pos + HDR as u64;
    let mut ops = Vec::new();
    let mut chunk = Vec::new();
    for _ in 0..header.op_count {
        if at + OP_HDR as u64 > end {
            return Ok(Body::Unreadable("operation runs past its record"));
        }
        let mut fields = [0; OP_HDR];
        win.read(at, &mut fields).await?;
        let Some(op) = OpHeader::decode(&fields) else { return Ok(Body::Unreadable("bad operation header")) };
        let Some(kind) = OpKind::from_u8(op.kind) else { return Ok(Body::Unreadable("unknown operation")) };
        let key_len = u32::from(op.key_len);
        let value_ok_len = match kind {
            OpKind::Set => op.value_len <= sb.max_value_len,
            OpKind::Remove => op.value_len == 0,
            OpKind::Rename => op.value_len >= 1 && op.value_len <= sb.max_key_len,
        };
        if key_len == 0 || key_len > sb.max_key_len || !value_ok_len || op.len() > end - at {
            return Ok(Body::Unreadable("operation lengths out of bounds"));
        }
        let key = win.read_vec(at + OP_HDR as u64, usize::from(op.key_len)).await?;
        let value_at = at + OP_HDR as u64 + u64::from(key_len);
        let dest = if kind == OpKind::Set { Vec::new() } else { win.read_vec(value_at, op.value_len as usize).await? };
        if !crc_matches(op.meta_crc, meta_crc(&seed, &fields[4..], &key, &dest)) {
            return Ok(Body::Unreadable("operation checksum mismatch"));
        }
        let (Ok(key), Ok(dest)) = (String::from_utf8(key), String::from_utf8(dest)) else {
            return Ok(Body::Unreadable("key is not UTF-8"));
        };
        let max_key = sb.max_key_len as usize;
        if check_key(&key, max_key).is_err() || (kind == OpKind::Rename && check_key(&dest, max_key).is_err()) {
            return Ok(Body::Unreadable("invalid key"));
        }
        let value_ok = if kind == OpKind::Set {
            let mut hasher = value_hasher(&seed);
            let mut left = u64::from(op.value_len);
            let mut from = value_at;
            while left > 0 {
                let n = left.min(WINDOW as u64) as usize;
                chunk.resize(n, 0);
                win.read(from, &mut chunk).await?;
                hasher.update(&chunk);
                left -= n as u64;
                from += n as u64;
            }
            crc_matches(op.value_crc, hasher.finalize())
        } else {
            true
        };
        ops.push(Op {
            kind,
            key,
            dest,
            pos: at,
            key_len: op.key_len,
            value_len: op.value_len,
            modified: op.modified,
            value_ok,
        });
        at += op.len();
    }
    if at != end {
        return Ok(Body::Unreadable("record length does not match its operations"));
    }
    Ok(Body::Ops(ops))
}

/// Applies a record's operations to the index, in order.
pub(crate) fn apply(index: &mut Index, header: &RecordHeader, ops: &[Op]) {
    for op in ops {
        match op.kind {
            OpKind::Set => index.insert(
                &op.key,
                Entry {
                    pos: op.pos,
                    seq: header.seq,
                    epoch: header.epoch,
                    key_len: op.key_len,
                    value_len: op.value_len,
                    modified: op.modified,
                },
            ),
            OpKind::Remove => {
                index.take_tree(&op.key);
            }
            OpKind::Rename => index.rename(&op.key, &op.dest),
        }
    }
}

/// Whether damage is an error (opening) or a finding (`check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Open,
    Report,
}

/// What recovery found.
pub(crate) struct Recovered {
    pub index: Index,
    /// Where the chain ends: the next record goes here (or at the next
    /// block boundary, by a new session).
    pub end: Cursor,
    /// Records in the chain (up to `end`).
    pub records: u64,
    /// Findings (only collected in [`Mode::Report`], except torn tails).
    pub problems: Vec<Problem>,
}

/// A record that failed its checks.
struct Bad {
    pos: u64,
    end: u64,
    before: Cursor,
    unreadable: Option<&'static str>,
    /// Keys of values that failed their checksum.
    keys: Vec<(String, u64)>,
}

/// Everything one walk learned.
struct Walk {
    index: Index,
    end: Cursor,
    durable: u64,
    records: u64,
    bad: Vec<Bad>,
    /// The index just before the first bad record not known durable when
    /// it was met (usually where the log gets cut).
    snapshot: Option<(u64, Index, u64)>,
}

async fn walk<S: LogSource>(win: &mut Window<S>, sb: &Superblock, stop_at: Option<u64>) -> Result<Walk, DeviceError> {
    let geo = Geometry::of(sb);
    let limit = geo.window_end(sb.tail_pos);
    let mut cursor = Cursor::tail(sb);
    let mut durable = sb.flushed_through.max(sb.tail_pos);
    let mut index = Index::default();
    let mut bad = Vec::new();
    let mut snapshot = None;
    let mut records = 0;
    while let Some((pos, header)) = next_record(win, sb, &geo, &cursor, limit).await? {
        if stop_at.is_some_and(|stop| pos >= stop) {
            break;
        }
        durable = durable.max(header.flushed_through);
        records += 1;
        if header.kind != KIND_PAD {
            let body = read_body(win, sb, pos, &header).await?;
            let (ops, unreadable) = match body {
                Body::Ops(ops) => (ops, None),
                Body::Unreadable(reason) => (Vec::new(), Some(reason)),
            };
            let keys: Vec<(String, u64)> =
                ops.iter().filter(|op| !op.value_ok).map(|op| (op.key.clone(), op.pos)).collect();
            if unreadable.is_some() || !keys.is_empty() {
                let end = pos + header.total_len();
                if snapshot.is_none() && end > durable {
                    snapshot = Some((pos, index.clone(), records - 1));
                }
                bad.push(Bad { pos, end, before: cursor, unreadable, keys });
            }
            apply(&mut index, &header, &ops);
        }
        cursor = Cursor::after(pos, &header);
    }
    Ok(Walk { index, end: cursor, durable, records, bad, snapshot })
}

/// The largest `flushed_through` claimed by a record of this store found
/// past the end of the chain, within reach of the record that should have
/// continued it. A record there can only have been written after the
/// record at the end of the chain; if it says a flush covered that place,
/// the chain was broken by damage, not by a torn write.
async fn evidence_past<S: LogSource>(
    win: &mut Window<S>,
    sb: &Superblock,
    geo: &Geometry,
    end: &Cursor,
) -> Result<u64, DeviceError> {
    let limit = geo.window_end(sb.tail_pos);
    let reach = u64::from(sb.max_record_len) + 2 * geo.block;
    let stop = end.pos.saturating_add(reach).min(limit);
    let mut best = 0;
    let mut pos = end.pos;
    while pos + HDR as u64 <= stop {
        let mut magic = [0; 4];
        win.read(pos, &mut magic).await?;
        if magic == RECORD_MAGIC {
            let mut bytes = [0; HDR];
            win.read(pos, &mut bytes).await?;
            if let Some(h) = RecordHeader::decode(&bytes)
                && h.store_id == sb.store_id
                && h.seq > end.seq
                && (end.epoch..=sb.epoch).contains(&h.epoch)
                && h.flushed_through <= pos
            {
                best = best.max(h.flushed_through);
            }
        }
        pos += 8;
    }
    Ok(best)
}

/// Recovers the store described by `sb` from `src`.
pub(crate) async fn recover<S: LogSource>(src: S, sb: &Superblock, mode: Mode) -> Result<Recovered, KvError> {
    let geo = Geometry::of(sb);
    let mut win = Window::new(src, geo, WINDOW);
    let first = walk(&mut win, sb, None).await?;
    let durable = first.durable.max(evidence_past(&mut win, sb, &geo, &first.end).await?);
    // A record is known durable when a flush covered all of it.
    let cut = first.bad.iter().find(|bad| bad.end > durable);
    let mut problems = Vec::new();

    for bad in first.bad.iter().take_while(|bad| bad.end <= durable) {
        let offset = geo.device_pos(bad.pos);
        if let Some(reason) = bad.unreadable {
            if mode == Mode::Open {
                return Err(KvError::Corrupt { offset, reason, key: None });
            }
            problems.push(Problem { offset, key: None, kind: ProblemKind::DamagedRecord(reason) });
        }
        if mode == Mode::Report {
            for (key, pos) in &bad.keys {
                let live = first.index.key_at(*pos).is_some();
                problems.push(Problem {
                    offset: geo.device_pos(*pos),
                    key: Some(key.clone()),
                    kind: ProblemKind::DamagedValue { live },
                });
            }
        }
    }
    let broken_at = geo.record_start(first.end.pos);
    if cut.is_none() && broken_at + HDR as u64 <= durable {
        let offset = geo.device_pos(broken_at);
        let reason = "a record known durable is damaged: the log cannot be followed past it";
        if mode == Mode::Open {
            return Err(KvError::Corrupt { offset, reason, key: None });
        }
        problems.push(Problem { offset, key: None, kind: ProblemKind::LogBroken });
    }

    let Some(cut) = cut else {
        return Ok(Recovered { index: first.index, end: first.end, records: first.records, problems });
    };
    problems.push(Problem { offset: geo.device_pos(cut.pos), key: None, kind: ProblemKind::TornTail });
    let (index, records) = match first.snapshot {
        Some((pos, index, records)) if pos == cut.pos => (index, records),
        _ => {
            // Rare: damage proven durable after the first suspect record.
            let mut win = Window::new(win.into_source(), geo, WINDOW);
            let again = walk(&mut win, sb, Some(cut.pos)).await?;
            (again.index, again.records)
        }
    };
    Ok(Recovered { index, end: cut.before, records, problems })
}
