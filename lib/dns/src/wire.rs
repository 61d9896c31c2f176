//! Reading and writing the wire format: a bounds-checked reader that
//! follows compression pointers safely, and a writer that compresses.
//!
//! Why our own and not an ecosystem crate (`domain`, `hickory-proto`,
//! `simple-dns`): the server's hot path copies precomputed answers and
//! must not allocate or build generic message trees; the guest is
//! `no_std` + `alloc` with `#![forbid(unsafe_code)]` throughout, and every
//! byte from outside is read through checked accessors with a stated
//! panic contract (no panics on any input), which we test and fuzz here
//! rather than inherit.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use crate::name::{MAX_NAME_LEN, Name};

/// Most compression pointers followed while reading one name. Every
/// pointer must also point before the one that led to it, so loops are
/// impossible; the cap bounds the work on hostile input.
pub const MAX_POINTER_HOPS: usize = 64;

/// Why bytes are not a valid DNS message (or part of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The message ends in the middle of something.
    Truncated,
    /// A compression pointer to itself, forward, or out of the message.
    BadPointer,
    /// More than [`MAX_POINTER_HOPS`] pointers in one name.
    TooManyPointers,
    /// A name over 255 bytes once decompressed.
    NameTooLong,
    /// A label length with the reserved top bits `01` or `10`.
    BadLabelType,
    /// Record data that does not match its type's format.
    BadRdata,
    /// Record data shorter or longer than its RDLENGTH says.
    RdataLength,
    /// More than one OPT record, or an OPT that is not at the root or not in
    /// the additional section.
    BadOpt,
    /// A TSIG record that is not the last in the message.
    BadTsigPosition,
    /// Bytes left after the last record.
    TrailingBytes,
    /// A message longer than 65,535 bytes would be needed.
    TooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "message truncated",
            WireError::BadPointer => "compression pointer not to an earlier offset in the message",
            WireError::TooManyPointers => "too many compression pointers in one name",
            WireError::NameTooLong => "name longer than 255 bytes",
            WireError::BadLabelType => "reserved label type",
            WireError::BadRdata => "malformed record data",
            WireError::RdataLength => "record data length does not match its contents",
            WireError::BadOpt => "misplaced or repeated OPT record",
            WireError::BadTsigPosition => "TSIG record not last in the message",
            WireError::TrailingBytes => "bytes after the last record",
            WireError::TooLong => "message over 65535 bytes",
        })
    }
}

impl core::error::Error for WireError {}

/// A cursor over a whole message (names may point anywhere before them).
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at `pos` in `msg`.
    pub fn new(msg: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { msg, pos }
    }

    /// Current offset in the message.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The whole message.
    pub fn message(&self) -> &'a [u8] {
        self.msg
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.msg.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let out = self.msg.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.bytes(1)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name.
    pub fn name(&mut self) -> Result<Name, WireError> {
        let mut wire = Vec::with_capacity(32);
        self.pos = read_name_into(self.msg, self.pos, &mut wire)?;
        Ok(Name::from_checked_wire(wire))
    }
}

/// Decompresses the name at `start` into `out` (appending uncompressed
/// wire form) and returns the offset just after the name's bytes at
/// `start`. Pointers must point strictly before the pointer itself.
pub fn read_name_into(msg: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, WireError> {
    let base = out.len();
    let mut at = start;
    let mut end_of_name = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(at).ok_or(WireError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let len = usize::from(len);
                let label = msg.get(at + 1..at + 1 + len).ok_or(WireError::Truncated)?;
                if out.len() - base + 1 + len > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                out.push(len as u8);
                out.extend_from_slice(label);
                at += 1 + len;
                if len == 0 {
                    return Ok(end_of_name.unwrap_or(at));
                }
            }
            0xC0 => {
                let low = *msg.get(at + 1).ok_or(WireError::Truncated)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                if target >= at {
                    return Err(WireError::BadPointer);
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(WireError::TooManyPointers);
                }
                end_of_name.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(WireError::BadLabelType),
        }
    }
}

/// Skips the name at `at` without decompressing it, for scanning.
pub fn skip_name(msg: &[u8], mut at: usize) -> Result<usize, WireError> {
    let mut total = 0;
    loop {
        let len = *msg.get(at).ok_or(WireError::Truncated)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(at + 1),
            0x00 => {
                total += 1 + usize::from(len);
                if total >= MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                at += 1 + usize::from(len);
            }
            0xC0 => {
                msg.get(at + 1).ok_or(WireError::Truncated)?;
                return Ok(at + 2);
            }
            _ => return Err(WireError::BadLabelType),
        }
    }
}

