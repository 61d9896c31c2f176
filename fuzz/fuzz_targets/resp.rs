//! RESP requests are hostile: parsing never panics, consumes at most the
//! buffer, and every argument lies inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_resp::{Limits, Parsed, glob_match, parse};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_args: 64, max_bulk: 4096, max_inline: 1024 };
    let mut at = 0;
    while at < data.len() {
        match parse(&data[at..], &limits) {
            Ok(Parsed::Command { args, consumed }) => {
                assert!(consumed > 0 && consumed <= data.len() - at);
                assert!(args.len() <= limits.max_args);
                at += consumed;
            }
            Ok(Parsed::Incomplete) | Err(_) => break,
        }
    }
    if let Some((p, t)) = data.split_first().map(|(n, rest)| rest.split_at((*n as usize).min(rest.len()))) {
        let _ = glob_match(p, t);
    }
});
