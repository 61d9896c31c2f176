//! `check` (fsck): reads the whole store and reports what is wrong with it,
//! never repairing anything. It runs the same walk as recovery, in a mode
//! that records damage and goes on, then checks the superblock copies and
//! the tree rules.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use oasis_devices::BlockDevice;

use super::format::FORMAT_VERSION;
use super::index::Index;
use super::log::{DeviceLog, Geometry, LogSource};
use super::recover::{Mode, recover};
use super::superblock::{self, SbFault, Superblock};
use crate::error::{KvError, Shown};
use crate::key::ancestors;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Device byte offset where it was found (0 when it concerns no place).
    pub offset: u64,
    /// The key concerned, when known.
    pub key: Option<String>,
    /// What it is.
    pub kind: ProblemKind,
}

/// What was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// One superblock copy is unusable (the other one is in use).
    SuperblockCopy {
        /// Which copy (0 or 1).
        copy: u8,
        /// Why.
        reason: &'static str,
    },
    /// The copies differ: an update was interrupted. Harmless; the next
    /// open for writing rewrites both. (A note, not an error.)
    SuperblocksDiffer,
    /// A value known durable fails its checksum; `get` reports it as
    /// corrupt. `live` says whether it is the key's current value.
    DamagedValue {
        /// Whether the key still maps to it.
        live: bool,
    },
    /// A record known durable cannot be read: its changes are lost, and
    /// the store refuses to open for use.
    DamagedRecord(&'static str),
    /// A record known durable has a damaged header, so the log cannot be
    /// followed past it: everything after it is lost, and the store
    /// refuses to open for use.
    LogBroken,
    /// The last records fail their checks but were never known durable: a
    /// torn write of unflushed data, dropped on open. (A note, not an
    /// error.)
    TornTail,
    /// A key is a value and also has keys below it.
    TreeConflict,
    /// The open store's memory disagrees with what is on the device.
    IndexMismatch,
}

impl Problem {
    /// Whether this is damage (as opposed to a note about an interrupted
    /// write).
    pub fn is_error(&self) -> bool {
        !matches!(self.kind, ProblemKind::SuperblocksDiffer | ProblemKind::TornTail)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: ", self.offset)?;
        match &self.kind {
            ProblemKind::SuperblockCopy { copy, reason } => write!(f, "superblock copy {copy} unusable: {reason}")?,
            ProblemKind::SuperblocksDiffer => f.write_str("superblock copies differ (an interrupted update)")?,
            ProblemKind::DamagedValue { live: true } => f.write_str("value fails its checksum")?,
            ProblemKind::DamagedValue { live: false } => f.write_str("old (overwritten) value fails its checksum")?,
            ProblemKind::DamagedRecord(reason) => write!(f, "record unreadable: {reason}")?,
            ProblemKind::LogBroken => f.write_str("damaged record header: the log cannot be followed past it")?,
            ProblemKind::TornTail => f.write_str("torn unflushed write at the end of the log (dropped)")?,
            ProblemKind::TreeConflict => f.write_str("a value has keys below it")?,
            ProblemKind::IndexMismatch => f.write_str("the open store's index disagrees with the device")?,
        }
        if let Some(key) = &self.key {
            write!(f, " (key {})", Shown(key))?;
        }
        Ok(())
    }
}

/// What `check` found, and what the store holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// Findings, in log order after the superblock's.
    pub problems: Vec<Problem>,
    /// Keys holding values.
    pub keys: usize,
    /// Live data, counted as the store counts it against its capacity.
    pub live_bytes: u64,
    /// Records from the tail to the end of the log.
    pub records: u64,
    /// Bytes of log between the tail and the end.
    pub log_used: u64,
    /// Bytes of log on the device.
    pub log_bytes: u64,
    /// Superblock generation and epoch in use.
    pub generation: u64,
    pub epoch: u32,
}

impl CheckReport {
    /// Whether nothing is damaged (notes allowed).
    pub fn is_clean(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "format {FORMAT_VERSION}, generation {}, epoch {}: {} keys, {} live bytes; {} records in {} of {} log bytes",
            self.generation, self.epoch, self.keys, self.live_bytes, self.records, self.log_used, self.log_bytes
        )?;
        for problem in &self.problems {
            writeln!(f, "{} {problem}", if problem.is_error() { "error:" } else { "note: " })?;
        }
        write!(f, "{}", if self.is_clean() { "clean" } else { "DAMAGED" })
    }
}

/// Checks the store on `dev`. Fails only when there is no store to check
/// (or the device fails); damage is in the report.
pub async fn check<D: BlockDevice>(dev: &mut D) -> Result<CheckReport, KvError> {
    let read = superblock::read(dev).await?;
    let geo = Geometry::of(&read.chosen);
    let mut report = run(DeviceLog { dev, geo, head: None }, &read.chosen, None).await?;
    report.problems.splice(0..0, superblock_problems(&read.copies));
    Ok(report)
}

/// Findings about the two superblock copies.
pub(crate) fn superblock_problems(copies: &[Result<Superblock, SbFault>; 2]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (copy, read) in copies.iter().enumerate() {
        let reason = match read {
            Ok(_) => continue,
            Err(SbFault::NoMagic) => "not a superblock",
            Err(SbFault::Version(_)) => "a newer format version",
            Err(SbFault::Invalid(reason)) => reason,
        };
        problems.push(Problem { offset: 0, key: None, kind: ProblemKind::SuperblockCopy { copy: copy as u8, reason } });
    }
    if let [Ok(a), Ok(b)] = copies
        && a != b
    {
        problems.push(Problem { offset: 0, key: None, kind: ProblemKind::SuperblocksDiffer });
    }
    problems
}

/// Walks the log of `sb` in report mode; with `memory`, also compares the
/// result with an open store's index.
pub(crate) async fn run<S: LogSource>(src: S, sb: &Superblock, memory: Option<&Index>) -> Result<CheckReport, KvError> {
    let geo = Geometry::of(sb);
    let found = recover(src, sb, Mode::Report).await?;
    let mut problems = found.problems;
    for (key, entry) in found.index.iter() {
        if ancestors(key).any(|parent| found.index.get(parent).is_some()) {
            problems.push(Problem {
                offset: geo.device_pos(entry.pos),
                key: Some(String::from(key)),
                kind: ProblemKind::TreeConflict,
            });
        }
    }
    if let Some(memory) = memory {
        let differs = memory.len() != found.index.len() || memory.iter().zip(found.index.iter()).any(|(a, b)| a != b);
        if differs {
            problems.push(Problem { offset: 0, key: None, kind: ProblemKind::IndexMismatch });
        }
    }
    Ok(CheckReport {
        problems,
        keys: found.index.len(),
        live_bytes: found.index.live_bytes(),
        records: found.records,
        log_used: geo.ceil(found.end.pos) - sb.tail_pos,
        log_bytes: geo.log_bytes(),
        generation: sb.generation,
        epoch: sb.epoch,
    })
}
