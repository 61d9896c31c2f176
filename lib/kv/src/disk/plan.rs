//! Checks a batch of operations against the tree rules before anything is
//! written, on an overlay of the index, and works out the live data the
//! store would hold afterwards. Nothing is written unless the whole batch
//! passes, which is what makes a refused batch change nothing.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;

use super::index::{Index, cost};
use crate::error::KvError;
use crate::key::{after_subtree, ancestors, children_start, is_within, valid_key};
use crate::traits::EntryKind;

/// The index as it would be after the operations planned so far.
pub(crate) struct Plan<'i> {
    base: &'i Index,
    /// Changed keys: the new value length, or `None` when removed.
    changes: BTreeMap<String, Option<u64>>,
    live_bytes: u64,
    max_key_len: usize,
}

impl<'i> Plan<'i> {
    pub(crate) fn new(base: &'i Index, max_key_len: usize) -> Self {
        Plan { base, changes: BTreeMap::new(), live_bytes: base.live_bytes(), max_key_len }
    }

    /// Whether the planned operations change anything.
    pub(crate) fn changes_anything(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Live bytes after the planned operations.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    fn value_len(&self, key: &str) -> Option<u64> {
        match self.changes.get(key) {
            Some(change) => *change,
            None => self.base.get(key).map(|entry| u64::from(entry.value_len)),
        }
    }

    /// Every value inside dictionary `key` as `(key, length)`.
    fn subtree(&self, key: &str) -> Vec<(String, u64)> {
        let start = children_start(key);
        let end = after_subtree(key);
        let mut out: BTreeMap<String, u64> = self
            .base
            .subtree(key)
            .filter(|(k, _)| !self.changes.contains_key(*k))
            .map(|(k, entry)| (String::from(k), u64::from(entry.value_len)))
            .collect();
        let range = (Bound::Included(start), Bound::Excluded(end));
        for (k, change) in self.changes.range::<String, _>(range) {
            if let Some(len) = change {
                out.insert(k.clone(), *len);
            }
        }
        out.into_iter().collect()
    }

    fn has_children(&self, key: &str) -> bool {
        let start = children_start(key);
        let end = after_subtree(key);
        let range = (Bound::Included(start), Bound::Excluded(end));
        self.changes.range::<String, _>(range).any(|(_, change)| change.is_some())
            || self.base.subtree(key).any(|(k, _)| !self.changes.contains_key(k))
    }

    fn kind(&self, key: &str) -> Option<EntryKind> {
        if self.value_len(key).is_some() {
            Some(EntryKind::Value)
        } else if self.has_children(key) {
            Some(EntryKind::Dictionary)
        } else {
            None
        }
    }

    fn put(&mut self, key: &str, len: Option<u64>) {
        if let Some(old) = self.value_len(key) {
            self.live_bytes -= cost(key.len(), old);
        }
        if let Some(new) = len {
            self.live_bytes += cost(key.len(), new);
        }
        self.changes.insert(String::from(key), len);
    }

    /// Plans setting `key` to a value of `len` bytes.
    pub(crate) fn set(&mut self, key: &str, len: u64) -> Result<(), KvError> {
        valid_key(key, self.max_key_len)?;
        for parent in ancestors(key) {
            if self.value_len(parent).is_some() {
                return Err(KvError::NotADictionary(String::from(parent)));
            }
        }
        if self.has_children(key) {
            return Err(KvError::NotAValue(String::from(key)));
        }
        self.put(key, Some(len));
        Ok(())
    }

    /// Plans removing `key` and everything inside it.
    pub(crate) fn remove(&mut self, key: &str) -> Result<(), KvError> {
        valid_key(key, self.max_key_len)?;
        self.remove_checked(key);
        Ok(())
    }

    fn remove_checked(&mut self, key: &str) {
        if self.value_len(key).is_some() {
            self.put(key, None);
        }
        for (k, _) in self.subtree(key) {
            self.put(&k, None);
        }
    }

    /// Plans moving `from` (a value or a dictionary) to `to`.
    pub(crate) fn rename(&mut self, from: &str, to: &str) -> Result<(), KvError> {
        valid_key(from, self.max_key_len)?;
        valid_key(to, self.max_key_len)?;
        if from == to {
            return match self.kind(from) {
                Some(_) => Ok(()),
                None => Err(KvError::NotFound(String::from(from))),
            };
        }
        if is_within(to, from) {
            return Err(KvError::RenameIntoItself { from: String::from(from), to: String::from(to) });
        }
        let mut moved: Vec<(String, u64)> = Vec::new();
        if let Some(len) = self.value_len(from) {
            moved.push((String::new(), len));
        }
        for (k, len) in self.subtree(from) {
            moved.push((String::from(&k[from.len()..]), len));
        }
        if moved.is_empty() {
            return Err(KvError::NotFound(String::from(from)));
        }
        self.remove_checked(from);
        for (suffix, len) in moved {
            let mut key = String::from(to);
            key.push_str(&suffix);
            self.set(&key, len)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::index::Entry;

    fn index(keys: &[&str]) -> Index {
        let mut index = Index::default();
        for (i, key) in keys.iter().enumerate() {
            index.insert(key, Entry { pos: i as u64 * 8, seq: 0, epoch: 0, key_len: 0, value_len: 1, modified: 0 });
        }
        index
    }

    #[test]
    fn set_rules() {
        let base = index(&["a", "d/x"]);
        let mut plan = Plan::new(&base, 64);
        assert_eq!(plan.set("a/b", 1), Err(KvError::NotADictionary("a".into())));
        assert_eq!(plan.set("d", 1), Err(KvError::NotAValue("d".into())));
        plan.remove("d").unwrap();
        assert_eq!(plan.set("d", 1), Ok(()));
        assert_eq!(plan.set("d/y", 1), Err(KvError::NotADictionary("d".into())));
        assert!(matches!(plan.set("x/", 1), Err(KvError::BadKey { .. })));
    }

    #[test]
    fn rename_rules() {
        let base = index(&["a/b", "a/c/d", "v", "w/x"]);
        let mut plan = Plan::new(&base, 64);
        assert_eq!(plan.rename("a", "a/z"), Err(KvError::RenameIntoItself { from: "a".into(), to: "a/z".into() }));
        assert_eq!(plan.rename("q", "r"), Err(KvError::NotFound("q".into())));
        assert_eq!(plan.rename("a", "v"), Err(KvError::NotADictionary("v".into())));
        assert_eq!(plan.rename("v", "w"), Err(KvError::NotAValue("w".into())));
        let mut plan = Plan::new(&base, 64);
        plan.rename("a", "n/m").unwrap();
        assert_eq!(plan.kind("a"), None);
        assert_eq!(plan.kind("n/m/c/d"), Some(EntryKind::Value));
        // Moving a value up into its own parent's place.
        let base = index(&["p/q"]);
        let mut plan = Plan::new(&base, 64);
        plan.rename("p/q", "p").unwrap();
        assert_eq!(plan.kind("p"), Some(EntryKind::Value));
        assert_eq!(plan.live_bytes(), cost(1, 1));
        // A destination key over the length limit is refused.
        let mut plan = Plan::new(&base, 4);
        assert!(matches!(plan.rename("p", "long"), Err(KvError::BadKey { .. })));
    }
}
