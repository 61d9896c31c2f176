//! Times to live: each key's deadline, indexed by key and by time, so the
//! next keys to expire are found without looking at the rest.

use oasis::alloc::collections::{BTreeMap, BTreeSet};
use oasis::alloc::vec::Vec;

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

/// Keys with a time to live, by key and by deadline.
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

    /// The deadline a write leaves `key` with at `now`, given the one it
    /// has.
    pub fn after_write(&self, key: &[u8], ttl: Ttl, now: Deadline) -> Option<Deadline> {
        match ttl {
            Ttl::Clear => None,
            Ttl::Keep => self.get(key).filter(|&at| at > now),
            Ttl::At(at) => Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_found_by_key_and_by_time() {
        let mut e = Expiries::default();
        e.set(b"a", Some(30));
        e.set(b"b", Some(10));
        e.set(b"c", Some(20));
        e.set(b"c", Some(40));
        e.set(b"d", None);
        assert_eq!(e.get(b"c"), Some(40));
        assert_eq!(e.get(b"d"), None);
        assert_eq!(e.due(30, 10), [b"b".to_vec(), b"a".to_vec()]);
        assert_eq!(e.due(30, 1), [b"b".to_vec()]);
        assert_eq!((e.due_count(30), e.pending(30)), (2, 1));
        assert!(e.expired(b"a", 30) && !e.expired(b"a", 29) && !e.expired(b"d", 99));
        e.set(b"a", None);
        assert_eq!(e.due(99, 10), [b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn writes_clear_keep_or_set_the_deadline() {
        let mut e = Expiries::default();
        e.set(b"k", Some(100));
        assert_eq!(e.after_write(b"k", Ttl::Clear, 50), None);
        assert_eq!(e.after_write(b"k", Ttl::Keep, 50), Some(100));
        assert_eq!(e.after_write(b"k", Ttl::Keep, 100), None, "a deadline passed is not kept");
        assert_eq!(e.after_write(b"k", Ttl::At(7), 50), Some(7));
        assert_eq!(e.after_write(b"new", Ttl::Keep, 50), None);
    }
}
