//! What the commands need of a store, and the in-memory one.

#![allow(async_fn_in_trait)]

use core::fmt;
use core::ops::Bound;

use oasis::alloc::collections::{BTreeMap, BTreeSet};
use oasis::alloc::format;
use oasis::alloc::string::String;
use oasis::alloc::vec;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis_kv::{BatchOp, DiskKv, Durability, FormatOptions, KvError, KvRo, KvRw, OpenError, OpenOptions, StoreInfo};

/// A store failure, reported to the client as `-ERR …`.
#[derive(Debug)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys and values as Redis sees them: arbitrary bytes.
pub trait Store {
    /// The value of `key`.
    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `key` has a value.
    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError>;
    /// Sets `key`.
    async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Sets every pair, all or nothing.
    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError>;
    /// Removes the keys that exist, all or nothing; returns how many.
    async fn remove_many(&mut self, keys: &[&[u8]]) -> Result<usize, StoreError>;
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
    fn persistence_info(&self) -> String {
        String::new()
    }
}

/// Everything in RAM: nothing survives a restart.
#[derive(Debug, Default)]
pub struct MemStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Store for MemStore {
    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.map.contains_key(key))
    }

    async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        for (k, v) in pairs {
            self.map.insert(k.to_vec(), v.to_vec());
        }
        Ok(())
    }

    async fn remove_many(&mut self, keys: &[&[u8]]) -> Result<usize, StoreError> {
        Ok(keys.iter().filter(|k| self.map.remove(**k).is_some()).count())
    }

    fn keys_from(&self, start: Bound<&[u8]>) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.map.range::<[u8], _>((start, Bound::Unbounded)).map(|(k, _)| k.clone())
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "memory"
    }
}

/// Redis keys are arbitrary bytes; store keys are `/`-separated paths. Each
/// Redis key becomes one segment under `redis/`: `_` then the key with
/// every byte outside `[A-Za-z0-9.:-]` written `%XX`. The `_` keeps the
/// segment from being empty, `.` or `..`; `%` and `/` are always escaped,
/// so the mapping is one-to-one and needs no dictionaries.
pub fn encode_key(key: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(PREFIX.len() + 1 + key.len());
    out.push_str(PREFIX);
    out.push('_');
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// The Redis key [`encode_key`] made `path` from, if it made it.
pub fn decode_key(path: &str) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(PREFIX)?.strip_prefix('_')?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16).filter(|_| !c.is_ascii_lowercase());
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

const PREFIX: &str = "redis/";

/// How a [`DiskStore`] came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// It held a store.
    Existing,
    /// It was blank (all zeroes) and was formatted.
    Formatted,
}

/// The crash-safe store on the `storage` block device (`oasis-kv`'s
/// [`DiskKv`]). Writes are not synced one by one: the server batches the
/// flushes of concurrent writes (group commit) and calls [`Store::sync`].
pub struct DiskStore<D: BlockDevice> {
    kv: DiskKv<D>,
    /// Redis keys, kept sorted for KEYS and DBSIZE (the store's index is
    /// in memory too; this is the decoded view of it).
    keys: BTreeSet<Vec<u8>>,
    cache: ValueCache,
}

/// Values kept in memory so a GET need not read the device: the ones
/// written or read lately, up to a byte budget. A cached value is the
/// bytes that were written, or that passed their checksum when read.
/// Eviction goes round the keys in order from where it last stopped —
/// cheap, and fair enough for a cache that mostly holds the working set.
#[derive(Debug, Default)]
struct ValueCache {
    values: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
    budget: usize,
    evict_from: Vec<u8>,
    hits: u64,
    misses: u64,
}

impl ValueCache {
    fn cost(key: &[u8], value: &[u8]) -> usize {
        key.len() + value.len() + 64
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let found = self.values.get(key).cloned();
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.values.remove(key) {
            self.bytes -= Self::cost(key, &old);
        }
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.remove(key);
        let cost = Self::cost(key, value);
        // One value may take at most an eighth of the cache.
        if cost > self.budget / 8 {
            return;
        }
        while self.bytes + cost > self.budget {
            let victim = match self.values.range(self.evict_from.clone()..).next() {
                Some((k, _)) => k.clone(),
                None => match self.values.keys().next() {
                    Some(k) => k.clone(),
                    None => break,
                },
            };
            self.remove(&victim);
            self.evict_from = victim;
        }
        self.bytes += cost;
        self.values.insert(key.to_vec(), value.to_vec());
    }
}

