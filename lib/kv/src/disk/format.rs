//! The on-disk encoding of log records and their operations: constants,
//! headers, checksums. `docs/kv-format.md` is the specification; this file
//! is its code, and the two change together (with [`FORMAT_VERSION`]).
//!
//! Every decoder here takes untrusted bytes and never panics: fields are
//! read with bounds-checked helpers and validated by the caller against
//! the superblock's limits before anything is allocated from them.

use alloc::vec::Vec;

use crc32fast::Hasher;

/// The on-disk format version this code writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// First bytes of a superblock.
pub(crate) const SB_MAGIC: [u8; 8] = *b"OASIS-KV";
/// Bytes of a superblock that carry data (the rest of its block is zero).
pub(crate) const SB_LEN: usize = 128;
/// Blocks 0 and 1 hold the two superblock copies; the log follows.
pub const SUPERBLOCK_BLOCKS: u64 = 2;
/// First bytes of every log record.
pub(crate) const RECORD_MAGIC: [u8; 4] = *b"OKVR";
/// Length of a record header.
pub(crate) const HDR: usize = 48;
/// Length of an operation header.
pub(crate) const OP_HDR: usize = 24;
/// Record kinds.
pub(crate) const KIND_OPS: u8 = 1;
pub(crate) const KIND_PAD: u8 = 2;
/// The longest key any store may be formatted for.
pub const KEY_LEN_LIMIT: u32 = 4096;
/// The largest block size accepted (bounds allocations made from it).
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
/// The smallest log, in blocks.
pub const MIN_LOG_BLOCKS: u64 = 16;
/// Positions and sequence numbers stay below this, so sums never overflow.
pub(crate) const POS_LIMIT: u64 = 1 << 62;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Sets the value at the key.
    Set = 1,
    /// Removes the value or dictionary at the key.
    Remove = 2,
    /// Moves the key (a value or dictionary) to the key in the value field.
    Rename = 3,
}

impl OpKind {
    pub(crate) fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(OpKind::Set),
            2 => Some(OpKind::Remove),
            3 => Some(OpKind::Rename),
            _ => None,
        }
    }
}

/// Rounds up to the 8-byte record alignment. Callers keep `n` below
/// [`POS_LIMIT`].
pub(crate) const fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// Whether a stored checksum matches. Under `cfg(fuzzing)` a stored zero
/// also matches, so the fuzzer can reach the parsers behind checksums.
pub(crate) fn crc_matches(stored: u32, computed: u32) -> bool {
    stored == computed || (cfg!(fuzzing) && stored == 0)
}

pub(crate) fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut word = [0; 2];
    if let Some(src) = bytes.get(at..at + 2) {
        word.copy_from_slice(src);
    }
    u16::from_le_bytes(word)
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        word.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

pub(crate) fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = bytes.get_mut(at..at + value.len()) {
        dst.copy_from_slice(value);
    }
}

/// A record header: 48 bytes at the start of every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// [`KIND_OPS`] or [`KIND_PAD`].
    pub kind: u8,
    /// Operations in the body (0 for padding).
    pub op_count: u16,
    /// The store this record belongs to.
    pub store_id: u64,
    /// Its sequence number: one more than the record before it.
    pub seq: u64,
    /// The session (open) that wrote it.
    pub epoch: u32,
    /// Bytes after the header.
    pub body_len: u32,
    /// Log position up to which everything was durable when it was
    /// written.
    pub flushed_through: u64,
}

impl RecordHeader {
    pub(crate) fn total_len(&self) -> u64 {
        HDR as u64 + u64::from(self.body_len)
    }

    pub(crate) fn encode(&self) -> [u8; HDR] {
        let mut b = [0; HDR];
        put(&mut b, 0, &RECORD_MAGIC);
        b[4] = self.kind;
        put(&mut b, 6, &self.op_count.to_le_bytes());
        put(&mut b, 8, &self.store_id.to_le_bytes());
        put(&mut b, 16, &self.seq.to_le_bytes());
        put(&mut b, 24, &self.epoch.to_le_bytes());
        put(&mut b, 28, &self.body_len.to_le_bytes());
        put(&mut b, 32, &self.flushed_through.to_le_bytes());
        let crc = crc32fast::hash(&b[..HDR - 4]);
        put(&mut b, HDR - 4, &crc.to_le_bytes());
        b
    }

