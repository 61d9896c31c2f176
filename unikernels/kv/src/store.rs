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

/// When a key stops existing: Unix time in milliseconds, as Redis keeps
/// it (EXPIREAT takes one; a restart keeps it).
pub type Deadline = u64;

/// What a write does to the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// The key lives until removed (SET, MSET, GETSET).
    Clear,
    /// It keeps the one it has, if it is still alive (APPEND, INCR, SET
    /// KEEPTTL).
    Keep,
    /// It expires then.
    At(Deadline),
}

/// Keys with a time to live, by key and by deadline, so the next to expire
/// are found without looking at the rest.
#[derive(Debug, Default)]
pub struct Expiries {
    by_key: BTreeMap<Vec<u8>, Deadline>,
    by_time: BTreeSet<(Deadline, Vec<u8>)>,
}

impl Expiries {
    /// `key`'s deadline, if it has one.
    pub fn get(&self, key: &[u8]) -> Option<Deadline> {
        self.by_key.get(key).copied()
    }

    /// Gives `key` a deadline, or none.
    pub fn set(&mut self, key: &[u8], deadline: Option<Deadline>) {
        if let Some(old) = self.by_key.remove(key) {
            self.by_time.remove(&(old, key.to_vec()));
        }
        if let Some(at) = deadline {
            self.by_key.insert(key.to_vec(), at);
            self.by_time.insert((at, key.to_vec()));
        }
    }

    /// Whether `key` has expired at `now`.
    pub fn expired(&self, key: &[u8], now: Deadline) -> bool {
        self.get(key).is_some_and(|at| at <= now)
    }

    /// Keys expired at `now`, soonest first, at most `max`.
    pub fn due(&self, now: Deadline, max: usize) -> Vec<Vec<u8>> {
        self.by_time.iter().take_while(|(at, _)| *at <= now).take(max).map(|(_, k)| k.clone()).collect()
    }

    /// How many keys have expired at `now` (the store still holds them until
    /// they are removed).
    pub fn due_count(&self, now: Deadline) -> usize {
        self.by_time.iter().take_while(|(at, _)| *at <= now).count()
    }

    /// How many keys have a deadline still to come at `now`.
    pub fn pending(&self, now: Deadline) -> usize {
        self.by_key.len() - self.due_count(now)
    }
}

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

/// The deadline a write leaves `key` with, given the one it has.
fn deadline_after(expiries: &Expiries, key: &[u8], ttl: Ttl, now: Deadline) -> Option<Deadline> {
    match ttl {
        Ttl::Clear => None,
        Ttl::Keep => expiries.get(key).filter(|&at| at > now),
        Ttl::At(at) => Some(at),
    }
}

/// Everything in RAM: nothing survives a restart.
#[derive(Debug, Default)]
pub struct MemStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    expiries: Expiries,
    now: Deadline,
}

impl MemStore {
    fn live(&self, key: &[u8]) -> bool {
        self.map.contains_key(key) && !self.expiries.expired(key, self.now)
    }
}

