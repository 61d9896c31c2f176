//! Queries are hostile: the responder never panics, every reply parses,
//! fits the transport, and the fast path gives the same bytes as the
//! first (slow) answer.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oasis_dns::message::Message;
use oasis_dns::zone::{ParseOptions, parse_zone};
use oasis_dns::{Action, Catalog, Config, Name, Responder, Transport};

const ZONE: &str = "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n@ MX 10 mail\nns A 192.0.2.1\nmail A 192.0.2.2\n\
www CNAME web\nweb CNAME host.deep\nhost.deep A 192.0.2.4\nloop CNAME loop\n*.wild A 192.0.2.5\n*.wild MX 1 mail\n\
a.b.ent TXT \"x\"\nsub NS ns.sub\nns.sub A 192.0.2.6\nold DNAME new.example.\n_s._tcp SRV 1 2 3 mail\n\
big TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n\
big TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n\
big TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"\n\
big TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\n\
big TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n\
u TYPE65280 \\# 2 abcd\n";

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let origin = Name::from_text("example.com.", None).expect("valid origin");
        let zone =
            parse_zone(ZONE.as_bytes(), ParseOptions { file_name: "z", origin, default_ttl: None, include: None })
                .expect("fixture zone loads");
        let mut c = Catalog::new();
        c.insert(zone);
        let other = Name::from_text("new.example.", None).expect("valid origin");
        let text = "$TTL 60\n@ SOA ns.example.com. h 1 2 3 4 5\n@ NS ns.example.com.\nx A 192.0.2.9\n";
        c.insert(
            parse_zone(
                text.as_bytes(),
                ParseOptions { file_name: "n", origin: other, default_ttl: None, include: None },
            )
            .expect("loads"),
        );
        c
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, query)) = data.split_first() else { return };
    let transport = if mode & 1 == 0 { Transport::Udp { max: 512 + u16::from(mode) * 4 } } else { Transport::Tcp };
    let mut r = Responder::new(catalog().clone(), Config::default());
    let mut out = Vec::new();
    let action = r.respond(query, transport, &mut out);
    if action != Action::Reply {
        assert!(out.is_empty());
        return;
    }
    let m = Message::parse(&out).expect("every reply parses");
    assert!(m.flags.qr);
    if let Transport::Udp { max } = transport {
        assert!(out.len() <= usize::from(max.max(512)));
    }
    let mut again = Vec::new();
    assert_eq!(r.respond(query, transport, &mut again), Action::Reply);
    assert_eq!(again, out, "fast path differs from the slow path");
});
