use super::*;
use crate::name::Name;
use crate::rdata::RData;
use crate::types::Class;
use alloc::vec;
use core::net::Ipv4Addr;

/// `dig @server www.example.com A +norec` with EDNS (udp 1232, DO, a
/// cookie option), as captured on the wire.
const QUERY: &[u8] = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\
\x03www\x07example\x03com\x00\x00\x01\x00\x01\
\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x0c\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08";

#[test]
fn parses_a_real_query() {
    let m = Message::parse(QUERY).unwrap();
    assert_eq!(m.id, 0x1234);
    assert!(!m.flags.qr && !m.flags.rd);
    assert_eq!(m.questions.len(), 1);
    assert_eq!(m.questions[0].name.to_text(), "www.example.com.");
    assert_eq!(m.questions[0].qtype, RType::A);
    let edns = m.edns.unwrap();
    assert_eq!((edns.udp_size, edns.version, edns.dnssec_ok), (1232, 0, true));
    assert_eq!(edns.options, vec![(10, vec![1, 2, 3, 4, 5, 6, 7, 8])]);
}

/// RFC 1035 §4.1.4's compression example: F.ISI.ARPA, FOO.F.ISI.ARPA and
/// ARPA, laid out as its figure shows (from offset 20).
#[test]
fn rfc1035_compression_example() {
    let mut msg = vec![0u8; 20];
    msg.extend_from_slice(b"\x01F\x03ISI\x04ARPA\x00");
    msg.extend_from_slice(&[0u8; 8]); // up to offset 40
    msg.extend_from_slice(b"\x03FOO\xC0\x14");
    msg.extend_from_slice(&[0u8; 18]); // up to offset 64
    msg.extend_from_slice(b"\xC0\x1A");
    assert_eq!(Reader::new(&msg, 20).name().unwrap().to_text(), "F.ISI.ARPA.");
    assert_eq!(Reader::new(&msg, 40).name().unwrap().to_text(), "FOO.F.ISI.ARPA.");
    assert_eq!(Reader::new(&msg, 64).name().unwrap().to_text(), "ARPA.");
}

#[test]
fn emit_then_parse_is_identity() {
    let n = |s: &str| Name::from_text(s, None).unwrap();
    let mut m = Message::new(7, Opcode::QUERY);
    m.flags = Flags { qr: true, aa: true, rd: true, ..Flags::default() };
    m.rcode = Rcode::BADVERS;
    m.questions.push(Question { name: n("Www.Example.com."), qtype: RType::A, qclass: Class::IN });
    m.answers.push(Record {
        name: n("www.example.com."),
        class: Class::IN,
        ttl: 300,
        data: RData::A(Ipv4Addr::new(192, 0, 2, 1)),
    });
    m.authority.push(Record {
        name: n("example.com."),
        class: Class::IN,
        ttl: 300,
        data: RData::Ns(n("ns1.example.com.")),
    });
    m.edns = Some(Edns::new(4096, true));
    let mut out = Vec::new();
    m.emit(&mut out).unwrap();
    assert!(out.len() < m.buffer_len());
    let back = Message::parse(&out).unwrap();
    let mut expected = m.clone();
    if let Some(e) = expected.edns.as_mut() {
        e.ext_rcode = 1;
    }
    assert_eq!(back, expected);
    assert!(back.questions[0].name.eq_exact(&n("Www.Example.com.")));
}