impl Store for MemStore {
    fn set_now(&mut self, now: Deadline) {
        self.now = now;
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(if self.live(key) { self.map.get(key).cloned() } else { None })
    }

    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.live(key))
    }

    async fn set(&mut self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<(), StoreError> {
        let deadline = deadline_after(&self.expiries, key, ttl, self.now);
        self.map.insert(key.to_vec(), value.to_vec());
        self.expiries.set(key, deadline);
        Ok(())
    }

    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        for (k, v) in pairs {
            self.map.insert(k.to_vec(), v.to_vec());
            self.expiries.set(k, None);
        }
        Ok(())
    }

    async fn remove_many(&mut self, keys: &[&[u8]]) -> Result<usize, StoreError> {
        let mut removed = 0;
        for k in keys {
            let live = self.live(k);
            if self.map.remove(*k).is_some() && live {
                removed += 1;
            }
            self.expiries.set(k, None);
        }
        Ok(removed)
    }

    fn expiry(&self, key: &[u8]) -> Option<Deadline> {
        self.expiries.get(key).filter(|_| self.live(key))
    }

    async fn set_expiry(&mut self, key: &[u8], deadline: Option<Deadline>) -> Result<bool, StoreError> {
        if !self.live(key) {
            return Ok(false);
        }
        self.expiries.set(key, deadline);
        Ok(true)
    }

    async fn remove_expired(&mut self, max: usize) -> Result<usize, StoreError> {
        let due = self.expiries.due(self.now, max);
        for k in &due {
            self.map.remove(k);
            self.expiries.set(k, None);
        }
        Ok(due.len())
    }

    fn expiring(&self) -> usize {
        self.expiries.pending(self.now)
    }

    fn keys_from(&self, start: Bound<&[u8]>) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.map
            .range::<[u8], _>((start, Bound::Unbounded))
            .filter(|(k, _)| !self.expiries.expired(k, self.now))
            .map(|(k, _)| k.clone())
    }

    fn len(&self) -> usize {
        self.map.len() - self.expiries.due_count(self.now)
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
    encode_under(PREFIX, key)
}

/// Where a key's deadline is kept: the key encoded as [`encode_key`] does,
/// under `redis-ttl/`, the value the deadline in decimal. Written in the
/// same batch as the value, so the two never disagree after a crash.
pub fn encode_ttl_key(key: &[u8]) -> String {
    encode_under(TTL_PREFIX, key)
}

fn encode_under(prefix: &str, key: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(prefix.len() + 1 + key.len());
    out.push_str(prefix);
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
    decode_under(PREFIX, path)
}

fn decode_under(prefix: &str, path: &str) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(prefix)?.strip_prefix('_')?;
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
const TTL_PREFIX: &str = "redis-ttl/";

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
    expiries: Expiries,
    now: Deadline,
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
async fn looks_blank<D: BlockDevice>(dev: &mut D) -> Result<bool, StoreError> {
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
            dev.read(at, part).await.map_err(|e| StoreError(format!("reading the device at {at}: {e}")))?;
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
    pub async fn open(mut dev: D, store_id: u64, max_value: usize, cache: usize) -> Result<(Self, Opened), StoreError> {
        let options = OpenOptions { durability: Durability::Explicit, read_only: false };
        let mut opened = Opened::Existing;
        let kv = match DiskKv::open(dev, options).await {
            Ok(kv) => kv,
            Err(OpenError { error: KvError::NotAStore, device }) => {
                dev = device;
                if !looks_blank(&mut dev).await? {
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
                    match DiskKv::format(&mut dev, &format).await {
                        Ok(()) => break,
                        Err(KvError::Geometry(_)) if format.max_value_len > 4096 => format.max_value_len /= 2,
                        Err(e) => return Err(StoreError(format!("formatting: {e}"))),
                    }
                }
                opened = Opened::Formatted;
                DiskKv::open(dev, options).await.map_err(|e| StoreError(format!("opening after format: {e}")))?
            }
            Err(e) => return Err(StoreError(format!("opening the store: {e}"))),
        };
        let paths = kv.keys().await;
        let keys: BTreeSet<Vec<u8>> = paths.iter().filter_map(|(path, _)| decode_key(path)).collect();
        let mut expiries = Expiries::default();
        for (path, _) in &paths {
            let Some(key) = decode_under(TTL_PREFIX, path) else { continue };
            let value = kv.get(path).await.map_err(|e| StoreError(format!("reading {path}: {e}")))?;
            // Written only by this server, in one batch with the value. A
            // deadline that does not parse, or whose key is gone (removed
            // with the host tool, or by a server without expiry), is
            // removed now: left, it would fall on a later key of that name.
            match core::str::from_utf8(&value).ok().and_then(|v| v.parse::<Deadline>().ok()) {
                Some(at) if keys.contains(&key) => expiries.set(&key, Some(at)),
                _ => {
                    oasis::log::warn!("removing a bad or stray time to live at {path}");
                    kv.remove(path).await.map_err(|e| StoreError(format!("removing {path}: {e}")))?;
                }
            }
        }
        let cache = ValueCache { budget: cache, ..ValueCache::default() };
        Ok((DiskStore { kv, keys, cache, expiries, now: 0 }, opened))
    }

    /// The store's numbers, for the log and INFO.
    pub async fn info(&self) -> StoreInfo {
        self.kv.info().await
    }

    #[cfg(test)]
    fn into_device(self) -> D {
        self.kv.into_device()
    }
}