    /// Decodes and checks magic, checksum, kind and reserved bytes; the
    /// caller checks the fields against what it expects.
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..HDR)?;
        if b[..4] != RECORD_MAGIC || b[5] != 0 || u32_at(b, 40) != 0 {
            return None;
        }
        if !crc_matches(u32_at(b, HDR - 4), crc32fast::hash(&b[..HDR - 4])) {
            return None;
        }
        let kind = b[4];
        if kind != KIND_OPS && kind != KIND_PAD {
            return None;
        }
        Some(RecordHeader {
            kind,
            op_count: u16_at(b, 6),
            store_id: u64_at(b, 8),
            seq: u64_at(b, 16),
            epoch: u32_at(b, 24),
            body_len: u32_at(b, 28),
            flushed_through: u64_at(b, 32),
        })
    }
}

/// The checksum state every operation checksum of one record starts from:
/// binding operations to their store, sequence number and epoch means
/// stale bytes from an older record at the same place never verify.
pub(crate) fn seed(store_id: u64, seq: u64, epoch: u32) -> Hasher {
    let mut hasher = Hasher::new();
    hasher.update(&store_id.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(&epoch.to_le_bytes());
    hasher
}

/// An operation header: 24 bytes, then the key, then the value (a `Set`'s
/// bytes, a `Rename`'s destination key), then zeros to a multiple of 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpHeader {
    /// Checksum of header bytes 4..24, the key and (except for `Set`) the
    /// value.
    pub meta_crc: u32,
    /// Raw [`OpKind`].
    pub kind: u8,
    pub key_len: u16,
    pub value_len: u32,
    /// Checksum of a `Set`'s value (0 for the other kinds).
    pub value_crc: u32,
    /// Caller time or logical clock of the write.
    pub modified: u64,
}

impl OpHeader {
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let b = b.get(..OP_HDR)?;
        if b[5] != 0 {
            return None;
        }
        Some(OpHeader {
            meta_crc: u32_at(b, 0),
            kind: b[4],
            key_len: u16_at(b, 6),
            value_len: u32_at(b, 8),
            value_crc: u32_at(b, 12),
            modified: u64_at(b, 16),
        })
    }

    /// Bytes the operation takes, padding included.
    pub(crate) fn len(&self) -> u64 {
        op_len(usize::from(self.key_len), u64::from(self.value_len))
    }
}

/// Bytes an operation with this key and value takes.
pub(crate) fn op_len(key_len: usize, value_len: u64) -> u64 {
    align8(OP_HDR as u64 + key_len as u64 + value_len)
}

/// The meta checksum of an operation (header bytes 4..24 are `fields`).
pub(crate) fn meta_crc(seed: &Hasher, fields: &[u8], key: &[u8], extra: &[u8]) -> u32 {
    let mut hasher = seed.clone();
    hasher.update(b"M");
    hasher.update(fields);
    hasher.update(key);
    hasher.update(extra);
    hasher.finalize()
}

/// The start of a value checksum; feed the value, then finalize.
pub(crate) fn value_hasher(seed: &Hasher) -> Hasher {
    let mut hasher = seed.clone();
    hasher.update(b"V");
    hasher
}

/// One operation to encode.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EncodeOp<'a> {
    pub kind: OpKind,
    pub key: &'a str,
    /// A `Set`'s value or a `Rename`'s destination key; empty for `Remove`.
    pub value: &'a [u8],
    pub modified: u64,
    /// A damaged value carried forward by compaction: its checksum is
    /// written wrong on purpose, so it still reads as damaged.
    pub damaged: bool,
}

impl EncodeOp<'_> {
    pub(crate) fn len(&self) -> u64 {
        op_len(self.key.len(), self.value.len() as u64)
    }
}

