//! Shared test support: a reference model of the key-value semantics
//! (written independently of the store, over a plain `BTreeMap`), store
//! set-up, and reading a store's whole contents.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use oasis_kv::key::check_key;
use oasis_kv::testing::MemDevice;
use oasis_kv::tools::{block_on, ls};
use oasis_kv::{BatchOp, DiskKv, Durability, FormatOptions, KvError, KvRo, KvRw, OpenOptions};

pub type State = BTreeMap<String, Vec<u8>>;

/// The semantics of `KvRw`, on a map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub map: State,
    pub max_key: usize,
    pub max_value: usize,
    /// The store's record limit, when batches may reach it.
    pub max_record: Option<usize>,
}

fn inside(key: &str, prefix: &str) -> bool {
    key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

impl Model {
    pub fn new(max_key: usize, max_value: usize) -> Self {
        Model { map: State::new(), max_key, max_value, max_record: None }
    }

    fn key(&self, key: &str) -> Result<(), KvError> {
        check_key(key, self.max_key).map_err(|reason| KvError::BadKey { key: key.into(), reason })
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.key(key)?;
        let mut end = 0;
        while let Some(i) = key[end..].find('/') {
            let parent = &key[..end + i];
            if self.map.contains_key(parent) {
                return Err(KvError::NotADictionary(parent.into()));
            }
            end += i + 1;
        }
        if self.map.keys().any(|k| k.len() > key.len() && inside(k, key)) {
            return Err(KvError::NotAValue(key.into()));
        }
        self.map.insert(key.into(), value.to_vec());
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<(), KvError> {
        self.key(key)?;
        self.map.retain(|k, _| !inside(k, key));
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), KvError> {
        self.key(from)?;
        self.key(to)?;
        let moved: Vec<(String, Vec<u8>)> = self
            .map
            .iter()
            .filter(|(k, _)| inside(k, from))
            .map(|(k, v)| (k[from.len()..].to_string(), v.clone()))
            .collect();
        if from == to {
            return if moved.is_empty() { Err(KvError::NotFound(from.into())) } else { Ok(()) };
        }
        if inside(to, from) {
            return Err(KvError::RenameIntoItself { from: from.into(), to: to.into() });
        }
        if moved.is_empty() {
            return Err(KvError::NotFound(from.into()));
        }
        self.map.retain(|k, _| !inside(k, from));
        for (suffix, value) in moved {
            self.set(&format!("{to}{suffix}"), &value)?;
        }
        Ok(())
    }

    /// Applies a batch all or nothing.
    pub fn batch(&mut self, ops: &[BatchOp<'_>]) -> Result<(), KvError> {
        for op in ops {
            if let BatchOp::Set(_, value) = op
                && value.len() > self.max_value
            {
                return Err(KvError::TooLarge { what: "value", len: value.len() as u64, max: self.max_value as u64 });
            }
        }
        // The record format: a 48-byte header, then per operation 24
        // bytes, the key and the value (or destination), padded to 8.
        let len: usize = 48
            + ops
                .iter()
                .map(|op| match *op {
                    BatchOp::Set(key, value) => 24 + key.len() + value.len(),
                    BatchOp::Remove(key) => 24 + key.len(),
                    BatchOp::Rename(from, to) => 24 + from.len() + to.len(),
                })
                .map(|n| n.div_ceil(8) * 8)
                .sum::<usize>();
        if let Some(max) = self.max_record
            && len > max
        {
            return Err(KvError::TooLarge { what: "batch (bytes)", len: len as u64, max: max as u64 });
        }
        let mut next = self.clone();
        for op in ops {
            match *op {
                BatchOp::Set(key, value) => next.set(key, value)?,
                BatchOp::Remove(key) => next.remove(key)?,
                BatchOp::Rename(from, to) => next.rename(from, to)?,
            }
        }
        *self = next;
        Ok(())
    }
}

/// An operation of a random workload.
#[derive(Clone, Debug)]
pub enum Step {
    Set(String, Vec<u8>),
    Remove(String),
    Rename(String, String),
    Batch(Vec<Step>),
    Sync,
}

impl Step {
    pub fn ops(&self) -> Vec<BatchOp<'_>> {
        match self {
            Step::Set(key, value) => vec![BatchOp::Set(key, value)],
            Step::Remove(key) => vec![BatchOp::Remove(key)],
            Step::Rename(from, to) => vec![BatchOp::Rename(from, to)],
            Step::Batch(steps) => steps.iter().flat_map(Step::ops).collect(),
            Step::Sync => vec![],
        }
    }

    /// Runs the step on a store.
    pub fn run<K: KvRw>(&self, kv: &K) -> Result<(), KvError> {
        block_on(async {
            match self {
                Step::Set(key, value) => kv.set(key, value).await,
                Step::Remove(key) => kv.remove(key).await,
                Step::Rename(from, to) => kv.rename(from, to).await,
                Step::Batch(_) => kv.batch(&self.ops()).await,
                Step::Sync => kv.sync().await,
            }
        })
    }
}

/// Small test stores: 512-byte blocks, short keys, small values.
pub fn small_options(store_id: u64) -> FormatOptions {
    FormatOptions { store_id, max_key_len: 64, max_value_len: 2048, max_record_len: None }
}

pub fn open_options(durability: Durability) -> OpenOptions {
    OpenOptions { durability, read_only: false }
}

/// A formatted device of `capacity` bytes.
pub fn formatted(capacity: u64, options: &FormatOptions) -> MemDevice {
    let mut dev = MemDevice::new(capacity, 512);
    block_on(DiskKv::format(&mut dev, options)).expect("format");
    dev
}

/// Everything a store holds.
pub fn contents<K: KvRo>(kv: &K) -> Result<State, KvError> {
    let mut out = State::new();
    for (key, size) in ls(kv, "")? {
        let value = block_on(kv.get(&key))?;
        assert_eq!(value.as_ref().len() as u64, size, "size of {key}");
        out.insert(key, value.as_ref().to_vec());
    }
    Ok(out)
}

/// What a copy of `dev` recovers to, opened read-only.
pub fn recovered(dev: &MemDevice) -> Result<State, KvError> {
    let kv = block_on(DiskKv::open(dev.clone(), OpenOptions { read_only: true, ..OpenOptions::default() }))?;
    contents(&kv)
}

/// A short description of how two states differ.
pub fn diff(actual: &State, expected: &State) -> String {
    let mut out = String::new();
    for (key, value) in actual {
        match expected.get(key) {
            None => out += &format!("\n  extra {key} ({} bytes)", value.len()),
            Some(want) if want != value => {
                out += &format!(
                    "\n  wrong {key}: {} bytes {:?}…, want {} bytes {:?}…",
                    value.len(),
                    &value[..value.len().min(8)],
                    want.len(),
                    &want[..want.len().min(8)]
                )
            }
            Some(_) => {}
        }
    }
    for (key, value) in expected {
        if !actual.contains_key(key) {
            out += &format!("\n  missing {key} ({} bytes)", value.len());
        }
    }
    out
}

/// Asserts two states are equal, printing only the differences.
#[track_caller]
pub fn assert_same(actual: &State, expected: &State, context: &str) {
    if actual != expected {
        panic!("{context}:{}", diff(actual, expected));
    }
}
