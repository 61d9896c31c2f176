//! A seeded workload of sets, removes, renames and batches, and the model
//! it should leave a store in: what the crash tests run inside a guest and
//! replay on the host. The same seed gives the same operations everywhere,
//! whatever the store does, so the host can tell which states a crashed
//! run may legally have left.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::Rng;
use crate::error::KvError;
use crate::traits::{BatchOp, KvRw};

/// Keys the workload touches: `w/k0` … `w/k{KEYS-1}`, few enough that
/// values are overwritten and removed often.
pub const KEYS: u64 = 48;

/// The most value bytes one batch carries, so a batch always fits the
/// record limit of a store formatted with values up to 32 KiB (its default
/// limit is about two such values): a batch the store refuses as too large
/// would end a crash run early and test nothing.
pub const BATCH_VALUE_BUDGET: usize = 48 << 10;

/// One operation of the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set a value.
    Set(String, Vec<u8>),
    /// Remove a value (nothing happens when it is absent).
    Remove(String),
    /// Move a value (nothing happens when the source is absent).
    Rename(String, String),
    /// Sets (`Some`) and removes (`None`), all or nothing.
    Batch(Vec<(String, Option<Vec<u8>>)>),
}

/// What the store should hold: key to value.
pub type Model = BTreeMap<String, Vec<u8>>;

/// The operations of workload `seed`, endless.
#[derive(Clone, Debug)]
pub struct Workload {
    rng: Rng,
    seed: u64,
    index: u64,
}

impl Workload {
    /// Workload `seed`, from its first operation.
    pub fn new(seed: u64) -> Self {
        Workload { rng: Rng::new(seed ^ 0x6f61_7369_735f_6b76), seed, index: 0 }
    }

    fn key(&mut self) -> String {
        format!("w/k{}", self.rng.below(KEYS))
    }

    /// A value that names the workload, the operation and its own length,
    /// so a torn or misplaced value cannot pass for the right one: mostly
    /// small, some spanning many blocks, a few empty.
    /// At most `max` bytes long.
    fn value(&mut self, part: u64, max: usize) -> Vec<u8> {
        let len = match self.rng.below(100) {
            0..=4 => 0,
            5..=69 => self.rng.below(200) as usize,
            70..=94 => 200 + self.rng.below(3000) as usize,
            _ => 3200 + self.rng.below(20_000) as usize,
        }
        .min(max);
        let tag = format!("{}:{}:{}:{}|", self.seed, self.index, part, len);
        let mut value: Vec<u8> = tag.into_bytes();
        let mut fill = Rng::new(self.seed.wrapping_mul(31).wrapping_add(self.index * 7 + part));
        while value.len() < len {
            value.push(b'a' + (fill.below(26) as u8));
        }
        value.truncate(len);
        value
    }
}

impl Iterator for Workload {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        let op = match self.rng.below(100) {
            0..=54 => {
                let key = self.key();
                Op::Set(key, self.value(0, usize::MAX))
            }
            55..=69 => Op::Remove(self.key()),
            70..=77 => {
                let from = self.key();
                let to = self.key();
                Op::Rename(from, to)
            }
            _ => {
                let n = 2 + self.rng.below(6);
                let mut steps = Vec::new();
                let mut budget = BATCH_VALUE_BUDGET;
                for part in 0..n {
                    let key = self.key();
                    let value = if self.rng.chance(3, 4) { Some(self.value(part, budget)) } else { None };
                    budget -= value.as_ref().map_or(0, Vec::len);
                    steps.push((key, value));
                }
                Op::Batch(steps)
            }
        };
        self.index += 1;
        Some(op)
    }
}

/// Applies `op` to `model` as a store applies it.
pub fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Set(key, value) => {
            model.insert(key.clone(), value.clone());
        }
        Op::Remove(key) => {
            model.remove(key);
        }
        Op::Rename(from, to) => {
            if from != to
                && let Some(value) = model.remove(from)
            {
                model.insert(to.clone(), value);
            }
        }
        Op::Batch(steps) => {
            for (key, value) in steps {
                match value {
                    Some(v) => model.insert(key.clone(), v.clone()),
                    None => model.remove(key),
                };
            }
        }
    }
}

/// Runs `op` on `kv`. A rename whose source is missing changes nothing, as
/// in [`apply`].
pub async fn run<K: KvRw>(kv: &K, op: &Op) -> Result<(), KvError> {
    match op {
        Op::Set(key, value) => kv.set(key, value).await,
        Op::Remove(key) => kv.remove(key).await,
        Op::Rename(from, to) => {
            if from == to {
                return Ok(());
            }
            match kv.rename(from, to).await {
                Err(KvError::NotFound(_)) => Ok(()),
                other => other,
            }
        }
        Op::Batch(steps) => {
            let ops: Vec<BatchOp<'_>> = steps
                .iter()
                .map(|(key, value)| match value {
                    Some(v) => BatchOp::Set(key, v),
                    None => BatchOp::Remove(key),
                })
                .collect();
            kv.batch(&ops).await
        }
    }
}

/// Whether `found` is what `start` becomes after some prefix of workload
/// `seed` no shorter than `acknowledged` operations and no longer than
/// `limit`; returns that prefix's length.
pub fn matching_prefix(start: &Model, seed: u64, acknowledged: u64, limit: u64, found: &Model) -> Option<u64> {
    let mut model = start.clone();
    let mut ops = Workload::new(seed);
    for _ in 0..acknowledged {
        apply(&mut model, &ops.next()?);
    }
    let mut done = acknowledged;
    loop {
        if &model == found {
            return Some(done);
        }
        if done >= limit {
            return None;
        }
        apply(&mut model, &ops.next()?);
        done += 1;
    }
}
