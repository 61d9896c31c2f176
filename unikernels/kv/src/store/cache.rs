//! Values kept in memory so a GET need not read the device: the ones
//! written or read lately, up to a byte budget (`--cache`). A cached value
//! is the bytes that were written, or that passed their checksum when
//! read. Eviction goes round the keys in order from where it last stopped
//! — cheap, and fair enough for a cache that mostly holds the working set.

use oasis::alloc::collections::BTreeMap;
use oasis::alloc::vec::Vec;

/// The cache, with its counters for INFO.
#[derive(Debug, Default)]
pub struct ValueCache {
    values: BTreeMap<Vec<u8>, Vec<u8>>,
    /// What it holds, counted as [`ValueCache::cost`] counts.
    pub bytes: usize,
    /// The most it holds.
    pub budget: usize,
    evict_from: Vec<u8>,
    /// Lookups that found a value.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
}

impl ValueCache {
    /// A cache of `budget` bytes (0: it caches nothing).
    pub fn new(budget: usize) -> Self {
        ValueCache { budget, ..ValueCache::default() }
    }

    /// What a value costs the budget: its key and bytes, and a guess at
    /// the map's overhead.
    fn cost(key: &[u8], value: &[u8]) -> usize {
        key.len() + value.len() + 64
    }

    /// The value of `key`, if cached.
    pub fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let found = self.values.get(key).cloned();
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.values.remove(key) {
            self.bytes -= Self::cost(key, &old);
        }
    }

    /// Keeps `value` as `key`'s, evicting others to fit; a value over an
    /// eighth of the budget is not kept (and an older one is forgotten).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.remove(key);
        let cost = Self::cost(key, value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_to_its_budget_and_its_values_are_current() {
        let mut cache = ValueCache::new(4096);
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
}