#[test]
fn refuses_structural_errors() {
    assert_eq!(Message::parse(&QUERY[..11]), Err(WireError::Truncated));
    let mut trailing = QUERY.to_vec();
    trailing.push(0);
    assert_eq!(Message::parse(&trailing), Err(WireError::TrailingBytes));
    // Two OPT records.
    let mut two_opts = QUERY.to_vec();
    two_opts[11] = 2;
    two_opts.extend_from_slice(b"\x00\x00\x29\x02\x00\x00\x00\x00\x00\x00\x00");
    assert_eq!(Message::parse(&two_opts), Err(WireError::BadOpt));
    // A count larger than the records present.
    let mut short = QUERY.to_vec();
    short[5] = 9;
    assert!(Message::parse(&short).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = Name> {
        proptest::collection::vec("[a-cA-C*-]{1,5}", 0..4).prop_map(|labels| {
            let text = if labels.is_empty() { ".".into() } else { alloc::format!("{}.", labels.join(".")) };
            Name::from_text(&text, None).unwrap()
        })
    }

    fn rdata() -> impl Strategy<Value = RData> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|b| RData::A(Ipv4Addr::from(b))),
            name().prop_map(RData::Ns),
            name().prop_map(RData::Cname),
            name().prop_map(RData::Dname),
            (any::<u16>(), name()).prop_map(|(preference, exchange)| RData::Mx { preference, exchange }),
            (any::<u16>(), name()).prop_map(|(port, target)| RData::Srv { priority: 1, weight: 2, port, target }),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..3).prop_map(RData::Txt),
            (1000u16..2000, proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(t, data)| RData::Unknown { rtype: RType(t), data }),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        (name(), any::<u32>(), rdata()).prop_map(|(name, ttl, data)| Record { name, class: Class::IN, ttl, data })
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            any::<u16>(),
            any::<u16>(),
            proptest::collection::vec((name(), any::<u16>()), 0..3),
            proptest::collection::vec(record(), 0..6),
            proptest::collection::vec(record(), 0..4),
            proptest::option::of((512u16..4096, any::<bool>())),
        )
            .prop_map(|(id, bits, qs, answers, authority, edns)| {
                let mut m = Message::new(id, Opcode(((bits >> 11) & 0xF) as u8));
                m.flags = Flags::from_bits(bits);
                m.rcode = Rcode(bits & 0xF);
                m.questions =
                    qs.into_iter().map(|(name, t)| Question { name, qtype: RType(t), qclass: Class::IN }).collect();
                m.answers = answers;
                m.authority = authority;
                m.edns = edns.map(|(size, d)| Edns::new(size, d));
                m
            })
    }

    /// Every compression pointer in the names of `msg` points strictly
    /// before itself, found by walking the message's structure (not by
    /// the parser, which would refuse them anyway).
    fn pointers_point_back(msg: &[u8], m: &Message) -> bool {
        fn walk(msg: &[u8], mut at: usize) -> Option<usize> {
            loop {
                let len = *msg.get(at)?;
                if len == 0 {
                    return Some(at + 1);
                }
                if len & 0xC0 == 0xC0 {
                    let target = usize::from(u16::from_be_bytes([len & 0x3F, *msg.get(at + 1)?]));
                    return (target < at).then_some(at + 2);
                }
                at += 1 + usize::from(len);
            }
        }
        let mut at = HEADER_LEN;
        for _ in &m.questions {
            let Some(next) = walk(msg, at) else { return false };
            at = next + 4;
        }
        for r in m.answers.iter().chain(&m.authority).chain(&m.additional) {
            let Some(next) = walk(msg, at) else { return false };
            let rdlen = usize::from(u16::from_be_bytes([msg[next + 8], msg[next + 9]]));
            let rdata = next + 10;
            let name_at = match r.data {
                RData::Ns(_) | RData::Cname(_) | RData::Dname(_) => Some(rdata),
                RData::Mx { .. } => Some(rdata + 2),
                RData::Srv { .. } => Some(rdata + 6),
                _ => None,
            };
            if let Some(name_at) = name_at
                && walk(msg, name_at).is_none()
            {
                return false;
            }
            at = rdata + rdlen;
        }
        true
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::parse(&bytes);
        }

        #[test]
        fn parsing_mutated_messages_never_panics(m in message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut out = Vec::new();
            m.emit(&mut out).unwrap();
            for (at, b) in flips {
                let at = at % out.len();
                out[at] = b;
            }
            let _ = Message::parse(&out);
        }

        #[test]
        fn emit_parse_round_trips(m in message()) {
            let mut out = Vec::new();
            m.emit(&mut out).unwrap();
            prop_assert!(out.len() <= m.buffer_len());
            prop_assert!(pointers_point_back(&out, &m));
            let back = Message::parse(&out).unwrap();
            prop_assert_eq!(back.questions.len(), m.questions.len());
            // The first name keeps its case; later ones may be compressed
            // to an earlier name that differs only in case.
            if let (Some(a), Some(b)) = (back.questions.first(), m.questions.first()) {
                prop_assert!(a.name.eq_exact(&b.name));
            }
            prop_assert_eq!(&back.questions, &m.questions);
            prop_assert_eq!(back.answers, m.answers);
            prop_assert_eq!(back.authority, m.authority);
            prop_assert_eq!(back.edns.map(|e| (e.udp_size, e.dnssec_ok)), m.edns.map(|e| (e.udp_size, e.dnssec_ok)));
        }
    }
}
