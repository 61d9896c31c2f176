//! SOA serial arithmetic (RFC 1982, 32-bit).

use core::cmp::Ordering;

/// Compares two serials the RFC 1982 way. `None` when they are exactly
/// 2^31 apart (the comparison is undefined there).
pub fn compare(a: u32, b: u32) -> Option<Ordering> {
    if a == b {
        return Some(Ordering::Equal);
    }
    let diff = b.wrapping_sub(a);
    match diff.cmp(&(1 << 31)) {
        Ordering::Less => Some(Ordering::Less),
        Ordering::Greater => Some(Ordering::Greater),
        Ordering::Equal => None,
    }
}

/// True when `new` is after `old`.
pub fn is_newer(new: u32, old: u32) -> bool {
    compare(new, old) == Some(Ordering::Greater)
}

/// `serial + n` for `n` up to 2^31 - 1; `None` for larger `n` (RFC 1982
/// §3.1 leaves it undefined).
pub fn add(serial: u32, n: u32) -> Option<u32> {
    (n < (1 << 31)).then(|| serial.wrapping_add(n))
}

/// The next serial after a change: one more, skipping 0 (which some
/// secondaries treat as unset).
pub fn next(serial: u32) -> u32 {
    match serial.wrapping_add(1) {
        0 => 1,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1982_examples() {
        assert_eq!(compare(1, 2), Some(Ordering::Less));
        assert_eq!(compare(u32::MAX, 0), Some(Ordering::Less), "wraps");
        assert_eq!(compare(0, u32::MAX), Some(Ordering::Greater));
        assert_eq!(compare(0, 1 << 31), None, "undefined at half the space");
        assert!(is_newer(2024010102, 2024010101));
        assert!(!is_newer(5, 5));
        assert_eq!(add(u32::MAX, 1), Some(0));
        assert_eq!(add(0, 1 << 31), None);
        assert_eq!(next(u32::MAX), 1);
    }

    proptest::proptest! {
        #[test]
        fn adding_less_than_half_is_newer(s in proptest::prelude::any::<u32>(), n in 1u32..(1 << 31)) {
            let t = add(s, n).unwrap();
            proptest::prop_assert!(is_newer(t, s));
            proptest::prop_assert_eq!(compare(s, t), Some(Ordering::Less));
        }
    }
}