/// Whether `dev` looks blank, so formatting it loses nothing: its first
/// and last MiB and the first 4 KiB of every MiB between are zeroes. Every
/// file system, partition table and volume format (MBR and GPT with its
/// backup at the end, ext4's block groups, XFS, btrfs, LVM, LUKS, ZFS's
/// labels at both ends, RAID superblocks) writes there, and reading the
/// whole device would take minutes where I/O is slow (emulated KVM).
fn looks_blank<D: BlockDevice>(dev: &mut D) -> Result<bool, StoreError> {
    const MIB: u64 = 1 << 20;
    const SAMPLE: u64 = 4096;
    let info = dev.info();
    let block = u64::from(info.block_size.max(1));
    let capacity = info.capacity / block * block;
    let round_up = |n: u64| n.div_ceil(block) * block;
    let mut spans: Vec<(u64, u64)> = vec![(0, MIB.min(capacity)), (capacity.saturating_sub(MIB), capacity)];
    let mut at = MIB;
    while at + MIB < capacity {
        spans.push((at, (at + round_up(SAMPLE)).min(capacity)));
        at += MIB;
    }
    // Compared a word at a time: guests have no SIMD, and on emulated KVM
    // every instruction counts.
    let chunk = round_up(64 << 10);
    let mut buf = vec![0u8; chunk as usize];
    for (start, end) in spans {
        let mut at = start;
        while at < end {
            let part = &mut buf[..chunk.min(end - at) as usize];
            dev.read(at, part).map_err(|e| StoreError(format!("reading the device at {at}: {e}")))?;
            let mut words = part.chunks_exact(8);
            if words.any(|w| w != [0u8; 8]) || words.remainder().iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += part.len() as u64;
        }
    }
    Ok(true)
}

impl<D: BlockDevice> DiskStore<D> {
    /// Opens the store on `dev`, formatting it first when the device looks
    /// blank ([`looks_blank`]). A device holding anything else is refused,
    /// untouched.
    pub fn open(mut dev: D, store_id: u64, max_value: usize, cache: usize) -> Result<(Self, Opened), StoreError> {
        let options = OpenOptions { durability: Durability::Explicit, read_only: false };
        let mut opened = Opened::Existing;
        let kv = match DiskKv::open(dev, options) {
            Ok(kv) => kv,
            Err(OpenError { error: KvError::NotAStore, device }) => {
                dev = device;
                if !looks_blank(&mut dev)? {
                    return Err(StoreError(
                        "the storage device holds something that is not an Oasis store; refusing to format over \
                         it (give a blank device, or format one with `oasis kv format`)"
                            .into(),
                    ));
                }
                let mut format = FormatOptions::new(store_id);
                format.max_key_len = 4096;
                format.max_value_len = u32::try_from(max_value).unwrap_or(u32::MAX);
                // A record must fit an eighth of the log: on a small device
                // the value limit comes down until it does.
                loop {
                    match DiskKv::format(&mut dev, &format) {
                        Ok(()) => break,
                        Err(KvError::Geometry(_)) if format.max_value_len > 4096 => format.max_value_len /= 2,
                        Err(e) => return Err(StoreError(format!("formatting: {e}"))),
                    }
                }
                opened = Opened::Formatted;
                DiskKv::open(dev, options).map_err(|e| StoreError(format!("opening after format: {e}")))?
            }
            Err(e) => return Err(StoreError(format!("opening the store: {e}"))),
        };
        let keys = kv.keys().into_iter().filter_map(|(path, _)| decode_key(&path)).collect();
        let cache = ValueCache { budget: cache, ..ValueCache::default() };
        Ok((DiskStore { kv, keys, cache }, opened))
    }

    /// The store's numbers, for the log and INFO.
    pub fn info(&self) -> StoreInfo {
        self.kv.info()
    }
}

fn kv_error(e: KvError) -> StoreError {
    StoreError(format!("{e}"))
}