fn kv_error(e: KvError) -> StoreError {
    StoreError(format!("{e}"))
}

impl<D: BlockDevice> DiskStore<D> {
    fn live(&self, key: &[u8]) -> bool {
        self.keys.contains(key) && !self.expiries.expired(key, self.now)
    }

    /// Writes `ops` and, for each key in `deadlines`, its deadline (or its
    /// removal), as one batch.
    async fn write_with_deadlines(
        &mut self,
        mut ops: Vec<BatchOp<'_>>,
        deadlines: &[(&[u8], Option<Deadline>)],
    ) -> Result<(), StoreError> {
        let texts: Vec<(String, Option<String>)> = deadlines
            .iter()
            // A deadline unchanged (KEEPTTL, INCR on a key with one, a key
            // without one removed) needs no record.
            .filter(|(k, at)| *at != self.expiries.get(k))
            .map(|(k, at)| (encode_ttl_key(k), at.map(|at| format!("{at}"))))
            .collect();
        for (path, at) in &texts {
            ops.push(match at {
                Some(at) => BatchOp::Set(path, at.as_bytes()),
                None => BatchOp::Remove(path),
            });
        }
        match ops.as_slice() {
            [BatchOp::Set(path, value)] => self.kv.set(path, value).await,
            [BatchOp::Remove(path)] => self.kv.remove(path).await,
            _ => self.kv.batch(&ops).await,
        }
        .map_err(kv_error)?;
        for (k, at) in deadlines {
            self.expiries.set(k, *at);
        }
        Ok(())
    }
}

impl<D: BlockDevice> Store for DiskStore<D> {
    fn set_now(&mut self, now: Deadline) {
        self.now = now;
    }

    async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.live(key) {
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
        Ok(self.live(key))
    }

