//! The in-memory index: every live key with where its value's record is,
//! plus the reverse map from record position to key that compaction uses
//! to tell live records from dead ones.
//!
//! Operations here apply changes without checking the tree rules: replay
//! of the log must be total (a damaged or hostile image may hold anything),
//! and writes are checked beforehand by `plan.rs`.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::{Bound, Range};

use super::format::{HDR, op_len};
use crate::key::{after_subtree, children_start, direct_child};
use crate::traits::EntryKind;

/// Where a live value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Log position of its operation header.
    pub pos: u64,
    /// Sequence number and epoch of its record (they seed its checksums).
    pub seq: u64,
    pub epoch: u32,
    /// Its key's length as written in the operation (a rename changes the
    /// key but not the record).
    pub key_len: u16,
    pub value_len: u32,
    pub modified: u64,
}

/// Bytes a value would take copied into a record of its own: what the
/// store counts as live data.
pub(crate) fn cost(key_len: usize, value_len: u64) -> u64 {
    HDR as u64 + op_len(key_len, value_len)
}

/// Keys to entries, positions to keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    map: BTreeMap<Rc<str>, Entry>,
    by_pos: BTreeMap<u64, Rc<str>>,
    live_bytes: u64,
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.map.iter().map(|(key, entry)| (&**key, entry))
    }

    /// Keys strictly inside dictionary `key`, in order.
    pub(crate) fn subtree(&self, key: &str) -> impl Iterator<Item = (&str, &Entry)> {
        let start = children_start(key);
        let end = if key.is_empty() { Bound::Unbounded } else { Bound::Excluded(after_subtree(key)) };
        self.map
            .range::<str, _>((Bound::Included(start.as_str()), end.as_ref().map(String::as_str)))
            .map(|(key, entry)| (&**key, entry))
    }

    pub(crate) fn has_children(&self, key: &str) -> bool {
        self.subtree(key).next().is_some()
    }

    pub(crate) fn kind(&self, key: &str) -> Option<EntryKind> {
        if key.is_empty() {
            Some(EntryKind::Dictionary)
        } else if self.map.contains_key(key) {
            Some(EntryKind::Value)
        } else if self.has_children(key) {
            Some(EntryKind::Dictionary)
        } else {
            None
        }
    }

    /// The direct children of dictionary `prefix`, sorted. A damaged store
    /// might hold a key that is both a value and a dictionary: it is
    /// listed once, as a value.
    pub(crate) fn list(&self, prefix: &str) -> Vec<(String, EntryKind)> {
        let start = children_start(prefix);
        let mut out: Vec<(String, EntryKind)> = Vec::new();
        let mut from = Bound::Included(start.clone());
        while let Some((key, _)) =
            self.map.range::<str, _>((from.as_ref().map(String::as_str), Bound::Unbounded)).next()
        {
            if !key.starts_with(&start) {
                break;
            }
            let (child, is_dictionary) = direct_child(key, &start);
            if out.last().is_none_or(|(last, _)| last != child) {
                let kind = if is_dictionary { EntryKind::Dictionary } else { EntryKind::Value };
                out.push((String::from(child), kind));
            }
            from = if is_dictionary {
                Bound::Included(after_subtree(child))
            } else {
                Bound::Excluded(String::from(&**key))
            };
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// Sets `key` to `entry`, replacing what was there.
    pub(crate) fn insert(&mut self, key: &str, entry: Entry) {
        self.remove(key);
        let key: Rc<str> = Rc::from(key);
        // Positions are unique in a log written by this code; a hostile
        // image could repeat one, and the newer claim wins.
        if let Some(other) = self.by_pos.insert(entry.pos, key.clone())
            && let Some(old) = self.map.remove(&other)
        {
            self.live_bytes -= cost(other.len(), u64::from(old.value_len));
        }
        self.live_bytes += cost(key.len(), u64::from(entry.value_len));
        self.map.insert(key, entry);
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        self.by_pos.remove(&entry.pos);
        self.live_bytes -= cost(key.len(), u64::from(entry.value_len));
        Some(entry)
    }

    /// Removes the value at `key` and everything inside it; returns what
    /// was removed as `(suffix after key, entry)`.
    pub(crate) fn take_tree(&mut self, key: &str) -> Vec<(String, Entry)> {
        let mut keys: Vec<String> = self.subtree(key).map(|(k, _)| String::from(k)).collect();
        if self.map.contains_key(key) {
            keys.push(String::from(key));
        }
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(entry) = self.remove(&k) {
                out.push((String::from(&k[key.len()..]), entry));
            }
        }
        out
    }

    /// Replays a rename: the moved entries keep their records.
    pub(crate) fn rename(&mut self, from: &str, to: &str) {
        for (suffix, entry) in self.take_tree(from) {
            let mut key = String::from(to);
            key.push_str(&suffix);
            self.insert(&key, entry);
        }
    }

    /// Live values whose operation lies in `range`, by position.
    pub(crate) fn live_in(&self, range: Range<u64>) -> Vec<(u64, Rc<str>)> {
        self.by_pos.range(range).map(|(pos, key)| (*pos, key.clone())).collect()
    }

    /// Whether the live value at `pos` is this key's (for reports).
    pub(crate) fn key_at(&self, pos: u64) -> Option<&str> {
        self.by_pos.get(&pos).map(|key| &**key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pos: u64, value_len: u32) -> Entry {
        Entry { pos, seq: 0, epoch: 0, key_len: 1, value_len, modified: 0 }
    }

    #[test]
    fn tree_queries() {
        let mut index = Index::default();
        index.insert("a", entry(8, 1));
        index.insert("b-c", entry(16, 1));
        index.insert("b/x", entry(24, 1));
        index.insert("b/y/z", entry(32, 1));
        assert_eq!(index.kind("b"), Some(EntryKind::Dictionary));
        assert_eq!(index.kind("b/y/z"), Some(EntryKind::Value));
        assert_eq!(index.kind("c"), None);
        let root = index.list("");
        assert_eq!(
            root,
            [("a".into(), EntryKind::Value), ("b".into(), EntryKind::Dictionary), ("b-c".into(), EntryKind::Value)]
        );
        assert_eq!(index.list("b"), [("b/x".into(), EntryKind::Value), ("b/y".into(), EntryKind::Dictionary)]);
    }

    #[test]
    fn accounting_and_moves() {
        let mut index = Index::default();
        index.insert("d/a", entry(8, 10));
        index.insert("d/b", entry(16, 20));
        let live = index.live_bytes();
        assert_eq!(live, cost(3, 10) + cost(3, 20));
        index.rename("d", "e/f");
        assert_eq!(index.get("e/f/a").map(|e| e.pos), Some(8));
        assert_eq!(index.key_at(16), Some("e/f/b"));
        assert_eq!(index.live_bytes(), cost(5, 10) + cost(5, 20));
        assert_eq!(index.take_tree("e").len(), 2);
        assert_eq!((index.len(), index.live_bytes()), (0, 0));
        assert!(index.live_in(0..100).is_empty());
    }
}