impl<D: BlockDevice> Store for DiskStore<D> {
    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.keys.contains(key) {
            return Ok(None);
        }
        if let Some(v) = self.cache.get(key) {
            return Ok(Some(v));
        }
        match self.kv.get(&encode_key(key)).await {
            Ok(v) => {
                self.cache.insert(key, &v);
                Ok(Some(v))
            }
            Err(KvError::NotFound(_)) => Ok(None),
            Err(e) => Err(kv_error(e)),
        }
    }

    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.keys.contains(key))
    }

    async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.kv.set(&encode_key(key), value).await.map_err(kv_error)?;
        self.keys.insert(key.to_vec());
        self.cache.insert(key, value);
        Ok(())
    }

    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        let paths: Vec<String> = pairs.iter().map(|(k, _)| encode_key(k)).collect();
        let ops: Vec<BatchOp<'_>> = paths.iter().zip(pairs).map(|(p, (_, v))| BatchOp::Set(p, v)).collect();
        self.kv.batch(&ops).await.map_err(kv_error)?;
        for (k, v) in pairs {
            self.keys.insert(k.to_vec());
            self.cache.insert(k, v);
        }
        Ok(())
    }

    async fn remove_many(&mut self, keys: &[&[u8]]) -> Result<usize, StoreError> {
        let mut present: Vec<&[u8]> = keys.iter().copied().filter(|k| self.keys.contains(*k)).collect();
        present.sort_unstable();
        present.dedup();
        if present.is_empty() {
            return Ok(0);
        }
        let paths: Vec<String> = present.iter().map(|k| encode_key(k)).collect();
        let ops: Vec<BatchOp<'_>> = paths.iter().map(|p| BatchOp::Remove(p)).collect();
        self.kv.batch(&ops).await.map_err(kv_error)?;
        for k in &present {
            self.keys.remove(*k);
            self.cache.remove(k);
        }
        Ok(present.len())
    }

    fn keys_from(&self, start: Bound<&[u8]>) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.keys.range::<[u8], _>((start, Bound::Unbounded)).cloned()
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        self.kv.sync().await.map_err(kv_error)
    }

    fn describe(&self) -> &'static str {
        "disk"
    }

    fn persistence_info(&self) -> String {
        let i = self.kv.info();
        format!(
            "disk_capacity:{}\r\ndisk_log_used:{}\r\ndisk_live_bytes:{}\r\ndisk_usable_bytes:{}\r\n\
             disk_generation:{}\r\ncache_bytes:{}\r\ncache_budget:{}\r\ncache_hits:{}\r\ncache_misses:{}\r\n",
            i.capacity,
            i.log_used,
            i.live_bytes,
            i.usable_bytes,
            i.generation,
            self.cache.bytes,
            self.cache.budget,
            self.cache.hits,
            self.cache.misses
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{ValueCache, decode_key, encode_key};

    #[test]
    fn the_cache_keeps_to_its_budget_and_its_values_are_current() {
        let mut cache = ValueCache { budget: 4096, ..ValueCache::default() };
        for i in 0..1000u32 {
            cache.insert(&i.to_be_bytes(), &[i as u8; 100]);
            assert!(cache.bytes <= 4096);
        }
        assert!(cache.values.len() > 10, "it holds something");
        let held: usize = cache.values.iter().map(|(k, v)| ValueCache::cost(k, v)).sum();
        assert_eq!(held, cache.bytes);
        // The newest value of a key, or nothing.
        cache.insert(&999u32.to_be_bytes(), b"new");
        assert_eq!(cache.get(&999u32.to_be_bytes()), Some(b"new".to_vec()));
        cache.remove(&999u32.to_be_bytes());
        assert_eq!(cache.get(&999u32.to_be_bytes()), None);
        // Too large for it: not cached, and an older value is dropped.
        cache.insert(b"k", b"small");
        cache.insert(b"k", &[0; 1000]);
        assert_eq!(cache.get(b"k"), None);
        let mut off = ValueCache::default();
        off.insert(b"k", b"v");
        assert_eq!(off.get(b"k"), None, "a budget of 0 caches nothing");
    }

    #[test]
    fn readable_keys_stay_readable() {
        assert_eq!(encode_key(b"user:1000"), "redis/_user:1000");
        assert_eq!(encode_key(b""), "redis/_");
        assert_eq!(encode_key(b".."), "redis/_..");
        assert_eq!(encode_key(b"a/b c%"), "redis/_a%2Fb%20c%25");
    }

    #[test]
    fn foreign_paths_are_not_keys() {
        for path in ["other/_x", "redis/x", "redis/_%2", "redis/_%zz", "redis/_%2f"] {
            assert_eq!(decode_key(path), None, "{path}");
        }
    }

    proptest! {
        #[test]
        fn every_key_round_trips_as_one_valid_segment(key in proptest::collection::vec(any::<u8>(), 0..300)) {
            let path = encode_key(&key);
            prop_assert!(oasis_kv::key::check_key(&path, 4096).is_ok());
            prop_assert_eq!(path.matches('/').count(), 1);
            prop_assert!(path.len() <= 7 + 3 * key.len());
            prop_assert_eq!(decode_key(&path), Some(key));
        }
    }
}
