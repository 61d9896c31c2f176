//! Request paths are hostile: any path either names a key inside the
//! store (a valid key with no `.`/`..` segment, no NUL or backslash) or
//! is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_http::files::path::{MAX_KEY, resolve};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let Ok(resolved) = resolve(path) else { return };
    if resolved.key.is_empty() {
        assert!(resolved.directory);
        return;
    }
    assert_eq!(oasis_kv::key::check_key(&resolved.key, MAX_KEY), Ok(()));
    assert!(!resolved.key.contains('\\') && !resolved.key.contains('\0'));
    assert!(resolved.key.split('/').all(|s| s != ".." && s != "." && !s.is_empty()));
    assert!(resolved.key.chars().all(|c| !c.is_control()));
});
