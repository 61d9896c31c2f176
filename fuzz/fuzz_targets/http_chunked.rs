//! Chunked bodies are hostile: decoding any bytes in any pieces never
//! panics, uses at most what it is given, and hands out data only from
//! inside it; and what the encoder writes decodes to what it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_http::chunked::{ChunkedDecoder, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let step = usize::from(cut % 16) + 1;
    let mut decoder = ChunkedDecoder::new();
    'pieces: for piece in rest.chunks(step) {
        let mut piece = piece;
        while !piece.is_empty() {
            let Ok(found) = decoder.decode_at_most(piece, usize::from(cut) + 1) else { break 'pieces };
            assert!(found.consumed <= piece.len());
            assert!(found.data.start <= found.data.end && found.data.end <= found.consumed);
            if found.done {
                break 'pieces;
            }
            assert!(found.consumed > 0, "no progress");
            piece = &piece[found.consumed..];
        }
    }

    let mut encoded = Vec::new();
    encode(rest, step, &mut encoded);
    let mut decoder = ChunkedDecoder::new();
    let mut decoded = Vec::new();
    let mut input = &encoded[..];
    while !decoder.is_done() {
        let found = decoder.decode(input).expect("our own encoding decodes");
        decoded.extend_from_slice(&input[found.data.clone()]);
        input = &input[found.consumed..];
    }
    assert!(input.is_empty());
    assert_eq!(decoded, rest);
});
