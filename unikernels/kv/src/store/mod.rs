//! What the commands need of a store ([`Store`]), and the two there are:
//! in memory (`memory.rs`) and on the `storage` block device (`disk.rs`,
//! with Redis keys as store paths in `keys.rs` and a cache of values in
//! `cache.rs`). Times to live are kept by both the same way (`expiry.rs`).

#![allow(async_fn_in_trait)]

mod cache;
mod disk;
mod error;
mod expiry;
pub mod keys;
mod memory;

use core::ops::Bound;

use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;

pub use disk::{DiskStore, Opened};
pub use error::StoreError;
pub use expiry::{Deadline, Expiries, Ttl};
pub use memory::MemStore;

/// Keys and values as Redis sees them: arbitrary bytes, some with a time to
/// live. A key whose deadline has passed ([`Store::set_now`]) is gone to
/// every call here, though the store may hold it until
/// [`Store::remove_expired`] or a write takes it away.
pub trait Store {
    /// The time the calls that follow run at (one command's worth).
    fn set_now(&mut self, now: Deadline);
    /// The value of `key`.
    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `key` has a value.
    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError>;
    /// Sets `key`, with `ttl` saying what becomes of its time to live; the
    /// value and the deadline are written together, all or nothing.
    async fn set(&mut self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<(), StoreError>;
    /// Sets every pair, all or nothing; none keeps a time to live.
    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError>;
    /// Removes the keys that exist, all or nothing; returns how many (keys
    /// that had expired are removed too, and not counted).
    async fn remove_many(&mut self, keys: &[&[u8]]) -> Result<usize, StoreError>;
    /// `key`'s deadline, if it exists and has one.
    fn expiry(&self, key: &[u8]) -> Option<Deadline>;
    /// Gives an existing `key` a deadline, or takes its away (`None`);
    /// `false` when there is no such key.
    async fn set_expiry(&mut self, key: &[u8], deadline: Option<Deadline>) -> Result<bool, StoreError>;
    /// Removes up to `max` keys that have expired, soonest first; returns
    /// how many.
    async fn remove_expired(&mut self, max: usize) -> Result<usize, StoreError>;
    /// How many keys have a time to live.
    fn expiring(&self) -> usize;
    /// Every key, in order.
    fn keys(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.keys_from(Bound::Unbounded)
    }
    /// The keys from `start` on, in order.
    fn keys_from(&self, start: Bound<&[u8]>) -> impl Iterator<Item = Vec<u8>> + '_;
    /// How many keys.
    fn len(&self) -> usize;
    /// Makes every earlier write durable.
    async fn sync(&mut self) -> Result<(), StoreError>;
    /// What it is, for INFO.
    fn describe(&self) -> &'static str;
    /// More `name:value\r\n` lines for INFO's Persistence section.
    async fn persistence_info(&self) -> String {
        String::new()
    }
}
