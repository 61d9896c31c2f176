//! Zone transfers and TSIG against NSD: our signed AXFR request is
//! accepted by NSD, NSD's signed stream passes our stream verifier, and
//! our consumer rebuilds exactly the zone we gave NSD. Skipped, saying
//! so, when NSD is not installed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oasis_dns::message::Message;
use oasis_dns::transfer::{AxfrConsumer, Progress, build_request};
use oasis_dns::tsig::{Key, StreamVerifier, sign};
use oasis_dns::zone::{ParseOptions, parse_zone};
use oasis_dns::{Name, Rcode};
use oasis_dns_diff::generate::zones;
use oasis_dns_diff::nsd::{Nsd, find_nsd};

const SECRET: &str = "c2VjcmV0IGZvciB0aGUgdHJhbnNmZXIgdGVzdCBrZXkh";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Sends one framed request and reads framed messages until `take`
/// says stop, at most 10,000 messages or 30 s.
fn tcp_stream(server: SocketAddr, request: &[u8], mut take: impl FnMut(&[u8]) -> bool) {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect to NSD");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("set timeout");
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    s.write_all(&framed).expect("send request");
    for _ in 0..10_000 {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut msg).expect("read message");
        if !take(&msg) {
            return;
        }
    }
}

#[test]
fn signed_axfr_from_nsd() {
    let Some(binary) = find_nsd() else {
        println!("SKIPPED signed_axfr_from_nsd: nsd is not installed (apt-get install nsd, or scripts/setup)");
        return;
    };
    let (mut zone_set, _) = zones(7);
    // Big enough for many 64 KiB messages, which NSD does not all sign:
    // our verifier must carry the unsigned ones into the next MAC.
    for i in 0..6000 {
        zone_set[0].text += &format!("bulk{i} TXT \"{}\"\n", "z".repeat(150 + i % 50));
    }
    let example = &zone_set[0];
    let origin = Name::from_text(&example.origin, None).unwrap();
    let ours = parse_zone(
        example.text.as_bytes(),
        ParseOptions { file_name: "example", origin: origin.clone(), default_ttl: None, include: None },
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("oasis-dns-xfr-{}", std::process::id()));
    let global = format!("key:\n  name: \"xfr.example.\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n");
    let nsd = Nsd::start_with(&binary, &dir, &zone_set, &global, "  provide-xfr: 127.0.0.1 xfr.example.\n").unwrap();
    let key = Key::parse(&format!("xfr.example.:hmac-sha256:{SECRET}")).unwrap();

    // Signed: NSD accepts our MAC, we accept every one of NSD's.
    let mut request = build_request(4321, &origin, None);
    let request_mac = sign(&mut request, &key, now(), None, 0);
    let mut verifier = StreamVerifier::new(key.clone(), request_mac);
    let mut consumer = AxfrConsumer::new(4321, origin.clone(), 1_000_000, None);
    let mut transferred = None;
    let (mut messages, mut signed) = (0, 0);
    tcp_stream(nsd.addr, &request, |msg| {
        messages += 1;
        signed += usize::from(msg[10..12] != [0, 0]);
        verifier.verify(msg, now()).unwrap_or_else(|e| panic!("message {messages}: {e}"));
        match consumer.feed(msg).unwrap_or_else(|e| panic!("message {messages}: {e}")) {
            Progress::More => true,
            Progress::Done(zone) => {
                transferred = Some(zone);
                false
            }
            Progress::UpToDate => panic!("we asked AXFR"),
        }
    });
    verifier.finish().unwrap();
    let transferred = transferred.expect("transfer completed");
    assert_eq!(transferred.records().collect::<Vec<_>>(), ours.records().collect::<Vec<_>>());
    println!("AXFR of {} records in {messages} messages from NSD, {signed} of them signed", transferred.record_count());

    // Unsigned, and signed with the wrong secret: refused.
    let unsigned = build_request(1, &origin, None);
    let mut rcode = None;
    tcp_stream(nsd.addr, &unsigned, |msg| {
        rcode = Message::parse(msg).ok().map(|m| m.rcode);
        false
    });
    assert_eq!(rcode, Some(Rcode::REFUSED));
    let wrong = Key { secret: b"not the secret".to_vec(), ..key };
    let mut bad = build_request(2, &origin, None);
    sign(&mut bad, &wrong, now(), None, 0);
    let mut rcode = None;
    tcp_stream(nsd.addr, &bad, |msg| {
        rcode = Message::parse(msg).ok().map(|m| m.rcode);
        false
    });
    assert_eq!(rcode, Some(Rcode::NOTAUTH), "BADSIG is NOTAUTH in the header");
    drop(nsd);
    let _ = std::fs::remove_dir_all(&dir);
}
