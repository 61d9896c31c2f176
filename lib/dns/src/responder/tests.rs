use super::*;
use crate::answer::tests::catalog;
use crate::message::Message;
use crate::name::Name;
use crate::record::Question;
use alloc::vec;

const UDP: Transport = Transport::Udp { max: 1232 };

fn query(name: &str, qtype: RType, edns: Option<(u16, bool)>, id: u16, rd: bool) -> Vec<u8> {
    let mut m = Message::new(id, Opcode::QUERY);
    m.flags.rd = rd;
    m.questions.push(Question { name: Name::from_text(name, None).unwrap(), qtype, qclass: Class::IN });
    m.edns = edns.map(|(size, d)| Edns::new(size, d));
    let mut out = Vec::new();
    m.emit(&mut out).unwrap();
    out
}

fn ask(r: &mut Responder, q: &[u8], t: Transport) -> Message {
    let mut out = Vec::new();
    assert_eq!(r.respond(q, t, &mut out), Action::Reply);
    Message::parse(&out).unwrap()
}

#[test]
fn fast_path_matches_slow_path_with_own_id_rd_and_case() {
    let mut warm = Responder::new(catalog(), Config::default());
    let first = query("www.example.com.", RType::A, Some((4096, true)), 1, false);
    let mut out = Vec::new();
    warm.respond(&first, UDP, &mut out);
    assert_eq!(warm.cache_stats().0, 1);
    let second = query("WwW.ExAmPlE.cOm.", RType::A, Some((4096, true)), 0xBEEF, true);
    let mut fast = Vec::new();
    warm.respond(&second, UDP, &mut fast);
    let mut cold = Responder::new(catalog(), Config::default());
    let mut slow = Vec::new();
    cold.respond(&second, UDP, &mut slow);
    assert_eq!(fast, slow);
    let m = Message::parse(&fast).unwrap();
    assert_eq!(m.id, 0xBEEF);
    assert!(m.flags.rd && m.flags.aa && m.flags.qr);
    assert!(m.questions[0].name.eq_exact(&Name::from_text("WwW.ExAmPlE.cOm.", None).unwrap()));
    assert!(m.answers[0].name.eq_exact(&Name::from_text("WwW.ExAmPlE.cOm.", None).unwrap()));
    assert!(m.edns.unwrap().dnssec_ok);
}

#[test]
fn drops_responses_and_runts() {
    let mut r = Responder::new(catalog(), Config::default());
    let mut q = query("www.example.com.", RType::A, None, 1, false);
    q[2] |= 0x80;
    let mut out = Vec::new();
    assert_eq!(r.respond(&q, UDP, &mut out), Action::Drop);
    assert_eq!(r.respond(&q[..11], UDP, &mut out), Action::Drop);
}

#[test]
fn errors_as_nsd_gives_them() {
    let mut r = Responder::new(catalog(), Config::default());
    // Unknown opcode: NOTIMP, no sections.
    let mut q = query("www.example.com.", RType::A, None, 7, true);
    q[2] |= 3 << 3;
    let m = ask(&mut r, &q, UDP);
    assert_eq!((m.rcode, m.opcode, m.questions.len(), m.flags.rd), (Rcode::NOTIMP, Opcode(3), 0, true));
    // Two questions: FORMERR with every flag cleared.
    let mut two = Message::new(8, Opcode::QUERY);
    two.flags.rd = true;
    let question =
        Question { name: Name::from_text("a.example.com.", None).unwrap(), qtype: RType::A, qclass: Class::IN };
    two.questions = vec![question.clone(), question];
    let mut bytes = Vec::new();
    two.emit(&mut bytes).unwrap();
    let m = ask(&mut r, &bytes, UDP);
    assert_eq!((m.rcode, m.flags.rd, m.questions.len()), (Rcode::FORMERR, false, 0));
    // Records in the answer section: FORMERR, RD kept.
    let mut q = query("www.example.com.", RType::A, None, 9, true);
    q[7] = 1;
    let m = ask(&mut r, &q, UDP);
    assert_eq!((m.rcode, m.flags.rd), (Rcode::FORMERR, true));
    // EDNS version 1: BADVERS with the question and an OPT.
    let mut q = query("www.example.com.", RType::A, Some((1232, true)), 10, false);
    let opt_version = q.len() - 11 + 6;
    q[opt_version] = 1;
    let m = ask(&mut r, &q, UDP);
    assert_eq!((m.rcode, m.questions.len(), m.answers.len()), (Rcode::BADVERS, 1, 0));
    assert!(!m.edns.unwrap().dnssec_ok, "as NSD, DO is not echoed with BADVERS");
    // Not our zone: REFUSED with EDE 20.
    let m = ask(&mut r, &query("example.org.", RType::A, Some((1232, false)), 11, false), UDP);
    assert_eq!(m.rcode, Rcode::REFUSED);
    assert_eq!(m.edns.unwrap().options, vec![(OPTION_EDE, vec![0, 20])]);
}

