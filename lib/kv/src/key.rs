//! Keys are paths: `/`-separated segments, like `htdocs/index.html`.
//!
//! A key names a value; every proper prefix of a key names a dictionary
//! (mirage-kv's model). The rules are strict so that a key means one thing
//! everywhere, including as a file path on export: no empty segments (so no
//! leading, trailing or doubled `/`), no `.` or `..` segments, no NUL, and a
//! length limit. The root dictionary is the empty prefix `""`.

use alloc::string::String;

use crate::error::{KeyError, KvError};

/// The default longest key, in bytes.
pub const DEFAULT_MAX_KEY_LEN: usize = 1024;

/// Checks `key` against the path rules, with `max_len` bytes at most.
pub fn check_key(key: &str, max_len: usize) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > max_len {
        return Err(KeyError::TooLong { len: key.len(), max: max_len });
    }
    if key.as_bytes().contains(&0) {
        return Err(KeyError::Nul);
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment),
            "." | ".." => return Err(KeyError::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

/// [`check_key`] as a store error naming the key.
pub(crate) fn valid_key(key: &str, max_len: usize) -> Result<(), KvError> {
    check_key(key, max_len).map_err(|reason| KvError::bad_key(key, reason))
}

/// Like [`valid_key`], but the root `""` is allowed: for `list`/`exists`.
pub(crate) fn valid_prefix(prefix: &str, max_len: usize) -> Result<(), KvError> {
    if prefix.is_empty() { Ok(()) } else { valid_key(prefix, max_len) }
}

/// The string every key strictly inside `prefix` starts with: `"a/"` for
/// `"a"`, and `""` for the root.
pub(crate) fn children_start(prefix: &str) -> String {
    let mut start = String::from(prefix);
    if !prefix.is_empty() {
        start.push('/');
    }
    start
}

/// The first string greater than every key inside dictionary `key`
/// (`"a0"` for `"a"`: `'0'` follows `'/'`), used to skip a subtree.
pub(crate) fn after_subtree(key: &str) -> String {
    let mut end = String::from(key);
    end.push('0');
    end
}

/// Whether `key` is `prefix` or lies inside it.
pub(crate) fn is_within(key: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || key == prefix
        || (key.len() > prefix.len() && key.starts_with(prefix) && key.as_bytes()[prefix.len()] == b'/')
}

/// The proper ancestors of `key`, shortest first: `a`, `a/b` for `a/b/c`.
pub(crate) fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    key.match_indices('/').map(move |(i, _)| &key[..i])
}

/// For a key inside `start` (a [`children_start`]), the direct child of the
/// prefix it belongs to, and whether that child is a dictionary.
pub(crate) fn direct_child<'k>(key: &'k str, start: &str) -> (&'k str, bool) {
    let rest = &key[start.len()..];
    match rest.find('/') {
        Some(i) => (&key[..start.len() + i], true),
        None => (key, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check_key("a/b/c.html", 1024), Ok(()));
        assert_eq!(check_key("", 1024), Err(KeyError::Empty));
        assert_eq!(check_key("/a", 1024), Err(KeyError::EmptySegment));
        assert_eq!(check_key("a/", 1024), Err(KeyError::EmptySegment));
        assert_eq!(check_key("a//b", 1024), Err(KeyError::EmptySegment));
        assert_eq!(check_key("a/../b", 1024), Err(KeyError::DotSegment));
        assert_eq!(check_key("./b", 1024), Err(KeyError::DotSegment));
        assert_eq!(check_key("a\0b", 1024), Err(KeyError::Nul));
        assert_eq!(check_key("abcd", 3), Err(KeyError::TooLong { len: 4, max: 3 }));
        assert_eq!(check_key("a..b/.c", 1024), Ok(()));
    }

    #[test]
    fn paths() {
        assert_eq!(ancestors("a/b/c").collect::<alloc::vec::Vec<_>>(), ["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
        assert!(is_within("a/b", "a") && is_within("a", "a") && is_within("x", ""));
        assert!(!is_within("ab", "a") && !is_within("a", "a/b"));
        assert_eq!(direct_child("a/b/c", "a/"), ("a/b", true));
        assert_eq!(direct_child("a/b", "a/"), ("a/b", false));
        assert_eq!(children_start(""), "");
        assert!(after_subtree("a").as_str() > "a/zzz" && after_subtree("a").as_str() < "a1");
    }
}
