//! The crash-safe store on the `storage` block device: `oasis-kv`'s
//! [`DiskKv`], with Redis keys as paths (`keys.rs`), their deadlines
//! written in the same batches as their values, and a cache of values.

use core::ops::Bound;

use oasis::alloc::collections::BTreeSet;
use oasis::alloc::format;
use oasis::alloc::string::String;
use oasis::alloc::vec;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis_kv::disk::limits::KEY_LEN_LIMIT;
use oasis_kv::{BatchOp, DiskKv, Durability, FormatOptions, KvError, KvRo, KvRw, OpenError, OpenOptions, StoreInfo};

use super::cache::ValueCache;
use super::keys::{decode_key, decode_ttl_key, encode_key, encode_ttl_key};
use super::{Deadline, Expiries, Store, StoreError, Ttl};

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
            dev.read(at, part).await.map_err(|cause| StoreError::Probe { at, cause })?;
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
                    return Err(StoreError::Foreign);
                }
                let mut format = FormatOptions::new(store_id);
                // Room for every key --max-key allows, escaped.
                format.max_key_len = KEY_LEN_LIMIT;
                format.max_value_len = u32::try_from(max_value).unwrap_or(u32::MAX);
                // A record must fit an eighth of the log: on a small device
                // the value limit comes down until it does.
                loop {
                    match DiskKv::format(&mut dev, &format).await {
                        Ok(()) => break,
                        Err(KvError::Geometry(_)) if format.max_value_len > 4096 => format.max_value_len /= 2,
                        Err(e) => return Err(StoreError::Format(e)),
                    }
                }
                opened = Opened::Formatted;
                DiskKv::open(dev, options).await.map_err(|e| StoreError::OpenFormatted(e.error))?
            }
            Err(e) => return Err(StoreError::Open(e.error)),
        };
        let paths = kv.keys().await;
        let keys: BTreeSet<Vec<u8>> = paths.iter().filter_map(|(path, _)| decode_key(path)).collect();
        let mut expiries = Expiries::default();
        for (path, _) in &paths {
            let Some(key) = decode_ttl_key(path) else { continue };
            let value = kv.get(path).await.map_err(|cause| StoreError::ReadTtl { path: path.clone(), cause })?;
            // Written only by this server, in one batch with the value. A
            // deadline that does not parse, or whose key is gone (removed
            // with the host tool, or by a server without expiry), is
            // removed now: left, it would fall on a later key of that name.
            match core::str::from_utf8(&value).ok().and_then(|v| v.parse::<Deadline>().ok()) {
                Some(at) if keys.contains(&key) => expiries.set(&key, Some(at)),
                _ => {
                    oasis::log::warn!("removing a bad or stray time to live at {path}");
                    kv.remove(path).await.map_err(|cause| StoreError::RemoveTtl { path: path.clone(), cause })?;
                }
            }
        }
        Ok((DiskStore { kv, keys, cache: ValueCache::new(cache), expiries, now: 0 }, opened))
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
        }?;
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
            Err(e) => Err(e.into()),
        }
    }

    async fn contains(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.live(key))
    }

    async fn set(&mut self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<(), StoreError> {
        let deadline = self.expiries.after_write(key, ttl, self.now);
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
        Ok(self.kv.sync().await?)
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

    use super::super::MemStore;
    use super::{DiskStore, Store, Ttl, encode_ttl_key};

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
            let mut mem = MemStore::default();
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
    }
}
