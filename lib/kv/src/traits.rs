//! The key-value signatures applications program against, modelled on
//! MirageOS's `Mirage_kv.RO` and `RW`.
//!
//! The methods are `async` because applications await them and a store may
//! have to wait: [`crate::DiskKv`] for its block device's requests, or for
//! another task's operation to finish. [`crate::StaticKv`] never waits, nor
//! does `DiskKv` over a device whose requests complete at once (the
//! hypercall devices, `FileDevice`, `MemDevice`): one poll completes them,
//! and [`crate::tools::block_on`] runs them from synchronous code. Keys
//! are paths (see [`crate::key`]); values are bytes.
//!
//! Semantics shared by every implementation:
//! - a key names either a value or a dictionary (the keys below it), never
//!   both; the root `""` is always a dictionary;
//! - `set` under a value is refused ([`KvError::NotADictionary`]), and so is
//!   `set` on a dictionary ([`KvError::NotAValue`]);
//! - `remove` removes a value or a whole dictionary; removing what is not
//!   there succeeds and changes nothing;
//! - `rename` moves a value or a whole dictionary: it is *remove the
//!   source, then set each moved value at its new key*, done atomically, so
//!   it may overwrite values at the destination and follows `set`'s rules.

#![allow(async_fn_in_trait)]

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::KvError;

/// What a key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// A value: bytes.
    Value,
    /// A dictionary: the keys below it.
    Dictionary,
}

/// One step of an atomic [`KvRw::batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Sets a value.
    Set(&'a str, &'a [u8]),
    /// Removes a value or a dictionary.
    Remove(&'a str),
    /// Moves a value or a dictionary (from, to).
    Rename(&'a str, &'a str),
}

/// A read-only store.
pub trait KvRo {
    /// What `get` returns: borrowed for compiled-in data, owned for data
    /// read from a device.
    type Value: AsRef<[u8]>;

    /// What `key` names, if anything.
    async fn exists(&self, key: &str) -> Result<Option<EntryKind>, KvError>;

    /// The value at `key`.
    async fn get(&self, key: &str) -> Result<Self::Value, KvError>;

    /// `len` bytes of the value at `key` from `offset`: fewer at the end of
    /// the value, none when `offset` is at or past it.
    async fn get_partial(&self, key: &str, offset: u64, len: usize) -> Result<Self::Value, KvError>;

    /// The direct children of dictionary `prefix` (`""` for the root) as
    /// full keys, sorted, each with its kind.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, EntryKind)>, KvError>;

    /// The size in bytes of the value at `key`.
    async fn size(&self, key: &str) -> Result<u64, KvError>;

    /// The SHA-256 digest of the value at `key`.
    async fn digest(&self, key: &str) -> Result<[u8; 32], KvError>;

    /// When the value at `key` was last changed, in the store's own time
    /// unit (each store documents it).
    async fn last_modified(&self, key: &str) -> Result<u64, KvError>;
}

/// A read-write store.
pub trait KvRw: KvRo {
    /// Sets the value at `key`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;

    /// Removes the value or the whole dictionary at `key`.
    async fn remove(&self, key: &str) -> Result<(), KvError>;

    /// Applies `ops` in order, all or nothing: if one is refused none is
    /// applied, and a crash leaves either all of them or none.
    async fn batch(&self, ops: &[BatchOp<'_>]) -> Result<(), KvError>;

    /// Moves the value or dictionary at `from` to `to`, atomically.
    async fn rename(&self, from: &str, to: &str) -> Result<(), KvError>;

    /// Returns once every change made so far is durable.
    async fn sync(&self) -> Result<(), KvError>;
}
