//! A compact, versioned binary form of a zone and of a change journal,
//! for a key-value store: write the zone after a transfer or update, read
//! it back after a restart. Reading is a parser of outside bytes like any
//! other: checked, never panicking, and every record goes through the
//! zone's rules again.
//!
//! Layout (all integers big-endian):
//! ```text
//! zone:    "ODZ" 1 | origin (uncompressed name) | count u32 | record* | fnv32
//! journal: "ODJ" 1 | count u32 | (op u8: 1 add, 2 remove, record)* | fnv32
//! record:  owner (uncompressed name) | type u16 | ttl u32 | rdlen u16 | rdata
//! ```
//! `fnv32` is FNV-1a over everything before it: it catches torn and
//! mixed-up values, not attacks (the store is ours).

use alloc::vec::Vec;
use core::fmt;

use crate::name::Name;
use crate::rdata::RData;
use crate::record::Record;
use crate::types::{Class, RType};
use crate::update::Change;
use crate::wire::{Reader, WireError};
use crate::zone::{Zone, ZoneProblem};

const ZONE_MAGIC: &[u8; 4] = b"ODZ\x01";
const JOURNAL_MAGIC: &[u8; 4] = b"ODJ\x01";

/// Why stored bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Not our format, or a version we do not read.
    Magic,
    /// The checksum does not match.
    Checksum,
    /// The bytes end early or are malformed.
    Wire(WireError),
    /// A record the zone refuses, or the zone is not servable.
    Zone(ZoneProblem),
    /// Bytes after the last record.
    Trailing,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Magic => f.write_str("not a stored zone/journal of a version we read"),
            StoreError::Checksum => f.write_str("stored zone/journal checksum mismatch"),
            StoreError::Wire(e) => write!(f, "stored zone/journal malformed: {e}"),
            StoreError::Zone(p) => write!(f, "stored zone refused: {p}"),
            StoreError::Trailing => f.write_str("bytes after the last stored record"),
        }
    }
}

impl core::error::Error for StoreError {}

impl From<WireError> for StoreError {
    fn from(e: WireError) -> StoreError {
        StoreError::Wire(e)
    }
}

fn fnv32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn put_record(out: &mut Vec<u8>, r: &Record) {
    out.extend_from_slice(r.name.as_wire());
    out.extend_from_slice(&r.rtype().0.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    r.data.emit(out, None);
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

fn get_name(r: &mut Reader<'_>) -> Result<Name, StoreError> {
    // Stored names are never compressed.
    let start = r.pos();
    let name = r.name()?;
    if r.pos() - start != name.wire_len() {
        return Err(StoreError::Wire(WireError::BadPointer));
    }
    Ok(name)
}

fn get_record(r: &mut Reader<'_>) -> Result<Record, StoreError> {
    let name = get_name(r)?;
    let rtype = RType(r.u16()?);
    let ttl = r.u32()?;
    let len = usize::from(r.u16()?);
    let data = RData::from_wire_uncompressed(rtype, r.bytes(len)?)?;
    Ok(Record { name, class: Class::IN, ttl, data })
}

fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let sum = fnv32(&out);
    out.extend_from_slice(&sum.to_be_bytes());
    out
}

fn unseal<'a>(bytes: &'a [u8], magic: &[u8; 4]) -> Result<&'a [u8], StoreError> {
    if bytes.len() < 8 || &bytes[..4] != magic {
        return Err(StoreError::Magic);
    }
    let (body, sum) = bytes.split_at(bytes.len() - 4);
    if fnv32(body) != u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]) {
        return Err(StoreError::Checksum);
    }
    Ok(body)
}

/// The zone in stored form.
pub fn encode_zone(zone: &Zone) -> Vec<u8> {
    let mut out = ZONE_MAGIC.to_vec();
    out.extend_from_slice(zone.origin().as_wire());
    out.extend_from_slice(&(zone.record_count() as u32).to_be_bytes());
    for r in zone.records() {
        put_record(&mut out, &r);
    }
    seal(out)
}

/// A zone from its stored form, checked as if loaded from a file.
pub fn decode_zone(bytes: &[u8]) -> Result<Zone, StoreError> {
    let body = unseal(bytes, ZONE_MAGIC)?;
    let mut r = Reader::new(body, 4);
    let origin = get_name(&mut r)?;
    let count = r.u32()?;
    let mut zone = Zone::new(origin);
    for _ in 0..count {
        zone.add(get_record(&mut r)?).map_err(StoreError::Zone)?;
    }
    if r.remaining() > 0 {
        return Err(StoreError::Trailing);
    }
    zone.check_servable().map_err(StoreError::Zone)?;
    Ok(zone)
}