    async fn set(&mut self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<(), StoreError> {
        let deadline = deadline_after(&self.expiries, key, ttl, self.now);
        let path = encode_key(key);
        self.write_with_deadlines(vec![BatchOp::Set(&path, value)], &[(key, deadline)]).await?;
        self.keys.insert(key.to_vec());
        self.cache.insert(key, value);
        Ok(())
    }

    async fn set_many(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), StoreError> {
        let paths: Vec<String> = pairs.iter().map(|(k, _)| encode_key(k)).collect();
        let ops: Vec<BatchOp<'_>> = paths.iter().zip(pairs).map(|(p, (_, v))| BatchOp::Set(p, v)).collect();
        let mut deadlines: Vec<(&[u8], Option<Deadline>)> = pairs.iter().map(|(k, _)| (*k, None)).collect();
        deadlines.sort_unstable();
        deadlines.dedup();
        self.write_with_deadlines(ops, &deadlines).await?;
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
        let live = present.iter().filter(|k| self.live(k)).count();
        let paths: Vec<String> = present.iter().map(|k| encode_key(k)).collect();
        let ops: Vec<BatchOp<'_>> = paths.iter().map(|p| BatchOp::Remove(p)).collect();
        let deadlines: Vec<(&[u8], Option<Deadline>)> = present.iter().map(|k| (*k, None)).collect();
        self.write_with_deadlines(ops, &deadlines).await?;
        for k in &present {
            self.keys.remove(*k);
            self.cache.remove(k);
        }
        Ok(live)
    }

    fn expiry(&self, key: &[u8]) -> Option<Deadline> {
        self.expiries.get(key).filter(|_| self.live(key))
    }

    async fn set_expiry(&mut self, key: &[u8], deadline: Option<Deadline>) -> Result<bool, StoreError> {
        if !self.live(key) {
            return Ok(false);
        }
        if deadline != self.expiries.get(key) {
            self.write_with_deadlines(Vec::new(), &[(key, deadline)]).await?;
        }
        Ok(true)
    }

    async fn remove_expired(&mut self, max: usize) -> Result<usize, StoreError> {
        let due = self.expiries.due(self.now, max);
        // Each batch all or nothing; one the store refuses (too large for
        // a record, with long keys or a small value limit) is halved.
        let mut batch = due.len().max(1);
        let mut rest = &due[..];
        while !rest.is_empty() {
            let (now, more) = rest.split_at(batch.min(rest.len()));
            let keys: Vec<&[u8]> = now.iter().map(Vec::as_slice).collect();
            match self.remove_many(&keys).await {
                Ok(_) => rest = more,
                Err(_) if batch > 1 => batch /= 2,
                Err(e) => return Err(e),
            }
        }
        Ok(due.len())
    }

    fn expiring(&self) -> usize {
        self.expiries.pending(self.now)
    }

    fn keys_from(&self, start: Bound<&[u8]>) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.keys.range::<[u8], _>((start, Bound::Unbounded)).filter(|k| !self.expiries.expired(k, self.now)).cloned()
    }

    fn len(&self) -> usize {
        self.keys.len() - self.expiries.due_count(self.now)
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        self.kv.sync().await.map_err(kv_error)
    }

