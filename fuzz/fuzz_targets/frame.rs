//! Received frames are hostile: the pre-stack check never panics, and a
//! frame it accepts parses as Ethernet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if oasis_net::validate::check(data).is_ok() {
        assert!(data.len() >= 14);
    }
});
