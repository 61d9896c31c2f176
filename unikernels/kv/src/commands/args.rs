//! Reading arguments as Redis reads them: names and options compared
//! without regard to case, integers, times to live, and the server's key
//! and value limits.

use super::{Limits, Refusal};
use crate::store::Deadline;

/// Whether `word` is `name`, ignoring ASCII case.
pub(super) fn eq(word: &[u8], name: &str) -> bool {
    word.eq_ignore_ascii_case(name.as_bytes())
}

/// A decimal integer as Redis reads one (`string2ll`): an optional `-`,
/// then digits with no leading zero (but `0` itself), nothing else, within
/// `i64`. So `007`, `+1`, ` 1` and `-0` are not integers.
pub(super) fn integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    match digits {
        b"0" if digits.len() == bytes.len() => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    core::str::from_utf8(bytes).ok()?.parse().ok()
}

/// `n` as a reply integer, `i64::MAX` if it is larger.
pub(super) fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The deadline `amount` units of `unit_ms` from now (`relative`) or from
/// the epoch; `None` when it overflows what Redis can hold (`i64`
/// milliseconds, with the current time added for a relative one).
pub(super) fn deadline_of(amount: i64, unit_ms: i64, relative: bool, now: Deadline) -> Option<i64> {
    let ms = amount.checked_mul(unit_ms)?;
    if relative { ms.checked_add(i64::try_from(now).ok()?) } else { Some(ms) }
}

/// A time to live that must be above zero (SET's, SETEX's, GETEX's), as a
/// deadline; `command` names the command in the refusal.
pub(super) fn positive_deadline(
    time: &[u8],
    unit_ms: i64,
    relative: bool,
    now: Deadline,
    command: &'static str,
) -> Result<Deadline, Refusal<'static>> {
    let amount = integer(time).ok_or(Refusal::NotAnInteger)?;
    match deadline_of(amount, unit_ms, relative, now) {
        Some(at) if amount > 0 => Ok(at as Deadline),
        _ => Err(Refusal::InvalidExpireTime(command)),
    }
}

/// EX, PX, EXAT or PXAT: the unit in milliseconds and whether it counts
/// from now.
pub(super) fn expiry_option(option: &[u8]) -> Option<(i64, bool)> {
    match () {
        _ if eq(option, "EX") => Some((1000, true)),
        _ if eq(option, "PX") => Some((1, true)),
        _ if eq(option, "EXAT") => Some((1000, false)),
        _ if eq(option, "PXAT") => Some((1, false)),
        _ => None,
    }
}

/// A key within `--max-key`.
pub(super) fn check_key<'a>(key: &[u8], limits: &Limits) -> Result<(), Refusal<'a>> {
    if key.len() > limits.max_key {
        return Err(Refusal::KeyTooLong { len: key.len(), max: limits.max_key });
    }
    Ok(())
}

/// A value within `--max-value`.
pub(super) fn check_value<'a>(value: &[u8], limits: &Limits) -> Result<(), Refusal<'a>> {
    if value.len() > limits.max_value {
        return Err(Refusal::ValueTooLong { len: value.len(), max: limits.max_value });
    }
    Ok(())
}
