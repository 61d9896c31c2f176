use super::*;
use crate::zone::parser::{ZoneError, ZoneErrorKind};
use alloc::string::ToString;
use alloc::vec;

fn name(s: &str) -> Name {
    Name::from_text(s, None).unwrap()
}

fn parse(text: &str) -> Result<Zone, ZoneError> {
    parse_zone(
        text.as_bytes(),
        ParseOptions { file_name: "example.com.zone", origin: name("example.com."), default_ttl: None, include: None },
    )
}

const ZONE: &str = r#"
$TTL 1h ; default
@   IN  SOA ns1 hostmaster (
            2024010101 ; serial
            7200 3600 1209600
            300 )
    IN  NS  ns1
    IN  NS  ns2.example.net.
    IN  MX  10 Mail
ns1     A   192.0.2.1
        AAAA 2001:db8::1
Mail    300 IN A 192.0.2.2
www     CNAME @
*.wild  TXT "hello \"world\"" two\032words
a.b.c   TXT "deep"
dot\.ted A 192.0.2.3
_sip._tcp SRV 10 20 5060 sip
sip     A 192.0.2.4
@       CAA 0 issue "ca.example"
x       TYPE65280 \# 3 ab cd ef
y       A \# 4 c0000205
$ORIGIN sub.example.com.
@       NS ns.sub
ns      A 192.0.2.5
"#;

#[test]
fn parses_the_master_file_features() {
    let zone = parse(ZONE).unwrap();
    let (soa, ttl) = zone.soa().unwrap();
    assert_eq!((soa.serial, soa.minimum, ttl), (2024010101, 300, 3600));
    assert_eq!(soa.rname, name("hostmaster.example.com."));
    assert_eq!(zone.rrset(&name("example.com."), RType::NS).unwrap().rdata.len(), 2);
    let mail = zone.node_entry(&name("mail.example.com.")).unwrap();
    assert!(mail.0.eq_exact(&name("Mail.example.com.")), "case kept");
    assert_eq!(zone.rrset(&name("mail.example.com."), RType::A).unwrap().ttl, 300);
    assert_eq!(zone.rrset(&name("ns1.example.com."), RType::AAAA).unwrap().ttl, 3600);
    let txt = zone.rrset(&name("*.wild.example.com."), RType::TXT).unwrap();
    assert_eq!(txt.rdata[0], RData::Txt(vec![b"hello \"world\"".to_vec(), b"two words".to_vec()]));
    assert!(zone.node(&name("b.c.example.com.")).unwrap().is_empty_non_terminal());
    assert!(zone.node(&name("dot\\.ted.example.com.")).is_some());
    assert_eq!(
        zone.rrset(&name("x.example.com."), RType(65280)).unwrap().rdata[0],
        RData::Unknown { rtype: RType(65280), data: vec![0xab, 0xcd, 0xef] }
    );
    assert_eq!(zone.rrset(&name("y.example.com."), RType::A).unwrap().rdata[0], RData::A([192, 0, 2, 5].into()));
    assert!(zone.rrset(&name("sub.example.com."), RType::NS).is_some());
    assert!(zone.rrset(&name("ns.sub.example.com."), RType::A).is_some());
}

#[test]
fn text_round_trip() {
    let zone = parse(ZONE).unwrap();
    let text = zone.to_text();
    let again = parse(&text).unwrap();
    let a: Vec<_> = zone.records().collect();
    let b: Vec<_> = again.records().collect();
    assert_eq!(a, b, "{text}");
}

fn error_of(text: &str) -> (usize, ZoneErrorKind) {
    let e = parse(text).unwrap_err();
    assert_eq!(e.file, "example.com.zone");
    (e.line, e.kind)
}

const HEAD: &str = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";

#[test]
fn refuses_bad_zones_with_line_and_reason() {
    let (line, kind) = error_of(&alloc::format!("{HEAD}www CNAME ns\nwww A 192.0.2.9\n"));
    assert_eq!((line, kind), (6, ZoneErrorKind::Zone(ZoneProblem::CnameAndOtherData(name("www.example.com.")))));
    let (line, kind) = error_of(&alloc::format!("{HEAD}www.example.org. A 192.0.2.9\n"));
    assert_eq!((line, kind), (5, ZoneErrorKind::Zone(ZoneProblem::OutOfZone(name("www.example.org.")))));
    let (_, kind) = error_of(&alloc::format!("{HEAD}@ SOA ns hm 2 2 3 4 5\n"));
    assert_eq!(kind, ZoneErrorKind::Zone(ZoneProblem::MultipleSoa));
    let (line, kind) = error_of("$TTL 300\n@ NS ns\nns A 192.0.2.1\n");
    assert_eq!((line, kind), (3, ZoneErrorKind::Zone(ZoneProblem::MissingSoa)));
    let (_, kind) = error_of("$TTL 300\n@ SOA ns hm 1 2 3 4 5\n");
    assert_eq!(kind, ZoneErrorKind::Zone(ZoneProblem::MissingNs));
    let (line, kind) = error_of(&alloc::format!("{HEAD}$INCLUDE other.zone\n"));
    assert_eq!((line, kind), (5, ZoneErrorKind::IncludeRefused("other.zone".into())));
    let (line, _) = error_of(&alloc::format!("{HEAD}x A 300.1.1.1\n"));
    assert_eq!(line, 5);
    let (line, kind) = error_of(&alloc::format!("{HEAD}x ( A\n192.0.2.1\n"));
    assert_eq!((line, kind), (5, ZoneErrorKind::Syntax("'(' not closed")));
    let (_, kind) = error_of(&alloc::format!("{HEAD}x FOO bar\n"));
    assert_eq!(kind, ZoneErrorKind::UnknownType("FOO".into()));
    let (_, kind) = error_of(&alloc::format!("{HEAD}x TXT \"unterminated\n"));
    assert_eq!(kind, ZoneErrorKind::Syntax("unterminated quoted string"));
    let (line, kind) = error_of("\n@ NS ns\n@ SOA ns hm 1 2 3 4 5\n");
    assert_eq!((line, kind), (2, ZoneErrorKind::NoTtl));
    let e = parse(&alloc::format!("{HEAD}www CNAME ns\nwww A 192.0.2.9\n")).unwrap_err();
    assert_eq!(e.to_string(), "example.com.zone:6: CNAME and other data at www.example.com.");
}

