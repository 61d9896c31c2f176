//! Zone files are outside text: parsing never panics, and a zone that
//! loads writes out as text that loads back to the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::Name;
use oasis_dns::zone::{ParseOptions, parse_zone};

fuzz_target!(|data: &[u8]| {
    let origin = Name::from_text("example.com.", None).expect("valid origin");
    let mut include = |_: &str| -> Result<Vec<u8>, String> { Ok(b"inc A 192.0.2.1\n".to_vec()) };
    let options =
        ParseOptions { file_name: "fuzz", origin: origin.clone(), default_ttl: Some(300), include: Some(&mut include) };
    let Ok(zone) = parse_zone(data, options) else { return };
    let text = zone.to_text();
    let again =
        parse_zone(text.as_bytes(), ParseOptions { file_name: "again", origin, default_ttl: None, include: None })
            .expect("a zone we wrote loads");
    assert!(zone.records().eq(again.records()));
    let stored = oasis_dns::store::encode_zone(&zone);
    let back = oasis_dns::store::decode_zone(&stored).expect("a zone we stored loads");
    assert!(zone.records().eq(back.records()));
});
