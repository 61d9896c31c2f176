//! The chunked transfer coding (RFC 9112 §7.1): a strict incremental
//! decoder and the encoder's framing.
//!
//! The decoder takes bytes as they come, in any split, and hands back
//! where the data lies in what it was given. It accepts only CRLF line
//! ends, a hexadecimal size that fits in 64 bits (no sign, prefix or
//! leading space), well-formed extensions and trailer fields (both
//! discarded), and refuses anything else: the parts where servers and
//! proxies disagree are where requests get smuggled.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::parse::is_token_byte;

/// The longest chunk-size line (size and extensions) accepted.
pub const MAX_CHUNK_LINE: usize = 1024;
/// The largest trailer section accepted.
pub const MAX_TRAILERS: usize = 8 * 1024;

/// Why a chunked body is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedError {
    /// The chunk size is missing, not hexadecimal, or over 64 bits.
    BadSize,
    /// A chunk extension is malformed or too long.
    BadExtension,
    /// A line does not end in CRLF (a bare CR or LF).
    BadLineEnd,
    /// Chunk data is not followed by CRLF.
    MissingDataEnd,
    /// A trailer field is malformed, or the trailers are too large.
    BadTrailer,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadSize => "bad chunk size",
            ChunkedError::BadExtension => "bad chunk extension",
            ChunkedError::BadLineEnd => "chunk line not ended by CRLF",
            ChunkedError::MissingDataEnd => "chunk data not followed by CRLF",
            ChunkedError::BadTrailer => "bad trailer section",
        })
    }
}