#[test]
fn truncates_whole_rrsets_and_drops_additional_first() {
    let mut zone_text = alloc::string::String::from("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    for i in 0..40 {
        zone_text.push_str(&alloc::format!("big TXT \"{i:0>40}\"\n"));
    }
    for i in 0..15 {
        zone_text.push_str(&alloc::format!("mx MX {i} host{i}\nhost{i} A 192.0.2.{i}\n"));
    }
    let origin = Name::from_text("t.", None).unwrap();
    let zone = crate::zone::parse_zone(
        zone_text.as_bytes(),
        crate::zone::ParseOptions { file_name: "t", origin, default_ttl: None, include: None },
    )
    .unwrap();
    let mut c = Catalog::new();
    c.insert(zone);
    let mut r = Responder::new(c, Config::default());
    let m = ask(&mut r, &query("big.t.", RType::TXT, None, 1, false), UDP);
    assert!(m.flags.tc);
    assert_eq!(m.answers.len(), 0, "an RRset is never split");
    let m = ask(&mut r, &query("big.t.", RType::TXT, Some((4096, false)), 1, false), UDP);
    assert!(m.flags.tc, "over our 1232");
    let m = ask(&mut r, &query("big.t.", RType::TXT, Some((4096, false)), 1, false), Transport::Udp { max: 4096 });
    assert!(!m.flags.tc);
    assert_eq!(m.answers.len(), 40);
    // MX fits in 512 but its 15 addresses do not: some are left out, no TC.
    let m = ask(&mut r, &query("mx.t.", RType::MX, None, 1, false), UDP);
    assert!(!m.flags.tc);
    assert_eq!(m.answers.len(), 15);
    assert!(m.additional.len() < 15, "{m:?}");
    let mut out = Vec::new();
    r.respond(&query("mx.t.", RType::MX, None, 1, false), UDP, &mut out);
    assert!(out.len() <= 512);
    let m = ask(&mut r, &query("mx.t.", RType::MX, None, 1, false), Transport::Tcp);
    assert_eq!(m.additional.len(), 16, "15 hosts and the name server");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn qname() -> impl Strategy<Value = String> {
        let labels = prop_oneof![
            Just("www"),
            Just("web"),
            Just("mail"),
            Just("x"),
            Just("wild"),
            Just("cw"),
            Just("old"),
            Just("b"),
            Just("a"),
            Just("sub"),
            Just("ns"),
            Just("ns1"),
            Just("deep"),
            Just("host"),
            Just("loop1"),
            Just("*"),
            Just("Www"),
            Just("MAIL")
        ];
        (proptest::collection::vec(labels, 0..4), prop_oneof![Just("example.com."), Just("new.example."), Just("org.")])
            .prop_map(|(ls, tail)| {
                let mut s = ls.join(".");
                if !s.is_empty() {
                    s.push('.');
                }
                s + tail
            })
    }

    use alloc::string::String;

    proptest! {
        #[test]
        fn every_query_gets_a_well_formed_response(
            name in qname(),
            qtype in prop_oneof![Just(1u16), Just(2), Just(5), Just(6), Just(15), Just(16), Just(28), Just(33), Just(39), Just(43), Just(255), Just(65280)],
            edns in proptest::option::of((0u16..5000, any::<bool>())),
            tcp in any::<bool>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            let mut r = Responder::new(catalog(), Config::default());
            let mut q = query(&name, RType(qtype), edns, 77, true);
            for (at, b) in flips {
                let at = at % q.len();
                q[at] = b;
            }
            let t = if tcp { Transport::Tcp } else { UDP };
            let mut out = Vec::new();
            let action = r.respond(&q, t, &mut out);
            if action == Action::Reply {
                let m = Message::parse(&out).unwrap();
                prop_assert!(m.flags.qr);
                if !tcp {
                    prop_assert!(out.len() <= 1232);
                }
                // The fast path gives the same bytes the second time.
                let mut again = Vec::new();
                r.respond(&q, t, &mut again);
                prop_assert_eq!(again, out);
            }
        }
    }
}