    fn describe(&self) -> &'static str {
        "disk"
    }

    async fn persistence_info(&self) -> String {
        let i = self.kv.info().await;
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
    use oasis_kv::testing::MemDevice;
    use oasis_kv::tools::block_on;
    use proptest::prelude::*;

    use oasis_kv::KvRw;

    use super::{DiskStore, Store, Ttl, ValueCache, decode_key, encode_key, encode_ttl_key};

    fn reopen(mut store: DiskStore<MemDevice>) -> DiskStore<MemDevice> {
        block_on(store.sync()).unwrap();
        block_on(DiskStore::open(store.into_device(), 1, 4096, 1 << 20)).unwrap().0
    }

    /// Every path in the store under it, as the host tool would list it.
    fn paths(store: &DiskStore<MemDevice>) -> Vec<String> {
        block_on(store.kv.keys()).into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn deadlines_survive_a_restart_and_go_with_their_keys() {
        let dev = MemDevice::new(1 << 20, 512);
        let (mut store, _) = block_on(DiskStore::open(dev, 1, 4096, 1 << 20)).unwrap();
        store.set_now(1000);
        block_on(store.set(b"soon", b"a", Ttl::At(2000))).unwrap();
        block_on(store.set(b"later", b"b", Ttl::At(9000))).unwrap();
        block_on(store.set(b"never", b"c", Ttl::Clear)).unwrap();
        block_on(store.set_many(&[(b"m", b"d")])).unwrap();
        block_on(store.set_expiry(b"m", Some(5000))).unwrap();
        let mut store = reopen(store);
        store.set_now(1500);
        assert_eq!(store.expiry(b"soon"), Some(2000));
        assert_eq!(store.expiry(b"later"), Some(9000));
        assert_eq!(store.expiry(b"never"), None);
        assert_eq!(store.expiry(b"m"), Some(5000));
        assert_eq!(store.expiring(), 3);
        // Persisting one and overwriting another take their deadlines away
        // on the device too.
        assert!(block_on(store.set_expiry(b"m", None)).unwrap());
        block_on(store.set(b"later", b"b2", Ttl::Clear)).unwrap();
        let mut store = reopen(store);
        store.set_now(2000);
        assert_eq!(store.expiry(b"m"), None);
        assert_eq!(store.expiry(b"later"), None);
        // Past its deadline, a key is gone, then removed with its deadline.
        assert_eq!(block_on(store.get(b"soon")).unwrap(), None);
        assert_eq!(store.len(), 3);
        assert_eq!(block_on(store.remove_expired(10)).unwrap(), 1);
        let mut store = reopen(store);
        store.set_now(2000);
        assert_eq!(store.keys().collect::<Vec<_>>(), vec![b"later".to_vec(), b"m".to_vec(), b"never".to_vec()]);
        assert_eq!(paths(&store), ["redis/_later", "redis/_m", "redis/_never"], "no deadline is left behind");
        // KEEPTTL keeps a live deadline and drops a passed one.
        block_on(store.set(b"k", b"v", Ttl::At(3000))).unwrap();
        block_on(store.set(b"k", b"w", Ttl::Keep)).unwrap();
        assert_eq!(store.expiry(b"k"), Some(3000));
        store.set_now(3000);
        block_on(store.set(b"k", b"x", Ttl::Keep)).unwrap();
        assert_eq!(store.expiry(b"k"), None);
        assert_eq!(block_on(store.get(b"k")).unwrap(), Some(b"x".to_vec()));
        // Removing keys takes their deadlines; an expired one is not counted.
        block_on(store.set(b"e", b"v", Ttl::At(3500))).unwrap();
        block_on(store.set(b"f", b"v", Ttl::At(2500))).unwrap();
        assert_eq!(block_on(store.remove_many(&[b"e", b"f", b"absent"])).unwrap(), 1);
        let store = reopen(store);
        assert!(paths(&store).iter().all(|p| !p.starts_with("redis-ttl/")), "{:?}", paths(&store));
    }

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

    #[test]
    fn a_sweep_too_large_for_one_record_goes_in_smaller_batches() {
        // Values up to 4 KiB: a record of about 16 KiB, less than 300
        // removals of long keys and their deadlines.
        let (mut store, _) = block_on(DiskStore::open(MemDevice::new(4 << 20, 512), 1, 4096, 1 << 20)).unwrap();
        store.set_now(1000);
        for i in 0..300 {
            let key = format!("{i:0>60}");
            block_on(store.set(key.as_bytes(), b"v", Ttl::At(2000))).unwrap();
        }
        store.set_now(2000);
        assert_eq!(block_on(store.remove_expired(300)).unwrap(), 300);
        let store = reopen(store);
        assert!(paths(&store).is_empty(), "{} paths left", paths(&store).len());
    }

    #[test]
    fn a_stray_deadline_is_removed_on_open_and_never_falls_on_a_new_key() {
        let (store, _) = block_on(DiskStore::open(MemDevice::new(1 << 20, 512), 1, 4096, 1 << 20)).unwrap();
        // As a server without expiry, or the host tool, would leave it.
        block_on(store.kv.set(&encode_ttl_key(b"k"), b"5000")).unwrap();
        block_on(store.kv.set(&encode_ttl_key(b"bad"), b"soon")).unwrap();
        let mut store = reopen(store);
        assert!(paths(&store).is_empty(), "{:?}", paths(&store));
        store.set_now(1000);
        block_on(store.set(b"k", b"v", Ttl::Clear)).unwrap();
        let mut store = reopen(store);
        store.set_now(9000);
        assert_eq!(store.expiry(b"k"), None);
        assert_eq!(block_on(store.get(b"k")).unwrap(), Some(b"v".to_vec()));
    }

    /// One step of [`the_disk_store_behaves_as_the_memory_store`].
    #[derive(Clone, Debug)]
    enum Step {
        Set(u8, u8, Option<u16>, bool),
        SetMany(Vec<(u8, u8)>),
        Remove(Vec<u8>),
        Expire(u8, Option<u16>),
        RemoveExpired(u8),
        Wait(u16),
        Restart,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..8u8, any::<u8>(), proptest::option::of(0..3000u16), any::<bool>())
                .prop_map(|(k, v, ttl, keep)| Step::Set(k, v, ttl, keep)),
            1 => proptest::collection::vec((0..8u8, any::<u8>()), 1..4).prop_map(Step::SetMany),
            1 => proptest::collection::vec(0..8u8, 1..4).prop_map(Step::Remove),
            2 => (0..8u8, proptest::option::of(0..3000u16)).prop_map(|(k, ttl)| Step::Expire(k, ttl)),
            1 => (0..4u8).prop_map(Step::RemoveExpired),
            2 => (0..1500u16).prop_map(Step::Wait),
            1 => Just(Step::Restart),
        ]
    }

    proptest! {
        /// Values, deadlines, the keys listed and their count agree after
        /// every step, restarts included, however time passes.
        #[test]
        fn the_disk_store_behaves_as_the_memory_store(steps in proptest::collection::vec(step(), 1..60)) {
            let mut now = 1_000_000u64;
            let mut mem = super::MemStore::default();
            let (mut disk, _) = block_on(DiskStore::open(MemDevice::new(1 << 20, 512), 1, 4096, 256)).unwrap();
            for step in steps {
                mem.set_now(now);
                disk.set_now(now);
                let key = |k: u8| vec![b'k', b'0' + k];
                match &step {
                    Step::Set(k, v, ttl, keep) => {
                        let ttl = match (ttl, keep) {
                            (Some(ms), _) => Ttl::At(now + u64::from(*ms)),
                            (None, true) => Ttl::Keep,
                            (None, false) => Ttl::Clear,
                        };
                        block_on(mem.set(&key(*k), &[*v], ttl)).unwrap();
                        block_on(disk.set(&key(*k), &[*v], ttl)).unwrap();
                    }
                    Step::SetMany(pairs) => {
                        let owned: Vec<(Vec<u8>, [u8; 1])> = pairs.iter().map(|(k, v)| (key(*k), [*v])).collect();
                        let pairs: Vec<(&[u8], &[u8])> = owned.iter().map(|(k, v)| (k.as_slice(), &v[..])).collect();
                        block_on(mem.set_many(&pairs)).unwrap();
                        block_on(disk.set_many(&pairs)).unwrap();
                    }
                    Step::Remove(keys) => {
                        let owned: Vec<Vec<u8>> = keys.iter().map(|k| key(*k)).collect();
                        let keys: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                        prop_assert_eq!(block_on(mem.remove_many(&keys)).unwrap(), block_on(disk.remove_many(&keys)).unwrap());
                    }
                    Step::Expire(k, ttl) => {
                        let at = ttl.map(|ms| now + u64::from(ms));
                        prop_assert_eq!(block_on(mem.set_expiry(&key(*k), at)).unwrap(), block_on(disk.set_expiry(&key(*k), at)).unwrap());
                    }
                    Step::RemoveExpired(max) => {
                        let max = usize::from(*max);
                        prop_assert_eq!(block_on(mem.remove_expired(max)).unwrap(), block_on(disk.remove_expired(max)).unwrap());
                    }
                    Step::Wait(ms) => now += u64::from(*ms),
                    Step::Restart => disk = reopen(disk),
                }
                mem.set_now(now);
                disk.set_now(now);
                prop_assert_eq!(mem.keys().collect::<Vec<_>>(), disk.keys().collect::<Vec<_>>(), "after {:?}", step);
                prop_assert_eq!(mem.len(), disk.len());
                prop_assert_eq!(mem.expiring(), disk.expiring());
                for k in 0..8 {
                    prop_assert_eq!(mem.expiry(&key(k)), disk.expiry(&key(k)));
                    prop_assert_eq!(block_on(mem.get(&key(k))).unwrap(), block_on(disk.get(&key(k))).unwrap());
                }
            }
        }

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