impl core::error::Error for ChunkedError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` so far.
    Size { digits: u8 },
    /// After the size: optional whitespace, then `;` or CR.
    AfterSize,
    /// Inside extensions (checked byte by byte, then discarded).
    Extension,
    /// Saw CR ending the size line.
    SizeLf,
    /// `remaining` bytes of data to go.
    Data,
    /// After the data: CR expected.
    DataCr,
    /// After the data: LF expected.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field's name.
    TrailerName,
    /// Inside a trailer field's value.
    TrailerValue,
    /// Saw CR ending a trailer line.
    TrailerLf,
    /// Saw CR of the final empty line.
    FinalLf,
    /// The body is complete.
    Done,
}

/// What one call to [`ChunkedDecoder::decode`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Bytes of the input used (framing and data).
    pub consumed: usize,
    /// Where data lies in the input (possibly empty).
    pub data: Range<usize>,
    /// Whether the body is complete (the last chunk and trailers seen).
    pub done: bool,
}

/// An incremental decoder for one chunked body.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    remaining: u64,
    line: usize,
    trailers: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size { digits: 0 }, size: 0, remaining: 0, line: 0, trailers: 0 }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`: framing bytes are consumed up to the next
    /// data (or the end), and at most one run of data is returned. Call
    /// again with the rest of the input while `consumed` is not zero.
    pub fn decode(&mut self, input: &[u8]) -> Result<Step, ChunkedError> {
        self.decode_at_most(input, usize::MAX)
    }

    /// [`ChunkedDecoder::decode`], returning at most `max_data` bytes of data.
    pub fn decode_at_most(&mut self, input: &[u8], max_data: usize) -> Result<Step, ChunkedError> {
        let mut at = 0;
        while at < input.len() {
            if self.state == State::Data {
                let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(input.len() - at).min(max_data);
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                return Ok(Step { consumed: at + take, data: at..at + take, done: false });
            }
            if self.state == State::Done {
                break;
            }
            self.byte(input[at])?;
            at += 1;
        }
        Ok(Step { consumed: at, data: at..at, done: self.state == State::Done })
    }

    fn byte(&mut self, b: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::Size { digits } => match hex(b) {
                Some(v) => {
                    if digits == 16 {
                        return Err(ChunkedError::BadSize);
                    }
                    self.size = self.size << 4 | u64::from(v);
                    self.line = 1;
                    State::Size { digits: digits + 1 }
                }
                None if digits == 0 => return Err(ChunkedError::BadSize),
                None => return self.after_size(b),
            },
            State::AfterSize => return self.after_size(b),
            State::Extension => {
                self.line += 1;
                if self.line > MAX_CHUNK_LINE {
                    return Err(ChunkedError::BadExtension);
                }
                match b {
                    b'\r' => State::SizeLf,
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    // quoted-string and token characters, '=' and BWS.
                    b'\t' | b' '..=b'~' | 0x80.. => State::Extension,
                    _ => return Err(ChunkedError::BadExtension),
                }
            }
            State::SizeLf => {
                if b != b'\n' {
                    return Err(ChunkedError::BadLineEnd);
                }
                self.remaining = self.size;
                if self.size == 0 { State::TrailerStart } else { State::Data }
            }
            State::Data => State::Data,
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => {
                self.size = 0;
                State::Size { digits: 0 }
            }
            State::DataCr | State::DataLf => return Err(ChunkedError::MissingDataEnd),
            State::TrailerStart => match b {
                b'\r' => State::FinalLf,
                _ if is_token_byte(b) => self.trailer_byte(State::TrailerName)?,
                _ => return Err(ChunkedError::BadTrailer),
            },
            State::TrailerName => match b {
                b':' => self.trailer_byte(State::TrailerValue)?,
                _ if is_token_byte(b) => self.trailer_byte(State::TrailerName)?,
                _ => return Err(ChunkedError::BadTrailer),
            },
            State::TrailerValue => match b {
                b'\r' => self.trailer_byte(State::TrailerLf)?,
                b'\t' | b' '..=b'~' | 0x80.. => self.trailer_byte(State::TrailerValue)?,
                _ => return Err(ChunkedError::BadTrailer),
            },
            State::TrailerLf if b == b'\n' => self.trailer_byte(State::TrailerStart)?,
            State::TrailerLf => return Err(ChunkedError::BadLineEnd),
            State::FinalLf if b == b'\n' => State::Done,
            State::FinalLf => return Err(ChunkedError::BadLineEnd),
            State::Done => State::Done,
        };
        Ok(())
    }

    fn after_size(&mut self, b: u8) -> Result<(), ChunkedError> {
        self.state = match b {
            b' ' | b'\t' => State::AfterSize,
            b';' => State::Extension,
            b'\r' => State::SizeLf,
            b'\n' => return Err(ChunkedError::BadLineEnd),
            _ => return Err(ChunkedError::BadSize),
        };
        self.line += 1;
        if self.line > MAX_CHUNK_LINE {
            return Err(ChunkedError::BadExtension);
        }
        Ok(())
    }

    fn trailer_byte(&mut self, next: State) -> Result<State, ChunkedError> {
        self.trailers += 1;
        if self.trailers > MAX_TRAILERS {
            return Err(ChunkedError::BadTrailer);
        }
        Ok(next)
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

/// Appends the line that starts a chunk of `len` bytes (not zero: that
/// is the last chunk, [`LAST_CHUNK`]).
pub fn encode_chunk_start(len: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// What follows each chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";
/// The last chunk with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Encodes `data` as chunks of at most `max_chunk` bytes and a last chunk.
pub fn encode(data: &[u8], max_chunk: usize, out: &mut Vec<u8>) {
    for chunk in data.chunks(max_chunk.max(1)) {
        encode_chunk_start(chunk.len(), out);
        out.extend_from_slice(chunk);
        out.extend_from_slice(CHUNK_END);
    }
    out.extend_from_slice(LAST_CHUNK);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// Decodes `input` fed in pieces of `split` bytes.
    fn decode_all(input: &[u8], split: usize) -> Result<(Vec<u8>, usize), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() && !decoder.is_done() {
            let end = (at + split.max(1)).min(input.len());
            let mut piece = &input[at..end];
            while !piece.is_empty() {
                let step = decoder.decode(piece)?;
                out.extend_from_slice(&piece[step.data.clone()]);
                at += step.consumed;
                piece = &piece[step.consumed..];
                if step.done || step.consumed == 0 {
                    break;
                }
            }
        }
        assert!(decoder.is_done() || at == input.len());
        if !decoder.is_done() {
            return Err(ChunkedError::BadSize);
        }
        Ok((out, at))
    }

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let body = b"5;name=value\r\nhello\r\n6 ; x=\"q\"\r\n world\r\n0\r\nTrailer: yes\r\n\r\nGET";
        let (data, used) = decode_all(body, 100).unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(&body[used..], b"GET");
        assert_eq!(decode_all(b"A\r\n0123456789\r\n0\r\n\r\n", 1).unwrap().0, b"0123456789");
    }

    #[test]
    fn refuses_what_smugglers_send() {
        let bad: &[&[u8]] = &[
            b"\r\n",                         // no size
            b"-1\r\n",                       // sign
            b"0x5\r\nhello\r\n0\r\n\r\n",    // prefix
            b" 5\r\nhello\r\n0\r\n\r\n",     // leading space
            b"5\nhello\r\n0\r\n\r\n",        // bare LF
            b"5\rhello\r\n0\r\n\r\n",        // bare CR
            b"5\r\nhelloX\r\n0\r\n\r\n",     // data longer than its size
            b"5\r\nhello\n0\r\n\r\n",        // data end without CR
            b"10000000000000000\r\n",        // 17 digits: over 64 bits
            b"5;\x01\r\nhello\r\n0\r\n\r\n", // control in an extension
            b"0\r\nbad trailer\r\n\r\n",     // no colon
            b"0\r\n\r\r\n",                  // bare CR at the end
            b"0\r\nX: a\rb\r\n\r\n",         // bare CR in a trailer
        ];
        for input in bad {
            assert!(decode_all(input, 64).is_err(), "accepted {:?}", core::str::from_utf8(input));
        }
        let long = vec![b'a'; MAX_CHUNK_LINE + 8];
        let mut line = b"1;".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(ChunkedDecoder::new().decode(&line).unwrap_err(), ChunkedError::BadExtension);
    }

    #[test]
    fn max_size_fits() {
        let mut decoder = ChunkedDecoder::new();
        let step = decoder.decode(b"ffffffffffffffff\r\nab").unwrap();
        assert_eq!(step.data, 18..20);
        assert_eq!(decoder.decode(b"ab").unwrap().data, 0..2);
    }

    #[test]
    fn encodes_sizes_in_hex() {
        let mut out = Vec::new();
        encode_chunk_start(0x1a2b, &mut out);
        encode_chunk_start(1, &mut out);
        assert_eq!(out, b"1a2b\r\n1\r\n");
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..2000), max in 1usize..300, split in 1usize..50) {
            let mut encoded = Vec::new();
            encode(&data, max, &mut encoded);
            encoded.extend_from_slice(b"NEXT");
            let (decoded, used) = decode_all(&encoded, split).unwrap();
            prop_assert_eq!(decoded, data);
            prop_assert_eq!(&encoded[used..], b"NEXT");
        }

        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..300), split in 1usize..20) {
            let _ = decode_all(&input, split);
        }
    }
}
