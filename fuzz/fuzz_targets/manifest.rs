//! Manifest notes are hostile: parsing never panics, and an accepted
//! manifest has valid, distinct names and at most MAX_DEVICES entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_abi::manifest::{MAX_DEVICES, valid_name};
use oasis_tender::Manifest;

fuzz_target!(|data: &[u8]| {
    for m in [Manifest::from_notes(&[data]), Manifest::parse(data)].into_iter().flatten() {
        assert!(m.devices.len() <= MAX_DEVICES);
        for (i, d) in m.devices.iter().enumerate() {
            assert!(valid_name(d.name.as_bytes()));
            assert!(m.devices[..i].iter().all(|o| o.name != d.name));
        }
    }
});