mod random_zones {
    use super::*;
    use crate::zone::{ParseOptions, parse_zone};
    use alloc::string::String;
    use proptest::prelude::*;

    const LABELS: &[&str] = &["a", "b", "*", "ns", "mail", "x"];

    fn owner() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(LABELS), 0..3)
            .prop_map(|ls| if ls.is_empty() { "@".into() } else { ls.join(".") })
    }

    fn record() -> impl Strategy<Value = String> {
        (owner(), owner(), 0u8..9, any::<u8>()).prop_map(|(o, target, kind, v)| match kind {
            0 => alloc::format!("{o} A 192.0.2.{v}"),
            1 => alloc::format!("{o} AAAA 2001:db8::{v:x}"),
            2 => alloc::format!("{o} CNAME {target}"),
            3 => alloc::format!("{o} MX {v} {target}"),
            4 => alloc::format!("{o} NS {target}"),
            5 => alloc::format!("{o} DNAME {target}.t2."),
            6 => alloc::format!("{o} TXT \"{}\"", "t".repeat(usize::from(v))),
            7 => alloc::format!("{o} SRV 1 2 {v} {target}"),
            _ => alloc::format!("{o} TYPE65000 \\# 1 {v:02x}"),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn any_query_against_a_random_zone_gets_a_well_formed_response(
            records in proptest::collection::vec(record(), 0..25),
            queries in proptest::collection::vec((owner(), proptest::sample::select(&[1u16, 2, 5, 15, 16, 28, 33, 39, 43, 255, 65000][..]), any::<bool>(), any::<bool>()), 1..20),
        ) {
            let mut text = String::from("$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n");
            let origin = Name::from_text("t.", None).unwrap();
            let mut zone = parse_zone(text.as_bytes(), ParseOptions { file_name: "t", origin: origin.clone(), default_ttl: None, include: None }).unwrap();
            // Records the zone rules refuse (CNAME beside data, …) are skipped.
            for r in &records {
                let candidate = alloc::format!("{text}{r}\n");
                if let Ok(z) = parse_zone(candidate.as_bytes(), ParseOptions { file_name: "t", origin: origin.clone(), default_ttl: None, include: None }) {
                    text = candidate;
                    zone = z;
                }
            }
            let mut c = Catalog::new();
            c.insert(zone);
            let mut r = Responder::new(c, Config::default());
            for (name, qtype, edns, tcp) in queries {
                let qname = if name == "@" { "t.".into() } else { alloc::format!("{name}.t.") };
                let q = query(&qname, RType(qtype), edns.then_some((1232, false)), 1, true);
                let t = if tcp { Transport::Tcp } else { UDP };
                let mut out = Vec::new();
                prop_assert_eq!(r.respond(&q, t, &mut out), Action::Reply);
                let m = Message::parse(&out).unwrap();
                prop_assert!(m.flags.qr);
                prop_assert_eq!(m.questions.len(), 1);
                prop_assert!(m.rcode == Rcode::NOERROR || m.rcode == Rcode::NXDOMAIN || m.rcode == Rcode::YXDOMAIN);
                // Every answer owner is the question or reached from it.
                if !m.flags.tc && m.rcode == Rcode::NOERROR && m.answers.is_empty() && !m.authority.is_empty() {
                    let soa_or_ns = m.authority.iter().all(|a| matches!(a.rtype(), RType::SOA | RType::NS));
                    prop_assert!(soa_or_ns);
                }
            }
        }
    }
}
