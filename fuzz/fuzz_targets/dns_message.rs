//! DNS messages are hostile: parsing never panics; what parses emits,
//! and what is emitted parses back to the same sections; TSIG and
//! transfer/notify parsers take the same bytes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::message::Message;

fuzz_target!(|data: &[u8]| {
    let _ = oasis_dns::tsig::verify(data, &[], 0, None);
    let _ = oasis_dns::notify::parse_notify(data);
    let _ = oasis_dns::transfer::parse_request(data);
    let _ = oasis_dns::store::decode_zone(data);
    let _ = oasis_dns::store::decode_journal(data);
    let Ok(m) = Message::parse(data) else { return };
    let mut out = Vec::new();
    if m.emit(&mut out).is_err() {
        return;
    }
    assert!(out.len() <= m.buffer_len());
    let back = Message::parse(&out).expect("what we emit parses");
    assert_eq!(back.answers, m.answers);
    assert_eq!(back.authority, m.authority);
    assert_eq!(back.questions, m.questions);
});
