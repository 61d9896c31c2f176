//! Single byte ranges (RFC 9110 §14).

use core::ops::Range;

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// Ignore it and send everything: absent, malformed, another unit, or
    /// several ranges (which this server does not combine).
    Full,
    /// These bytes (a 206).
    Partial(Range<u64>),
    /// Nothing it names exists (a 416).
    Unsatisfiable,
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Reads `Range` for a representation of `len` bytes.
pub fn parse_range(header: Option<&[u8]>, len: u64) -> RangeRequest {
    let Some(header) = header else { return RangeRequest::Full };
    let header = header.trim_ascii();
    if header.len() < 6 || !header[..6].eq_ignore_ascii_case(b"bytes=") {
        return RangeRequest::Full;
    }
    let spec = header[6..].trim_ascii();
    if spec.contains(&b',') {
        return RangeRequest::Full;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else { return RangeRequest::Full };
    let (first, last) = (spec[..dash].trim_ascii(), spec[dash + 1..].trim_ascii());
    if first.is_empty() {
        // A suffix: the last N bytes.
        return match number(last) {
            None => RangeRequest::Full,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial(len.saturating_sub(n)..len),
        };
    }
    let Some(first) = number(first) else { return RangeRequest::Full };
    let end = if last.is_empty() {
        len
    } else {
        match number(last) {
            Some(last) if last >= first => last.saturating_add(1).min(len),
            _ => return RangeRequest::Full,
        }
    };
    if first >= len { RangeRequest::Unsatisfiable } else { RangeRequest::Partial(first..end) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(Some(h.as_bytes()), 100);
        assert_eq!(parse_range(None, 100), RangeRequest::Full);
        assert_eq!(r("bytes=0-9"), RangeRequest::Partial(0..10));
        assert_eq!(r("bytes=90-"), RangeRequest::Partial(90..100));
        assert_eq!(r("bytes=90-1000"), RangeRequest::Partial(90..100));
        assert_eq!(r("bytes=-10"), RangeRequest::Partial(90..100));
        assert_eq!(r("bytes=-1000"), RangeRequest::Partial(0..100));
        assert_eq!(r("bytes=100-"), RangeRequest::Unsatisfiable);
        assert_eq!(r("bytes=-0"), RangeRequest::Unsatisfiable);
        assert_eq!(r("bytes=5-4"), RangeRequest::Full);
        assert_eq!(r("bytes=0-1,5-6"), RangeRequest::Full);
        assert_eq!(r("items=0-1"), RangeRequest::Full);
        assert_eq!(r("bytes=a-b"), RangeRequest::Full);
        assert_eq!(r("bytes=99999999999999999999-"), RangeRequest::Full);
        assert_eq!(parse_range(Some(b"bytes=0-"), 0), RangeRequest::Unsatisfiable);
    }
}