/// Changes (from [`crate::update::apply`]) in stored form.
pub fn encode_journal(changes: &[Change]) -> Vec<u8> {
    let mut out = JOURNAL_MAGIC.to_vec();
    out.extend_from_slice(&(changes.len() as u32).to_be_bytes());
    for c in changes {
        let (op, r) = match c {
            Change::Added(r) => (1, r),
            Change::Removed(r) => (2, r),
        };
        out.push(op);
        put_record(&mut out, r);
    }
    seal(out)
}

/// Changes from their stored form.
pub fn decode_journal(bytes: &[u8]) -> Result<Vec<Change>, StoreError> {
    let body = unseal(bytes, JOURNAL_MAGIC)?;
    let mut r = Reader::new(body, 4);
    let count = r.u32()?;
    let mut changes = Vec::new();
    for _ in 0..count {
        let op = r.u8()?;
        let record = get_record(&mut r)?;
        changes.push(match op {
            1 => Change::Added(record),
            2 => Change::Removed(record),
            _ => return Err(StoreError::Wire(WireError::BadRdata)),
        });
    }
    if r.remaining() > 0 {
        return Err(StoreError::Trailing);
    }
    Ok(changes)
}

/// Replays stored changes onto a zone (a base snapshot plus its journal).
pub fn replay(zone: &mut Zone, changes: &[Change]) -> Result<(), StoreError> {
    for c in changes {
        match c {
            Change::Added(r) if r.rtype() == RType::SOA => {
                let set = crate::zone::RRset { rtype: RType::SOA, ttl: r.ttl, rdata: alloc::vec![r.data.clone()] };
                zone.check_record(r).or_else(|p| match p {
                    ZoneProblem::MultipleSoa => Ok(()),
                    p => Err(StoreError::Zone(p)),
                })?;
                zone.replace_rrset(&r.name, set);
            }
            Change::Added(r) => {
                // As in the update: the RRset takes the added record's TTL.
                if let Some(set) = zone.rrset(&r.name, r.rtype())
                    && set.ttl != r.ttl
                {
                    let mut set = set.clone();
                    set.ttl = r.ttl;
                    zone.replace_rrset(&r.name, set);
                }
                zone.add(r.clone()).map_err(StoreError::Zone)?;
            }
            Change::Removed(r) if r.rtype() == RType::SOA => {}
            Change::Removed(r) => {
                zone.remove_record(&r.name, &r.data);
            }
        }
    }
    zone.check_servable().map_err(StoreError::Zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::tests::catalog;

    fn zone() -> Zone {
        catalog().zone(&Name::from_text("example.com.", None).unwrap()).unwrap().clone()
    }

    #[test]
    fn zone_round_trip_and_refusals() {
        let z = zone();
        let bytes = encode_zone(&z);
        let back = decode_zone(&bytes).unwrap();
        assert_eq!(back.records().collect::<Vec<_>>(), z.records().collect::<Vec<_>>());
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(decode_zone(&flipped), Err(StoreError::Checksum));
        assert_eq!(decode_zone(b"ODZ\x02xxxxxxx"), Err(StoreError::Magic));
        assert_eq!(decode_zone(&bytes[..bytes.len() - 1]), Err(StoreError::Checksum));
    }

    #[test]
    fn journal_replays_an_update() {
        use crate::update::{Update, apply};
        let mut z = zone();
        let base = z.clone();
        let u = Update {
            id: 1,
            zone: z.origin().clone(),
            prerequisites: Vec::new(),
            updates: alloc::vec![Record {
                name: Name::from_text("added.example.com.", None).unwrap(),
                class: Class::IN,
                ttl: 5,
                data: RData::A([192, 0, 2, 50].into()),
            }],
        };
        let changes = apply(&mut z, &u).unwrap();
        let journal = encode_journal(&changes);
        let mut restored = base;
        replay(&mut restored, &decode_journal(&journal).unwrap()).unwrap();
        assert_eq!(restored.records().collect::<Vec<_>>(), z.records().collect::<Vec<_>>());
    }

    proptest::proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = decode_zone(&bytes);
            let _ = decode_journal(&bytes);
            let mut with_magic = ZONE_MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let sum = fnv32(&with_magic);
            with_magic.extend_from_slice(&sum.to_be_bytes());
            let _ = decode_zone(&with_magic);
        }
    }
}
