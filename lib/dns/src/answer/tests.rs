use super::*;
use crate::zone::{ParseOptions, parse_zone};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub(crate) const ZONE: &str = r#"
$TTL 3600
@        SOA  ns1 hostmaster 1 7200 3600 1209600 300
@        NS   ns1
@        NS   ns2
@        MX   10 mail
ns1      A    192.0.2.1
ns2      A    192.0.2.2
ns2      AAAA 2001:db8::2
mail     A    192.0.2.3
www      CNAME web
web      CNAME host.deep
host.deep A   192.0.2.4
loop1    CNAME loop2
loop2    CNAME loop1
*.wild   A    192.0.2.5
*.wild   MX   5 mail
*.cw     CNAME www
ent.a.b  TXT  "below an empty non-terminal"
*.b      TXT  "wildcard blocked by ent? no: b exists"
sub      NS   ns.sub
sub      NS   ns.elsewhere.net.
ns.sub   A    192.0.2.6
old      DNAME new.example.
grow     DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.
_sip._tcp SRV 0 0 5060 mail
out      CNAME www.example.net.
"#;

pub(crate) fn catalog() -> Catalog {
    let origin = Name::from_text("example.com.", None).unwrap();
    let zone =
        parse_zone(ZONE.as_bytes(), ParseOptions { file_name: "t", origin, default_ttl: None, include: None }).unwrap();
    let mut c = Catalog::new();
    c.insert(zone);
    let other = "$TTL 60\n@ SOA ns1.example.com. h 1 2 3 4 5\n@ NS ns1.example.com.\nx A 192.0.2.9\n";
    let origin = Name::from_text("new.example.", None).unwrap();
    c.insert(
        parse_zone(other.as_bytes(), ParseOptions { file_name: "n", origin, default_ttl: None, include: None })
            .unwrap(),
    );
    c
}

fn ask(c: &Catalog, q: &str, t: RType) -> (Rcode, bool, Vec<String>) {
    let r = resolve(c, &Name::from_text(q, None).unwrap(), t);
    let items = r
        .items
        .iter()
        .map(|i| alloc::format!("{:?} {} {} {}", i.section, i.owner.to_text().to_lowercase(), i.rtype, i.ttl))
        .collect();
    (r.rcode, r.aa, items)
}

#[test]
fn exact_match_with_optional_ns_and_additional() {
    let c = catalog();
    let (rcode, aa, items) = ask(&c, "example.com.", RType::MX);
    assert_eq!((rcode, aa), (Rcode::NOERROR, true));
    assert_eq!(
        items,
        [
            "Answer example.com. MX 3600",
            "AdditionalA mail.example.com. A 3600",
            "OptionalAuthority example.com. NS 3600",
            "AdditionalA ns1.example.com. A 3600",
            "AdditionalA ns2.example.com. A 3600",
            "AdditionalAaaa ns2.example.com. AAAA 3600",
        ]
    );
}

#[test]
fn cname_chains_and_loops() {
    let c = catalog();
    let (_, aa, items) = ask(&c, "www.example.com.", RType::A);
    assert!(aa);
    assert_eq!(
        items[..3],
        [
            "Answer www.example.com. CNAME 3600",
            "Answer web.example.com. CNAME 3600",
            "Answer host.deep.example.com. A 3600"
        ]
    );
    let (rcode, _, items) = ask(&c, "loop1.example.com.", RType::A);
    assert_eq!(rcode, Rcode::NOERROR);
    assert_eq!(items, ["Answer loop1.example.com. CNAME 3600", "Answer loop2.example.com. CNAME 3600"]);
    // Out of our zones: the CNAME alone, still authoritative.
    let (rcode, aa, items) = ask(&c, "out.example.com.", RType::A);
    assert_eq!((rcode, aa, items.len()), (Rcode::NOERROR, true, 1));
}

#[test]
fn negative_answers_carry_the_soa_with_capped_ttl() {
    let c = catalog();
    let (rcode, aa, items) = ask(&c, "nothere.example.com.", RType::A);
    assert_eq!((rcode, aa), (Rcode::NXDOMAIN, true));
    assert_eq!(items, ["Authority example.com. SOA 300"]);
    let (rcode, _, items) = ask(&c, "mail.example.com.", RType::AAAA);
    assert_eq!((rcode, items.len()), (Rcode::NOERROR, 1));
    // An empty non-terminal exists: NODATA, not NXDOMAIN.
    let (rcode, _, items) = ask(&c, "a.b.example.com.", RType::A);
    assert_eq!((rcode, items), (Rcode::NOERROR, alloc::vec!["Authority example.com. SOA 300".to_string()]));
}

#[test]
fn wildcards_synthesise_but_not_past_existing_names() {
    let c = catalog();
    let (rcode, _, items) = ask(&c, "anything.wild.example.com.", RType::A);
    assert_eq!(rcode, Rcode::NOERROR);
    assert_eq!(items[0], "Answer anything.wild.example.com. A 3600");
    let (_, _, items) = ask(&c, "x.cw.example.com.", RType::A);
    assert_eq!(items[0], "Answer x.cw.example.com. CNAME 3600");
    assert_eq!(items[3], "Answer host.deep.example.com. A 3600");
    // a.b exists (empty non-terminal), so *.b does not cover names below it.
    let (rcode, _, _) = ask(&c, "z.a.b.example.com.", RType::TXT);
    assert_eq!(rcode, Rcode::NXDOMAIN);
    let (rcode, _, items) = ask(&c, "z.b.example.com.", RType::TXT);
    assert_eq!((rcode, items[0].as_str()), (Rcode::NOERROR, "Answer z.b.example.com. TXT 3600"));
}

#[test]
fn referrals_with_glue_are_not_authoritative() {
    let c = catalog();
    let (rcode, aa, items) = ask(&c, "www.sub.example.com.", RType::A);
    assert_eq!((rcode, aa), (Rcode::NOERROR, false));
    assert_eq!(items, ["Authority sub.example.com. NS 3600", "AdditionalA ns.sub.example.com. A 3600"]);
    // DS at the cut is the parent's: NODATA, authoritative.
    let (_, aa, items) = ask(&c, "sub.example.com.", RType::DS);
    assert!(aa);
    assert_eq!(items, ["Authority example.com. SOA 300"]);
}

#[test]
fn dname_synthesises_a_cname_and_follows_it() {
    let c = catalog();
    let (rcode, aa, items) = ask(&c, "x.old.example.com.", RType::A);
    assert_eq!((rcode, aa), (Rcode::NOERROR, true));
    assert_eq!(
        items[..3],
        ["Answer old.example.com. DNAME 3600", "Answer x.old.example.com. CNAME 3600", "Answer x.new.example. A 60"]
    );
    let long = alloc::format!("{}.{}.grow.example.com.", "c".repeat(63), "d".repeat(63));
    let (rcode, _, items) = ask(&c, &long, RType::A);
    assert_eq!((rcode, items.len()), (Rcode::YXDOMAIN, 1));
}

#[test]
fn names_outside_our_zones_are_refused() {
    let c = catalog();
    let (rcode, aa, items) = ask(&c, "example.org.", RType::A);
    assert_eq!((rcode, aa, items.len()), (Rcode::REFUSED, false, 0));
}

#[test]
fn any_gets_one_rrset() {
    let c = catalog();
    let (_, _, items) = ask(&c, "example.com.", RType::ANY);
    assert_eq!(items[0], "Answer example.com. SOA 3600");
    assert_eq!(items.iter().filter(|i| i.starts_with("Answer")).count(), 1);
}
