//! HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out, all three formats in.

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// The length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_FIXDATE_LEN: usize = 29;

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` (Unix time) as an IMF-fixdate. Years past 9999 are written as
/// 9999-12-31 23:59:59, the last date the format can say.
pub fn format_imf_fixdate(secs: u64) -> [u8; IMF_FIXDATE_LEN] {
    const LAST: u64 = 253_402_300_799;
    let secs = secs.min(LAST);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    let year = year as u32;
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], (rem / 3600) as u32);
    two_digits(&mut out[20..22], (rem / 60 % 60) as u32);
    two_digits(&mut out[23..25], (rem % 60) as u32);
    out
}

fn two_digits(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 4 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn month(name: &[u8]) -> Option<u32> {
    MONTHS.iter().position(|m| m.as_slice() == name).map(|i| i as u32 + 1)
}

fn time_of_day(hms: &[u8]) -> Option<u64> {
    if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' {
        return None;
    }
    let (h, m, s) = (number(&hms[0..2])?, number(&hms[3..5])?, number(&hms[6..8])?);
    // 60 is a leap second: taken as the next second's start, as a clock would.
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(s))
}

fn to_unix(year: i64, month: u32, day: u32, tod: u64) -> Option<u64> {
    if !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    // A day past the month's end would silently roll over: refuse it.
    if civil_from_days(days_from_civil(year, month, day)) != (year, month, day) {
        return None;
    }
    u64::try_from(days_from_civil(year, month, day)).ok().map(|d| d * 86_400 + tod)
}

/// Parses an HTTP date in any of the three formats a recipient must
/// accept: IMF-fixdate, RFC 850 and asctime. `None` when it is none of
/// them (a conditional request then ignores the header, as RFC 9110 says).
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    let parts: heapless_split::Parts<'_> = heapless_split::split(value)?;
    match parts.count {
        // Sun, 06 Nov 1994 08:49:37 GMT
        6 if parts.at(0).len() == 4 && parts.at(0).ends_with(b",") && parts.at(5) == b"GMT" => {
            let (day, mon, year) = (parts.at(1), parts.at(2), parts.at(3));
            if day.len() != 2 || year.len() != 4 {
                return None;
            }
            to_unix(i64::from(number(year)?), month(mon)?, number(day)?, time_of_day(parts.at(4))?)
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        4 if parts.at(0).ends_with(b",") && parts.at(3) == b"GMT" => {
            let date = parts.at(1);
            if date.len() != 9 || date[2] != b'-' || date[6] != b'-' {
                return None;
            }
            let yy = i64::from(number(&date[7..9])?);
            // RFC 9110: a two-digit year more than 50 years ahead is in
            // the past century. Read against 2000-2069 / 1970-1999.
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            to_unix(year, month(&date[3..6])?, number(&date[0..2])?, time_of_day(parts.at(2))?)
        }
        // Sun Nov  6 08:49:37 1994
        5 => {
            let year = parts.at(4);
            if parts.at(0).len() != 3 || year.len() != 4 {
                return None;
            }
            to_unix(i64::from(number(year)?), month(parts.at(1))?, number(parts.at(2))?, time_of_day(parts.at(3))?)
        }
        _ => None,
    }
}

/// Splitting on runs of spaces into at most six parts, without allocating.
mod heapless_split {
    pub(super) struct Parts<'a> {
        parts: [&'a [u8]; 6],
        pub(super) count: usize,
    }

    impl<'a> Parts<'a> {
        pub(super) fn at(&self, i: usize) -> &'a [u8] {
            self.parts[i]
        }
    }

    pub(super) fn split(value: &[u8]) -> Option<Parts<'_>> {
        let mut parts = Parts { parts: [&[]; 6], count: 0 };
        for part in value.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
            *parts.parts.get_mut(parts.count)? = part;
            parts.count += 1;
        }
        Some(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format_imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format_imf_fixdate(u64::MAX), b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parses_the_three_formats() {
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(parse_http_date(b"Sun, 31 Feb 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date(b"yesterday"), None);
        assert_eq!(parse_http_date(b""), None);
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in 0u64..253_402_300_799) {
            let text = format_imf_fixdate(secs);
            proptest::prop_assert_eq!(parse_http_date(&text), Some(secs));
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_http_date(&bytes);
        }
    }
}