/// Appends names with compression (RFC 1035 §4.1.4): each suffix of a
/// name already written points back to its first occurrence.
#[derive(Debug)]
pub struct Compressor {
    /// Where the message starts in the output buffer (TCP framing or a
    /// caller's prefix may come before it).
    msg_start: usize,
    /// Lower-cased wire suffix -> offset from the message start.
    seen: BTreeMap<Vec<u8>, u16>,
}

impl Compressor {
    /// A compressor for a message that starts at `msg_start` in the buffer.
    pub fn new(msg_start: usize) -> Compressor {
        Compressor { msg_start, seen: BTreeMap::new() }
    }

    /// Writes `name`, compressed against earlier names.
    pub fn write_name(&mut self, out: &mut Vec<u8>, name: &Name) {
        let wire = name.as_wire();
        let mut at = 0;
        while wire[at] != 0 {
            let key = wire[at..].to_ascii_lowercase();
            if let Some(&offset) = self.seen.get(&key) {
                out.extend_from_slice(&(0xC000 | offset).to_be_bytes());
                return;
            }
            let offset = out.len() - self.msg_start;
            if offset < 0x4000 {
                self.seen.insert(key, offset as u16);
            }
            let len = usize::from(wire[at]);
            out.extend_from_slice(&wire[at..at + 1 + len]);
            at += 1 + len;
        }
        out.push(0);
    }

    /// Registers the name written at `offset` (from the message start)
    /// without writing it, e.g. a question copied in as bytes.
    pub fn remember(&mut self, name: &Name, offset: usize) {
        let wire = name.as_wire();
        let mut at = 0;
        while wire[at] != 0 && offset + at < 0x4000 {
            self.seen.entry(wire[at..].to_ascii_lowercase()).or_insert((offset + at) as u16);
            at += 1 + usize::from(wire[at]);
        }
    }

    /// Forgets every name at or after `offset` (from the message start),
    /// after the caller cut the buffer back there.
    pub fn forget_from(&mut self, offset: usize) {
        self.seen.retain(|_, at| usize::from(*at) < offset);
    }
}

/// Writes a name without compression.
pub fn write_name_uncompressed(out: &mut Vec<u8>, name: &Name) {
    out.extend_from_slice(name.as_wire());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_backward_pointers() {
        // "example.com" at 0, "www" + pointer to 0 at 13.
        let msg = b"\x07example\x03com\x00\x03www\xC0\x00";
        let mut r = Reader::new(msg, 13);
        assert_eq!(r.name().unwrap().to_text(), "www.example.com.");
        assert_eq!(r.pos(), msg.len());
    }

    #[test]
    fn refuses_loops_forward_pointers_and_overruns() {
        assert_eq!(Reader::new(b"\xC0\x00", 0).name().unwrap_err(), WireError::BadPointer);
        assert_eq!(Reader::new(b"\xC0\x02\x00", 0).name().unwrap_err(), WireError::BadPointer);
        assert_eq!(Reader::new(b"\x03ab", 0).name().unwrap_err(), WireError::Truncated);
        assert_eq!(Reader::new(b"\x40", 0).name().unwrap_err(), WireError::BadLabelType);
        assert_eq!(Reader::new(b"\xC0", 0).name().unwrap_err(), WireError::Truncated);
    }

    #[test]
    fn caps_decompressed_length() {
        // A chain of 63-byte labels, each pointing back to the previous one.
        let mut msg = Vec::new();
        msg.push(0);
        let mut prev = 0u16;
        for _ in 0..5 {
            let here = msg.len() as u16;
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
            msg.extend_from_slice(&(0xC000 | prev).to_be_bytes());
            prev = here;
        }
        assert_eq!(Reader::new(&msg, usize::from(prev)).name().unwrap_err(), WireError::NameTooLong);
    }

    #[test]
    fn compressor_points_back_to_suffixes() {
        let mut out = alloc::vec![0u8; 12];
        let mut c = Compressor::new(0);
        c.write_name(&mut out, &Name::from_text("www.Example.com.", None).unwrap());
        c.write_name(&mut out, &Name::from_text("mail.example.COM.", None).unwrap());
        assert_eq!(&out[12..], b"\x03www\x07Example\x03com\x00\x04mail\xC0\x10");
        let mut r = Reader::new(&out, 29);
        assert_eq!(r.name().unwrap().to_text(), "mail.Example.com.");
    }
}
