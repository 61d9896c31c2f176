//! A read-only store compiled into the image, like MirageOS's crunch:
//! a sorted table of `(key, bytes, sha256)` whose values are served as
//! borrowed `&'static [u8]`, never copied.
//!
//! The table is written at build time by `oasis-kv-build` from a directory
//! (sorted, keys checked, digests precomputed). A package's `build.rs`:
//!
//! ```ignore
//! fn main() {
//!     oasis_kv_build::embed("htdocs", "htdocs.rs").unwrap();
//! }
//! ```
//!
//! and its code:
//!
//! ```ignore
//! static HTDOCS: oasis_kv::StaticKv =
//!     oasis_kv::StaticKv::new(include!(concat!(env!("OUT_DIR"), "/htdocs.rs")));
//! ```
//!
//! A table written by hand must be sorted by key with no duplicates;
//! [`StaticKv::validate`] checks that and every digest.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::error::KvError;
use crate::key::{self, after_subtree, children_start, direct_child};
use crate::traits::{EntryKind, KvRo};

/// One compiled-in value: its key, its bytes and their SHA-256 digest.
pub type StaticEntry = (&'static str, &'static [u8], [u8; 32]);

/// A compiled-in read-only store. `last_modified` is the time given to
/// [`StaticKv::with_modified`] (typically the build time), else 0.
#[derive(Clone, Copy, Debug)]
pub struct StaticKv {
    entries: &'static [StaticEntry],
    modified: u64,
}

impl StaticKv {
    /// A store over `entries`, sorted by key (as `oasis-kv-build` writes
    /// them).
    pub const fn new(entries: &'static [StaticEntry]) -> Self {
        StaticKv { entries, modified: 0 }
    }

    /// The same store reporting `modified` from `last_modified`.
    pub const fn with_modified(self, modified: u64) -> Self {
        StaticKv { modified, ..self }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, sorted by key.
    pub fn entries(&self) -> &'static [StaticEntry] {
        self.entries
    }

    /// Checks the table: keys valid and strictly increasing, no value with
    /// keys below it, every digest right.
    pub fn validate(&self) -> Result<(), KvError> {
        let mut previous: Option<&str> = None;
        for &(key, bytes, digest) in self.entries {
            key::valid_key(key, usize::MAX)?;
            if previous.is_some_and(|previous| previous >= key) {
                return Err(KvError::Geometry("compiled-in keys are not sorted and unique"));
            }
            if self.value_index(key).is_some() && self.has_children(key) {
                return Err(KvError::NotAValue(String::from(key)));
            }
            if <[u8; 32]>::from(Sha256::digest(bytes)) != digest {
                return Err(KvError::Corrupt {
                    offset: 0,
                    reason: "compiled-in digest mismatch",
                    key: Some(key.into()),
                });
            }
            previous = Some(key);
        }
        Ok(())
    }

    fn value_index(&self, key: &str) -> Option<usize> {
        self.entries.binary_search_by(|entry| entry.0.cmp(key)).ok()
    }

    fn first_at_or_after(&self, start: &str) -> usize {
        self.entries.partition_point(|entry| entry.0 < start)
    }

    fn has_children(&self, key: &str) -> bool {
        let start = children_start(key);
        self.entries.get(self.first_at_or_after(&start)).is_some_and(|entry| entry.0.starts_with(&start))
    }

    fn value(&self, key: &str) -> Result<&'static StaticEntry, KvError> {
        key::valid_key(key, usize::MAX)?;
        match self.value_index(key) {
            Some(i) => Ok(&self.entries[i]),
            None if self.has_children(key) => Err(KvError::NotAValue(String::from(key))),
            None => Err(KvError::NotFound(String::from(key))),
        }
    }

    fn exists_now(&self, key: &str) -> Result<Option<EntryKind>, KvError> {
        key::valid_prefix(key, usize::MAX)?;
        if key.is_empty() {
            return Ok(Some(EntryKind::Dictionary));
        }
        if self.value_index(key).is_some() {
            Ok(Some(EntryKind::Value))
        } else if self.has_children(key) {
            Ok(Some(EntryKind::Dictionary))
        } else {
            Ok(None)
        }
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<(String, EntryKind)>, KvError> {
        match self.exists_now(prefix)? {
            None => return Err(KvError::NotFound(String::from(prefix))),
            Some(EntryKind::Value) => return Err(KvError::NotADictionary(String::from(prefix))),
            Some(EntryKind::Dictionary) => {}
        }
        let start = children_start(prefix);
        let mut out = Vec::new();
        let mut i = self.first_at_or_after(&start);
        while let Some(&(key, _, _)) = self.entries.get(i) {
            if !key.starts_with(&start) {
                break;
            }
            let (child, is_dictionary) = direct_child(key, &start);
            if is_dictionary {
                out.push((String::from(child), EntryKind::Dictionary));
                i = self.first_at_or_after(&after_subtree(child));
            } else {
                out.push((String::from(child), EntryKind::Value));
                i += 1;
            }
        }
        out.sort();
        Ok(out)
    }
}