#[test]
fn include_goes_through_the_resolver() {
    let mut resolver = |file: &str| -> Result<Vec<u8>, String> {
        match file {
            "hosts" => Ok(b"www A 192.0.2.7\n$ORIGIN inner.example.com.\nhost A 192.0.2.8\n".to_vec()),
            "bad" => Ok(b"oops A nope\n".to_vec()),
            _ => Err("not found".into()),
        }
    };
    let text = alloc::format!("{HEAD}$INCLUDE hosts\nafter A 192.0.2.9\n");
    let zone = parse_zone(
        text.as_bytes(),
        ParseOptions { file_name: "z", origin: name("example.com."), default_ttl: None, include: Some(&mut resolver) },
    )
    .unwrap();
    assert!(zone.rrset(&name("www.example.com."), RType::A).is_some());
    assert!(zone.rrset(&name("host.inner.example.com."), RType::A).is_some());
    assert!(zone.rrset(&name("after.example.com."), RType::A).is_some(), "origin restored after the include");
    let text = alloc::format!("{HEAD}$INCLUDE bad\n");
    let e = parse_zone(
        text.as_bytes(),
        ParseOptions { file_name: "z", origin: name("example.com."), default_ttl: None, include: Some(&mut resolver) },
    )
    .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("bad", 1));
}

#[test]
fn removal_prunes_empty_non_terminals() {
    let mut zone = parse(&alloc::format!("{HEAD}a.b.c A 192.0.2.1\n")).unwrap();
    assert!(zone.contains(&name("c.example.com.")));
    assert!(zone.has_descendants(&name("c.example.com.")));
    assert!(zone.remove_rrset(&name("a.b.c.example.com."), RType::A));
    assert!(!zone.contains(&name("a.b.c.example.com.")));
    assert!(!zone.contains(&name("b.c.example.com.")));
    assert!(!zone.contains(&name("c.example.com.")));
    assert!(zone.contains(&name("example.com.")));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z0-9]{1,6}", Just("*".to_string()), "[A-Z]{1,3}", "a[.;\"\\\\ ]b"].prop_map(|l| {
            // Escape what the master format needs escaped.
            l.replace('\\', "\\\\").replace('.', "\\.").replace(';', "\\;").replace('"', "\\\"").replace(' ', "\\032")
        })
    }

    fn owner() -> impl Strategy<Value = String> {
        proptest::collection::vec(label(), 0..3).prop_map(|ls| if ls.is_empty() { "@".into() } else { ls.join(".") })
    }

    fn rdata() -> impl Strategy<Value = (&'static str, String)> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|a| ("A", alloc::format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))),
            any::<u16>().prop_map(|v| ("AAAA", alloc::format!("2001:db8::{v:x}"))),
            (any::<u16>(), owner()).prop_map(|(p, n)| ("MX", alloc::format!("{p} {n}"))),
            proptest::collection::vec("[ -~]{0,12}", 1..3).prop_map(|ss| (
                "TXT",
                ss.iter()
                    .map(|s| alloc::format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            (any::<u16>(), owner()).prop_map(|(p, n)| ("SRV", alloc::format!("1 2 {p} {n}"))),
            "[a-z]{1,5}".prop_map(|v| ("CAA", alloc::format!("0 issue \"{v}\""))),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| (
                "TYPE65400",
                alloc::format!("\\# {} {}", b.len(), b.iter().map(|x| alloc::format!("{x:02x}")).collect::<String>())
            )),
        ]
    }

    proptest! {
        #[test]
        fn zone_text_round_trips(records in proptest::collection::vec((owner(), 1u32..100000, rdata()), 0..20)) {
            let mut text = String::from(HEAD);
            for (owner, ttl, (rtype, data)) in &records {
                text.push_str(&alloc::format!("{owner} {ttl} IN {rtype} {data}\n"));
            }
            let zone = match parse(&text) {
                Ok(z) => z,
                // Random owners may put data beside the apex CNAME-free
                // rules or exceed limits; such zones are refused, fine.
                Err(_) => return Ok(()),
            };
            let again = parse(&zone.to_text()).unwrap();
            let a: Vec<_> = zone.records().collect();
            let b: Vec<_> = again.records().collect();
            prop_assert_eq!(a, b);
            for r in zone.records() {
                prop_assert!(r.name.ends_with(zone.origin()));
            }
        }

        #[test]
        fn any_text_never_panics(text in "[ -~\n\t]{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_zone(&bytes, ParseOptions { file_name: "f", origin: name("example."), default_ttl: Some(1), include: None });
        }
    }
}
