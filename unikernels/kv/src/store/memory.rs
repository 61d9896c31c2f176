//! The store in RAM (`--storage memory`): nothing survives a restart.

use core::ops::Bound;

use oasis::alloc::collections::BTreeMap;
use oasis::alloc::vec::Vec;

use super::{Deadline, Expiries, Store, StoreError, Ttl};

/// Keys and values in a map.
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
        let deadline = self.expiries.after_write(key, ttl, self.now);
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
