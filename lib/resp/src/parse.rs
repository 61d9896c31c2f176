//! Parsing requests.

use alloc::vec::Vec;
use core::fmt;

/// Bounds on what one request may ask the parser to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most arguments in one command.
    pub max_args: usize,
    /// Longest bulk string (a key or a value), bytes.
    pub max_bulk: usize,
    /// Longest inline command line, bytes.
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_args: 1 << 20, max_bulk: 64 << 20, max_inline: 64 << 10 }
    }
}

/// Why a request could not be parsed; the connection should get the
/// message as an error reply and then be closed, as Redis does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*` not followed by a valid count, or a count over the limit.
    MultibulkLength,
    /// `$` not followed by a valid length, or a length over the limit.
    BulkLength,
    /// A bulk string longer than the limit (`Limits::max_bulk`): refused
    /// before it is buffered.
    BulkTooLarge {
        /// The length the client announced.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// An array element that is not a bulk string.
    ExpectedDollar(u8),
    /// An inline line longer than the limit.
    InlineTooBig,
    /// A bulk string not followed by CRLF.
    MissingCrlf,
    /// An unbalanced quote in an inline command.
    UnbalancedQuotes,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::MultibulkLength => f.write_str("Protocol error: invalid multibulk length"),
            ProtocolError::BulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::BulkTooLarge { len, max } => {
                write!(f, "Protocol error: a bulk string of {len} bytes is over the limit of {max}")
            }
            ProtocolError::ExpectedDollar(c) => {
                if c.is_ascii_graphic() {
                    write!(f, "Protocol error: expected '$', got '{}'", *c as char)
                } else {
                    write!(f, "Protocol error: expected '$', got byte {c:#04x}")
                }
            }
            ProtocolError::InlineTooBig => f.write_str("Protocol error: too big inline request"),
            ProtocolError::MissingCrlf => f.write_str("Protocol error: bulk string not followed by CRLF"),
            ProtocolError::UnbalancedQuotes => f.write_str("Protocol error: unbalanced quotes in request"),
        }
    }
}

/// The outcome of looking at a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The buffer does not hold a whole request yet.
    Incomplete,
    /// A request: its arguments (borrowed from the buffer) and how many
    /// bytes it used. An empty request (a blank line, `*0`) has no
    /// arguments and should be skipped.
    Command {
        /// The arguments, the command name first.
        args: Vec<&'a [u8]>,
        /// Bytes consumed.
        consumed: usize,
    },
}

/// The line starting at `at` without its CRLF, and where the next begins.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

/// A decimal integer, strictly: optional `-`, digits, nothing else.
fn integer(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some(if neg { -v } else { v })
}

/// Parses one request from the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_array(buf, limits),
        Some(_) => parse_inline(buf, limits),
    }
}

fn parse_array<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    let Some((header, mut at)) = line(buf, 0) else {
        return if buf.len() > limits.max_inline {
            Err(ProtocolError::MultibulkLength)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let count = integer(&header[1..]).ok_or(ProtocolError::MultibulkLength)?;
    if count > limits.max_args as i64 {
        return Err(ProtocolError::MultibulkLength);
    }
    if count <= 0 {
        return Ok(Parsed::Command { args: Vec::new(), consumed: at });
    }
    // Bounded by max_args, and each element takes at least 4 bytes of input,
    // so the capacity never exceeds what the buffer could describe.
    let mut args = Vec::with_capacity((count as usize).min(buf.len() / 4 + 1));
    for _ in 0..count {
        let Some(&first) = buf.get(at) else { return Ok(Parsed::Incomplete) };
        if first != b'$' {
            return Err(ProtocolError::ExpectedDollar(first));
        }
        let Some((len_line, data_at)) = line(buf, at) else {
            return if buf.len() - at > 32 { Err(ProtocolError::BulkLength) } else { Ok(Parsed::Incomplete) };
        };
        let len = integer(&len_line[1..]).ok_or(ProtocolError::BulkLength)?;
        if len < 0 {
            return Err(ProtocolError::BulkLength);
        }
        if len as u64 > limits.max_bulk as u64 {
            return Err(ProtocolError::BulkTooLarge { len: len as u64, max: limits.max_bulk });
        }
        let len = len as usize;
        let end = data_at + len;
        if buf.len() < end + 2 {
            return Ok(Parsed::Incomplete);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::MissingCrlf);
        }
        args.push(&buf[data_at..end]);
        at = end + 2;
    }
    Ok(Parsed::Command { args, consumed: at })
}

