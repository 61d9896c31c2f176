//! Delimiting a request body in buffered input: by length or chunked,
//! with the size limit counted as data arrives.

use core::ops::Range;

use crate::chunked::{ChunkedDecoder, ChunkedError};
use crate::error::RequestError;
use crate::request::Framing;

/// Where the body of the current request stands.
#[derive(Clone, Debug)]
pub enum BodyDecoder {
    /// This many bytes to go.
    Length(u64),
    /// A chunked body, and the data seen so far.
    Chunked(ChunkedDecoder, u64),
}

/// One step through buffered input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyStep {
    /// Bytes of input used.
    pub consumed: usize,
    /// Data within the input.
    pub data: Range<usize>,
    /// Whether the body is complete.
    pub done: bool,
}

impl BodyDecoder {
    /// The decoder for a request framed as `framing`.
    pub fn new(framing: Framing) -> BodyDecoder {
        match framing {
            Framing::Length(n) => BodyDecoder::Length(n),
            Framing::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(), 0),
        }
    }

    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        match self {
            BodyDecoder::Length(n) => *n == 0,
            BodyDecoder::Chunked(decoder, _) => decoder.is_done(),
        }
    }

    /// The bytes still to come when known (a length-delimited body).
    pub fn remaining(&self) -> Option<u64> {
        match self {
            BodyDecoder::Length(n) => Some(*n),
            BodyDecoder::Chunked(..) => None,
        }
    }

    /// Takes the next data (at most `max_data` bytes) out of `input`; `max_body` bounds a chunked
    /// body's total (a length was checked against it up front).
    pub fn decode(&mut self, input: &[u8], max_data: usize, max_body: u64) -> Result<BodyStep, RequestError> {
        match self {
            BodyDecoder::Length(remaining) => {
                let take = usize::try_from(*remaining).unwrap_or(usize::MAX).min(input.len()).min(max_data);
                *remaining -= take as u64;
                Ok(BodyStep { consumed: take, data: 0..take, done: *remaining == 0 })
            }
            BodyDecoder::Chunked(decoder, total) => {
                let step =
                    decoder.decode_at_most(input, max_data).map_err(|e| RequestError::Malformed(chunked_reason(e)))?;
                *total += step.data.len() as u64;
                if *total > max_body {
                    return Err(RequestError::BodyTooLarge);
                }
                Ok(BodyStep { consumed: step.consumed, data: step.data, done: step.done })
            }
        }
    }
}

fn chunked_reason(e: ChunkedError) -> &'static str {
    match e {
        ChunkedError::BadSize => "bad chunk size",
        ChunkedError::BadExtension => "bad chunk extension",
        ChunkedError::BadLineEnd => "chunk line not ended by CRLF",
        ChunkedError::MissingDataEnd => "chunk data not followed by CRLF",
        ChunkedError::BadTrailer => "bad trailer section",
    }
}
