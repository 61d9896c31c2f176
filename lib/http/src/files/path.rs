//! From a request path to a store key, refusing rather than guessing:
//! whatever bytes a client sends either name a key inside the store or
//! are refused. Nothing is "normalised away": a `..`, `.`, empty segment,
//! encoded slash, backslash, NUL or control character, bad
//! percent-encoding or invalid UTF-8 (overlong forms included) is an
//! error, so no spelling of a path can reach outside the store or name
//! a file two ways.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The longest key a path may name.
pub const MAX_KEY: usize = 1024;

/// A path resolved to a store key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The key: segments joined by `/`, no leading or trailing `/`; empty
    /// for the root.
    pub key: String,
    /// Whether the path ended in `/` (a directory was asked for).
    pub directory: bool,
}

/// Why a path is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// It does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits.
    BadPercent,
    /// A `/` written as `%2F`.
    EncodedSlash,
    /// A backslash, NUL or other control character.
    ForbiddenByte,
    /// The decoded path is not UTF-8.
    NotUtf8,
    /// A `.` or `..` segment, or an empty one (`//`).
    BadSegment,
    /// Longer than [`MAX_KEY`].
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "path does not start with '/'",
            PathError::BadPercent => "bad percent-encoding",
            PathError::EncodedSlash => "encoded '/' in the path",
            PathError::ForbiddenByte => "backslash or control character in the path",
            PathError::NotUtf8 => "path is not UTF-8",
            PathError::BadSegment => "'.', '..' or empty segment in the path",
            PathError::TooLong => "path too long",
        })
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Resolves a request path (percent-encoded, query removed).
pub fn resolve(path: &str) -> Result<Resolved, PathError> {
    let raw = path.as_bytes();
    let Some((b'/', rest)) = raw.split_first() else {
        return Err(PathError::NotAbsolute);
    };
    if rest.len() > MAX_KEY * 3 {
        return Err(PathError::TooLong);
    }
    let mut decoded = Vec::with_capacity(rest.len());
    let mut i = 0;
    while i < rest.len() {
        let b = match rest[i] {
            b'%' => {
                let (Some(hi), Some(lo)) =
                    (rest.get(i + 1).copied().and_then(hex), rest.get(i + 2).copied().and_then(hex))
                else {
                    return Err(PathError::BadPercent);
                };
                i += 2;
                match hi << 4 | lo {
                    b'/' => return Err(PathError::EncodedSlash),
                    b => b,
                }
            }
            b => b,
        };
        if b == b'\\' || b < 0x20 || b == 0x7f {
            return Err(PathError::ForbiddenByte);
        }
        decoded.push(b);
        i += 1;
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)?;
    // The C1 controls (U+0080 to U+009F) are controls too, and no name a
    // site serves (found by fuzzing http_path).
    if decoded.chars().any(char::is_control) {
        return Err(PathError::ForbiddenByte);
    }
    let directory = decoded.is_empty() || decoded.ends_with('/');
    let key = decoded.strip_suffix('/').unwrap_or(&decoded);
    if key.len() > MAX_KEY {
        return Err(PathError::TooLong);
    }
    if !key.is_empty() && key.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        return Err(PathError::BadSegment);
    }
    let key = String::from(key);
    Ok(Resolved { key, directory })
}

/// Percent-encodes `key` for a `Location` (the bytes a path may hold
/// unencoded stay as they are).
pub fn encode(key: &str, out: &mut String) {
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(path: &str) -> Result<(String, bool), PathError> {
        resolve(path).map(|r| (r.key, r.directory))
    }

    #[test]
    fn control_characters_are_refused_ascii_and_c1_alike() {
        for path in ["/a%00b", "/a%1Fb", "/a%7Fb", "/a%C2%9Fb", "/a\u{9f}b", "/dc/.>c/s/'.\u{9f}../x"] {
            assert_eq!(key(path), Err(PathError::ForbiddenByte), "{path}");
        }
        assert_eq!(key("/caf%C3%A9"), Ok(("café".into(), false)));
    }

    #[test]
    fn plain_paths() {
        assert_eq!(key("/"), Ok((String::new(), true)));
        assert_eq!(key("/index.html"), Ok(("index.html".into(), false)));
        assert_eq!(key("/docs/"), Ok(("docs".into(), true)));
        assert_eq!(key("/a%20b/c%C3%A9.txt"), Ok(("a b/cé.txt".into(), false)));
        assert_eq!(key("/%7Euser"), Ok(("~user".into(), false)));
        assert_eq!(key("/.well-known/x"), Ok((".well-known/x".into(), false)));
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, PathError)] = &[
            ("index.html", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("/..", PathError::BadSegment),
            ("/../etc/passwd", PathError::BadSegment),
            ("/a/../../b", PathError::BadSegment),
            ("/%2e%2e/etc/passwd", PathError::BadSegment),
            ("/%2E%2E", PathError::BadSegment),
            ("/.%2e/x", PathError::BadSegment),
            ("/./a", PathError::BadSegment),
            ("/a//b", PathError::BadSegment),
            ("//etc/passwd", PathError::BadSegment),
            ("/a/%2f../b", PathError::EncodedSlash),
            ("/..%2Fetc", PathError::EncodedSlash),
            ("/a%5c..%5cb", PathError::ForbiddenByte),
            ("/a\\b", PathError::ForbiddenByte),
            ("/a%00.html", PathError::ForbiddenByte),
            ("/a%0a", PathError::ForbiddenByte),
            ("/%", PathError::BadPercent),
            ("/%2", PathError::BadPercent),
            ("/%zz", PathError::BadPercent),
            ("/%c0%ae%c0%ae/x", PathError::NotUtf8),
            ("/%c0%af", PathError::NotUtf8),
            ("/%e0%80%af", PathError::NotUtf8),
            ("/%ff", PathError::NotUtf8),
        ];
        for (path, why) in cases {
            assert_eq!(key(path), Err(*why), "{path}");
        }
    }

    #[test]
    fn location_encoding() {
        let mut out = String::new();
        encode("a b/é?#", &mut out);
        assert_eq!(out, "a%20b/%C3%A9%3F%23");
        assert_eq!(key(&alloc::format!("/{out}")).unwrap().0, "a b/é?#");
    }

    proptest! {
        /// Any bytes: either refused, or a key the store accepts, with
        /// no segment that could climb out.
        #[test]
        fn any_path_maps_inside_the_store_or_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut path = String::from("/");
            for b in &bytes {
                // Mix raw bytes (as the parser lets through) and escapes.
                if b.is_ascii_graphic() { path.push(*b as char) } else { path.push_str(&alloc::format!("%{b:02x}")) }
            }
            if let Ok(resolved) = resolve(&path) {
                if !resolved.key.is_empty() {
                    prop_assert_eq!(oasis_kv::key::check_key(&resolved.key, MAX_KEY), Ok(()));
                }
                prop_assert!(!resolved.key.contains('\\') && !resolved.key.contains('\0'));
                prop_assert!(!resolved.key.starts_with('/'));
            }
        }

        #[test]
        fn encoded_keys_resolve_to_themselves(key in "[a-zA-Z0-9 ._~%é-]{1,20}(/[a-zA-Z0-9 _~%é-]{1,10}){0,3}") {
            prop_assume!(!key.split('/').any(|s| s == "." || s == ".."));
            let mut path = String::from("/");
            encode(&key, &mut path);
            prop_assert_eq!(resolve(&path).unwrap().key, key);
        }
    }
}