fn parse_inline<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    let newline = buf.iter().position(|&b| b == b'\n');
    let Some(newline) = newline else {
        return if buf.len() > limits.max_inline { Err(ProtocolError::InlineTooBig) } else { Ok(Parsed::Incomplete) };
    };
    if newline > limits.max_inline {
        return Err(ProtocolError::InlineTooBig);
    }
    let mut text = &buf[..newline];
    if let Some(stripped) = text.strip_suffix(b"\r") {
        text = stripped;
    }
    let mut args = Vec::new();
    let mut rest = text;
    loop {
        while let Some((b' ' | b'\t', tail)) = rest.split_first() {
            rest = tail;
        }
        let Some(&first) = rest.first() else { break };
        if first == b'"' || first == b'\'' {
            let close = rest[1..].iter().position(|&b| b == first).ok_or(ProtocolError::UnbalancedQuotes)?;
            args.push(&rest[1..1 + close]);
            rest = &rest[close + 2..];
        } else {
            let end = rest.iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(rest.len());
            args.push(&rest[..end]);
            rest = &rest[end..];
        }
        if args.len() > limits.max_args {
            return Err(ProtocolError::MultibulkLength);
        }
    }
    Ok(Parsed::Command { args, consumed: newline + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(buf: &[u8]) -> (Vec<&[u8]>, usize) {
        match parse(buf, &Limits::default()).unwrap() {
            Parsed::Command { args, consumed } => (args, consumed),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn arrays_of_bulk_strings() {
        let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n*1\r\n";
        let (args, used) = cmd(req);
        assert_eq!(args, vec![&b"SET"[..], b"k", b"v\r\nxy"]);
        assert_eq!(&req[used..], b"*1\r\n");
        for cut in 0..used {
            assert_eq!(parse(&req[..cut], &Limits::default()), Ok(Parsed::Incomplete), "cut at {cut}");
        }
    }

    #[test]
    fn inline_commands() {
        assert_eq!(cmd(b"PING\r\n").0, vec![&b"PING"[..]]);
        assert_eq!(cmd(b"SET  k \"a b\"\n").0, vec![&b"SET"[..], b"k", b"a b"]);
        assert_eq!(cmd(b"\r\n").0, Vec::<&[u8]>::new());
        assert_eq!(parse(b"SET k \"oops\r\n", &Limits::default()), Err(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn errors_use_redis_wording() {
        let l = Limits::default();
        assert_eq!(parse(b"*x\r\n", &l).unwrap_err().to_string(), "Protocol error: invalid multibulk length");
        assert_eq!(parse(b"*1\r\n$-5\r\n", &l).unwrap_err().to_string(), "Protocol error: invalid bulk length");
        assert_eq!(parse(b"*1\r\n:1\r\n", &l).unwrap_err().to_string(), "Protocol error: expected '$', got ':'");
        assert_eq!(parse(b"*1\r\n$1\r\nab\r\n", &l), Err(ProtocolError::MissingCrlf));
        let small = Limits { max_args: 2, max_bulk: 4, max_inline: 8 };
        assert_eq!(parse(b"*3\r\n", &small), Err(ProtocolError::MultibulkLength));
        assert_eq!(parse(b"*1\r\n$5\r\n", &small), Err(ProtocolError::BulkTooLarge { len: 5, max: 4 }));
        assert_eq!(parse(b"0123456789", &small), Err(ProtocolError::InlineTooBig));
        // A huge count never allocates for itself.
        assert_eq!(parse(b"*999999999999\r\n", &l), Err(ProtocolError::MultibulkLength));
    }

    proptest::proptest! {
        #[test]
        fn random_input_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes, &Limits { max_args: 16, max_bulk: 64, max_inline: 128 });
        }

        #[test]
        fn encoded_commands_parse_back(args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..8)) {
            let mut buf = alloc::format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                buf.extend(alloc::format!("${}\r\n", a.len()).bytes());
                buf.extend(a);
                buf.extend(b"\r\n");
            }
            let (parsed, used) = cmd(&buf);
            proptest::prop_assert_eq!(used, buf.len());
            proptest::prop_assert_eq!(parsed, args.iter().map(|a| &a[..]).collect::<Vec<_>>());
        }
    }
}