impl KvRo for StaticKv {
    type Value = &'static [u8];

    async fn exists(&self, key: &str) -> Result<Option<EntryKind>, KvError> {
        self.exists_now(key)
    }

    async fn get(&self, key: &str) -> Result<&'static [u8], KvError> {
        Ok(self.value(key)?.1)
    }

    async fn get_partial(&self, key: &str, offset: u64, len: usize) -> Result<&'static [u8], KvError> {
        let bytes = self.value(key)?.1;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(&bytes[start..end])
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, EntryKind)>, KvError> {
        self.list_now(prefix)
    }

    async fn size(&self, key: &str) -> Result<u64, KvError> {
        Ok(self.value(key)?.1.len() as u64)
    }

    async fn digest(&self, key: &str) -> Result<[u8; 32], KvError> {
        Ok(self.value(key)?.2)
    }

    async fn last_modified(&self, key: &str) -> Result<u64, KvError> {
        self.value(key)?;
        Ok(self.modified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::block_on;

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    fn table() -> &'static [StaticEntry] {
        let entries = alloc::vec![
            ("a", &b"top"[..], sha(b"top")),
            ("d-x", &b"dash"[..], sha(b"dash")),
            ("d/e/f", &b"deep"[..], sha(b"deep")),
            ("d/g", &b"gee"[..], sha(b"gee")),
        ];
        entries.leak()
    }

    #[test]
    fn serves_borrowed_values() {
        let kv = StaticKv::new(table()).with_modified(7);
        assert_eq!(kv.validate(), Ok(()));
        let value = block_on(kv.get("d/g")).unwrap();
        assert!(core::ptr::eq(value, table_value(&kv, "d/g")));
        assert_eq!(block_on(kv.get_partial("d/e/f", 1, 2)).unwrap(), b"ee");
        assert_eq!(block_on(kv.get_partial("d/e/f", 9, 2)).unwrap(), b"");
        assert_eq!(block_on(kv.size("a")).unwrap(), 3);
        assert_eq!(block_on(kv.digest("a")).unwrap(), sha(b"top"));
        assert_eq!(block_on(kv.last_modified("a")).unwrap(), 7);
        assert_eq!(block_on(kv.get("d")), Err(KvError::NotAValue("d".into())));
        assert_eq!(block_on(kv.get("zz")), Err(KvError::NotFound("zz".into())));
        assert!(matches!(block_on(kv.get("/a")), Err(KvError::BadKey { .. })));
    }

    fn table_value(kv: &StaticKv, key: &str) -> &'static [u8] {
        kv.entries().iter().find(|entry| entry.0 == key).unwrap().1
    }

    #[test]
    fn lists_direct_children() {
        let kv = StaticKv::new(table());
        let root = block_on(kv.list("")).unwrap();
        assert_eq!(
            root,
            [("a".into(), EntryKind::Value), ("d".into(), EntryKind::Dictionary), ("d-x".into(), EntryKind::Value)]
        );
        let d = block_on(kv.list("d")).unwrap();
        assert_eq!(d, [("d/e".into(), EntryKind::Dictionary), ("d/g".into(), EntryKind::Value)]);
        assert_eq!(block_on(kv.list("a")), Err(KvError::NotADictionary("a".into())));
        assert_eq!(block_on(kv.list("q")), Err(KvError::NotFound("q".into())));
        assert_eq!(block_on(kv.exists("d/e")).unwrap(), Some(EntryKind::Dictionary));
        assert_eq!(block_on(kv.exists("")).unwrap(), Some(EntryKind::Dictionary));
        assert_eq!(block_on(kv.exists("d/e/f/g")).unwrap(), None);
    }

    #[test]
    fn validate_catches_bad_tables() {
        let unsorted: &'static [StaticEntry] = alloc::vec![("b", &b""[..], sha(b"")), ("a", &b""[..], sha(b""))].leak();
        assert!(StaticKv::new(unsorted).validate().is_err());
        let wrong: &'static [StaticEntry] = alloc::vec![("a", &b"x"[..], sha(b"y"))].leak();
        assert!(matches!(StaticKv::new(wrong).validate(), Err(KvError::Corrupt { .. })));
        let both: &'static [StaticEntry] = alloc::vec![("a", &b""[..], sha(b"")), ("a/b", &b""[..], sha(b""))].leak();
        assert_eq!(StaticKv::new(both).validate(), Err(KvError::NotAValue("a".into())));
    }
}