/// Bytes a record holding `ops` takes.
pub(crate) fn record_len(ops: &[EncodeOp<'_>]) -> u64 {
    HDR as u64 + ops.iter().map(EncodeOp::len).sum::<u64>()
}

/// Encodes a record of `ops` under `header` (whose `kind`, `op_count` and
/// `body_len` this fills in). Returns the bytes and each operation's offset
/// in them. Lengths were checked against the store's limits by the caller,
/// so they fit their fields.
pub(crate) fn encode_record(mut header: RecordHeader, ops: &[EncodeOp<'_>]) -> (Vec<u8>, Vec<u64>) {
    let total = record_len(ops);
    header.kind = KIND_OPS;
    header.op_count = ops.len() as u16;
    header.body_len = (total - HDR as u64) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&header.encode());
    let seed = seed(header.store_id, header.seq, header.epoch);
    let mut offsets = Vec::with_capacity(ops.len());
    for op in ops {
        offsets.push(out.len() as u64);
        let value_crc = match op.kind {
            OpKind::Set => {
                let mut hasher = value_hasher(&seed);
                hasher.update(op.value);
                if op.damaged { !hasher.finalize() } else { hasher.finalize() }
            }
            OpKind::Remove | OpKind::Rename => 0,
        };
        let mut fields = [0; OP_HDR - 4];
        fields[0] = op.kind as u8;
        put(&mut fields, 2, &(op.key.len() as u16).to_le_bytes());
        put(&mut fields, 4, &(op.value.len() as u32).to_le_bytes());
        put(&mut fields, 8, &value_crc.to_le_bytes());
        put(&mut fields, 12, &op.modified.to_le_bytes());
        let extra = if op.kind == OpKind::Set { &[][..] } else { op.value };
        let meta = meta_crc(&seed, &fields, op.key.as_bytes(), extra);
        let start = out.len();
        out.extend_from_slice(&meta.to_le_bytes());
        out.extend_from_slice(&fields);
        out.extend_from_slice(op.key.as_bytes());
        out.extend_from_slice(op.value);
        out.resize(start + op.len() as usize, 0);
    }
    (out, offsets)
}

/// A padding record filling the rest of a block from a position with at
/// least [`HDR`] bytes left in it: `room` bytes in all.
pub(crate) fn encode_pad(mut header: RecordHeader, room: usize) -> Vec<u8> {
    header.kind = KIND_PAD;
    header.op_count = 0;
    header.body_len = (room - HDR) as u32;
    let mut out = Vec::with_capacity(room);
    out.extend_from_slice(&header.encode());
    out.resize(room, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RecordHeader {
        RecordHeader { kind: KIND_OPS, op_count: 0, store_id: 7, seq: 9, epoch: 2, body_len: 0, flushed_through: 4096 }
    }

    #[test]
    fn record_round_trip_and_layout() {
        let ops = [
            EncodeOp { kind: OpKind::Set, key: "a/b", value: b"hello", modified: 5, damaged: false },
            EncodeOp { kind: OpKind::Rename, key: "a", value: b"c", modified: 6, damaged: false },
        ];
        let (bytes, offsets) = encode_record(header(), &ops);
        assert_eq!(bytes.len() as u64, record_len(&ops));
        assert_eq!(bytes.len() % 8, 0);
        assert_eq!(offsets, [48, 48 + 32]);
        let h = RecordHeader::decode(&bytes).unwrap();
        assert_eq!((h.kind, h.op_count, h.seq, h.epoch), (KIND_OPS, 2, 9, 2));
        assert_eq!(h.total_len(), bytes.len() as u64);
        let op = OpHeader::decode(&bytes[48..]).unwrap();
        assert_eq!((op.kind, op.key_len, op.value_len, op.modified), (1, 3, 5, 5));
        let seed = seed(7, 9, 2);
        assert_eq!(op.meta_crc, meta_crc(&seed, &bytes[52..72], b"a/b", b""));
        let mut value = value_hasher(&seed);
        value.update(b"hello");
        assert_eq!(op.value_crc, value.finalize());
        // A different sequence number (a stale record) does not verify.
        assert_ne!(op.meta_crc, meta_crc(&super::seed(7, 8, 2), &bytes[52..72], b"a/b", b""));
    }

    #[test]
    fn header_rejects_damage() {
        let bytes = header().encode();
        for i in 0..HDR * 8 {
            let mut damaged = bytes;
            damaged[i / 8] ^= 1 << (i % 8);
            assert_eq!(RecordHeader::decode(&damaged), None, "bit {i}");
        }
        assert_eq!(RecordHeader::decode(&bytes[..HDR - 1]), None);
    }

    #[test]
    fn pad_fills_exactly() {
        let pad = encode_pad(header(), 200);
        assert_eq!(pad.len(), 200);
        let h = RecordHeader::decode(&pad).unwrap();
        assert_eq!((h.kind, h.total_len()), (KIND_PAD, 200));
    }
}
