//! Redis keys as store paths. Redis keys are arbitrary bytes; store keys
//! are `/`-separated paths. Each Redis key becomes one segment under
//! `redis/`: `_` then the key with every byte outside `[A-Za-z0-9.:-]`
//! written `%XX`, and its deadline, if any, the same segment under
//! `redis-ttl/`. The `_` keeps the segment from being empty, `.` or `..`;
//! `%` and `/` are always escaped, so the mapping is one-to-one and needs
//! no dictionaries. (`oasis kv ls` shows these paths.)

use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;

/// Where values are.
const PREFIX: &str = "redis/";
/// Where deadlines are.
const TTL_PREFIX: &str = "redis-ttl/";

/// The path of `key`'s value.
pub fn encode_key(key: &[u8]) -> String {
    encode_under(PREFIX, key)
}

/// The path of `key`'s deadline: its value the deadline in decimal,
/// written in the same batch as the value, so the two never disagree after
/// a crash.
pub fn encode_ttl_key(key: &[u8]) -> String {
    encode_under(TTL_PREFIX, key)
}

/// The Redis key [`encode_key`] made `path` from, if it made it.
pub fn decode_key(path: &str) -> Option<Vec<u8>> {
    decode_under(PREFIX, path)
}

/// The Redis key [`encode_ttl_key`] made `path` from, if it made it.
pub fn decode_ttl_key(path: &str) -> Option<Vec<u8>> {
    decode_under(TTL_PREFIX, path)
}

/// The longest path a key of `key_len` bytes becomes: its deadline's, with
/// every byte escaped.
pub const fn max_path_len(key_len: usize) -> usize {
    TTL_PREFIX.len() + 1 + 3 * key_len
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn readable_keys_stay_readable() {
        assert_eq!(encode_key(b"user:1000"), "redis/_user:1000");
        assert_eq!(encode_key(b""), "redis/_");
        assert_eq!(encode_key(b".."), "redis/_..");
        assert_eq!(encode_key(b"a/b c%"), "redis/_a%2Fb%20c%25");
        assert_eq!(encode_ttl_key(b"a/b"), "redis-ttl/_a%2Fb");
        assert_eq!(decode_ttl_key("redis-ttl/_a%2Fb"), Some(b"a/b".to_vec()));
        assert_eq!(decode_ttl_key("redis/_a"), None);
    }

    #[test]
    fn foreign_paths_are_not_keys() {
        for path in ["other/_x", "redis/x", "redis/_%2", "redis/_%zz", "redis/_%2f", "redis-ttl/_x"] {
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
            prop_assert!(encode_ttl_key(&key).len() <= max_path_len(key.len()));
            prop_assert_eq!(decode_key(&path), Some(key));
        }
    }
}
