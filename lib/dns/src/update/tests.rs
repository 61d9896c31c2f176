use super::*;
use crate::answer::tests::catalog;

fn n(s: &str) -> Name {
    Name::from_text(s, None).unwrap()
}

fn zone() -> Zone {
    catalog().zone(&n("example.com.")).unwrap().clone()
}

fn rec(name: &str, class: Class, ttl: u32, data: RData) -> Record {
    Record { name: n(name), class, ttl, data }
}

fn empty(t: RType) -> RData {
    RData::Unknown { rtype: t, data: Vec::new() }
}

fn update(prereq: Vec<Record>, updates: Vec<Record>) -> Update {
    let mut m = Message::new(99, Opcode::UPDATE);
    m.questions.push(Question { name: n("example.com."), qtype: RType::SOA, qclass: Class::IN });
    m.answers = prereq;
    m.authority = updates;
    let mut bytes = Vec::new();
    m.emit(&mut bytes).unwrap();
    parse_update(&bytes).unwrap()
}

#[test]
fn adds_and_deletes_bump_the_serial() {
    let mut z = zone();
    let before = z.serial().unwrap();
    let u = update(
        alloc::vec![],
        alloc::vec![
            rec("new.example.com.", Class::IN, 60, RData::A([192, 0, 2, 77].into())),
            rec("mail.example.com.", Class::ANY, 0, empty(RType::A)),
            rec("ns2.example.com.", Class::NONE, 0, RData::Aaaa("2001:db8::2".parse().unwrap())),
        ],
    );
    let changes = apply(&mut z, &u).unwrap();
    assert!(z.rrset(&n("new.example.com."), RType::A).is_some());
    assert!(z.rrset(&n("mail.example.com."), RType::A).is_none());
    assert!(z.rrset(&n("ns2.example.com."), RType::AAAA).is_none());
    assert_eq!(z.serial().unwrap(), before + 1);
    assert_eq!(changes.len(), 5, "{changes:?}");
    // The same update again changes nothing and keeps the serial.
    let again =
        update(alloc::vec![], alloc::vec![rec("new.example.com.", Class::IN, 60, RData::A([192, 0, 2, 77].into()))]);
    assert!(apply(&mut z, &again).unwrap().is_empty());
    assert_eq!(z.serial().unwrap(), before + 1);
}

#[test]
fn prerequisites_all_five_kinds() {
    let z = zone();
    let check = |p: Record| {
        let mut z = z.clone();
        apply(&mut z, &update(alloc::vec![p], alloc::vec![])).map(|_| ()).map_err(|e| e.0)
    };
    assert_eq!(check(rec("www.example.com.", Class::ANY, 0, empty(RType::ANY))), Ok(()));
    assert_eq!(check(rec("nope.example.com.", Class::ANY, 0, empty(RType::ANY))), Err(Rcode::NXDOMAIN));
    assert_eq!(check(rec("ns1.example.com.", Class::ANY, 0, empty(RType::A))), Ok(()));
    assert_eq!(check(rec("ns1.example.com.", Class::ANY, 0, empty(RType::MX))), Err(Rcode::NXRRSET));
    assert_eq!(check(rec("nope.example.com.", Class::NONE, 0, empty(RType::ANY))), Ok(()));
    assert_eq!(check(rec("www.example.com.", Class::NONE, 0, empty(RType::ANY))), Err(Rcode::YXDOMAIN));
    assert_eq!(check(rec("ns1.example.com.", Class::NONE, 0, empty(RType::A))), Err(Rcode::YXRRSET));
    assert_eq!(check(rec("ns1.example.com.", Class::IN, 0, RData::A([192, 0, 2, 1].into()))), Ok(()));
    assert_eq!(check(rec("ns1.example.com.", Class::IN, 0, RData::A([192, 0, 2, 9].into()))), Err(Rcode::NXRRSET));
    assert_eq!(check(rec("ns1.example.org.", Class::ANY, 0, empty(RType::ANY))), Err(Rcode::NOTZONE));
    assert_eq!(check(rec("ns1.example.com.", Class::ANY, 5, empty(RType::ANY))), Err(Rcode::FORMERR));
}

#[test]
fn refuses_what_the_rfc_refuses_atomically() {
    let mut z = zone();
    let original = z.clone();
    // Apex SOA/NS cannot be deleted as RRsets; the last apex NS stays.
    let u = update(
        alloc::vec![],
        alloc::vec![
            rec("example.com.", Class::ANY, 0, empty(RType::SOA)),
            rec("example.com.", Class::ANY, 0, empty(RType::NS)),
            rec("example.com.", Class::ANY, 0, empty(RType::ANY)),
        ],
    );
    apply(&mut z, &u).unwrap();
    assert!(z.rrset(&n("example.com."), RType::SOA).is_some());
    assert_eq!(z.rrset(&n("example.com."), RType::NS).unwrap().rdata.len(), 2);
    assert!(z.rrset(&n("example.com."), RType::MX).is_none());
    // CNAME beside data is ignored, not an error.
    let mut z = original.clone();
    let u =
        update(alloc::vec![], alloc::vec![rec("ns1.example.com.", Class::IN, 60, RData::Cname(n("x.example.com.")))]);
    assert!(apply(&mut z, &u).unwrap().is_empty());
    // One bad record refuses the whole update, nothing applied.
    let mut z = original.clone();
    let u = update(
        alloc::vec![],
        alloc::vec![
            rec("fine.example.com.", Class::IN, 60, RData::A([192, 0, 2, 1].into())),
            rec("bad.example.org.", Class::IN, 60, RData::A([192, 0, 2, 1].into())),
        ],
    );
    assert_eq!(apply(&mut z, &u), Err(UpdateError(Rcode::NOTZONE)));
    assert_eq!(z, original);
    // Wrong zone.
    let mut other = update(alloc::vec![], alloc::vec![]);
    other.zone = n("example.net.");
    assert_eq!(apply(&mut z, &other), Err(UpdateError(Rcode::NOTAUTH)));
    let resp = Message::parse(&build_response(&other, Rcode::NOTAUTH)).unwrap();
    assert_eq!((resp.rcode, resp.opcode, resp.flags.qr), (Rcode::NOTAUTH, Opcode::UPDATE, true));
}

proptest::proptest! {
    #[test]
    fn parse_update_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        if let Ok(u) = parse_update(&bytes) {
            let mut z = zone();
            let _ = apply(&mut z, &u);
        }
    }
}

/// Found by fuzzing: adding to an RRset with another TTL changes the
/// TTL of the records already there, and the report (and so a replayed
/// journal) must say so.
#[test]
fn ttl_changes_are_reported() {
    let mut z = zone();
    let base = z.clone();
    let u =
        update(alloc::vec![], alloc::vec![rec("ns1.example.com.", Class::IN, 11008, RData::A([55, 207, 2, 1].into()))]);
    let changes = apply(&mut z, &u).unwrap();
    assert_eq!(z.rrset(&n("ns1.example.com."), RType::A).unwrap().ttl, 11008);
    let mut replayed = base;
    crate::store::replay(&mut replayed, &changes).unwrap();
    assert_eq!(replayed.records().collect::<Vec<_>>(), z.records().collect::<Vec<_>>());
}
