//! Comparing two servers' responses to the same query.

use oasis_dns::RData;
use oasis_dns::message::Message;
use oasis_dns::record::Record;

/// An RRset as compared: owner (lower case), type, class, TTL, data.
type Set = (String, u16, u16, u32, Vec<Vec<u8>>);

/// Records grouped into RRsets in the order the section gives them; the
/// data inside a set sorted, so only the order within an RRset is free.
fn rrsets(section: &[Record]) -> Vec<Set> {
    let mut sets: Vec<Set> = Vec::new();
    for r in section {
        let name = r.name.to_text().to_ascii_lowercase();
        let mut data = Vec::new();
        r.data.emit(&mut data, None);
        if matches!(
            r.data,
            RData::Ns(_)
                | RData::Cname(_)
                | RData::Dname(_)
                | RData::Ptr(_)
                | RData::Mx { .. }
                | RData::Srv { .. }
                | RData::Soa(_)
        ) {
            // Names in data compare without case too: servers compress
            // them to different earlier occurrences.
            data = r.data.to_string().to_ascii_lowercase().into_bytes();
        }
        match sets.last_mut() {
            Some(last) if last.0 == name && last.1 == r.rtype().0 && last.2 == r.class.0 => {
                last.3 = last.3.min(r.ttl);
                last.4.push(data);
            }
            _ => sets.push((name, r.rtype().0, r.class.0, r.ttl, vec![data])),
        }
    }
    for s in &mut sets {
        s.4.sort();
    }
    sets
}

/// `Ok` when `ours` and `theirs` agree: header (ID, flags, opcode, rcode),
/// the question exactly (case included: it must be the asker's), every
/// section RRset by RRset in order (names in owners and data without
/// regard to case, TTLs, all other data byte for byte), and the OPT
/// record. Otherwise a description of the first difference.
pub fn compare(ours: &[u8], theirs: &[u8]) -> Result<(), String> {
    if ours == theirs {
        return Ok(());
    }
    let a = Message::parse(ours).map_err(|e| format!("ours does not parse: {e}"))?;
    let b = Message::parse(theirs).map_err(|e| format!("theirs does not parse: {e}"))?;
    let check =
        |what: &str, x: String, y: String| if x == y { Ok(()) } else { Err(format!("{what}: ours {x} theirs {y}")) };
    check("id", a.id.to_string(), b.id.to_string())?;
    check("flags", format!("{:?}", a.flags), format!("{:?}", b.flags))?;
    check("opcode", a.opcode.0.to_string(), b.opcode.0.to_string())?;
    check("rcode", a.rcode.0.to_string(), b.rcode.0.to_string())?;
    let questions = |m: &Message| {
        m.questions.iter().map(|q| format!("{} {} {}", q.name, q.qtype, q.qclass)).collect::<Vec<_>>().join(", ")
    };
    check("question", questions(&a), questions(&b))?;
    check("answer", format!("{:?}", rrsets(&a.answers)), format!("{:?}", rrsets(&b.answers)))?;
    check("authority", format!("{:?}", rrsets(&a.authority)), format!("{:?}", rrsets(&b.authority)))?;
    check("additional", format!("{:?}", rrsets(&a.additional)), format!("{:?}", rrsets(&b.additional)))?;
    check("edns", format!("{:?}", a.edns), format!("{:?}", b.edns))?;
    Ok(())
}

/// A short human-readable summary of a response, for failure reports.
pub fn summary(bytes: &[u8]) -> String {
    match Message::parse(bytes) {
        Err(e) => format!("unparsable ({e}): {bytes:02x?}"),
        Ok(m) => {
            let mut s = format!("id {} {:?} opcode {} rcode {}\n", m.id, m.flags, m.opcode.0, m.rcode.0);
            for q in &m.questions {
                s += &format!("  Q {} {} {}\n", q.name, q.qtype, q.qclass);
            }
            for (tag, section) in [("AN", &m.answers), ("NS", &m.authority), ("AR", &m.additional)] {
                for r in section {
                    s += &format!("  {tag} {r}\n");
                }
            }
            if let Some(e) = &m.edns {
                s += &format!("  OPT {e:?}\n");
            }
            s
        }
    }
}

/// Where NSD is plainly wrong and we follow the RFC instead (see
/// lib/dns/README.md). Returns `Some` when the responses to a probe of
/// this `kind` (from [`crate::generate`]) differ only that way.
pub fn known_difference(kind: &str, ours: &[u8], theirs: &[u8]) -> Option<()> {
    let (a, mut b) = (Message::parse(ours).ok()?, Message::parse(theirs).ok()?);
    // A query with no question but an OPT record: NSD builds FORMERR,
    // then overwrites the whole flags word (rcode included) keeping only
    // RD, so it sends NOERROR (with an OPT) and no question. We send
    // FORMERR without OPT, as NSD does for every other FORMERR (RFC 1035
    // §4.1.1: the query cannot be interpreted).
    if kind == "no question" && a.rcode == oasis_dns::Rcode::FORMERR && b.rcode == oasis_dns::Rcode::NOERROR {
        b.rcode = oasis_dns::Rcode::FORMERR;
        b.edns = None;
        let mut fixed = Vec::new();
        b.emit(&mut fixed).ok()?;
        let verdict = compare(ours, &fixed);
        if let Err(e) = &verdict {
            println!("known-difference check: {e}");
        }
        return verdict.ok();
    }
    // DNAME chains: NSD gives every synthesised name new identities and
    // so cannot compress a synthesised CNAME's owner to the same name
    // written just before as the previous CNAME's target. Its message is
    // longer, and near the size limit it truncates where ours still fits.
    // Accept when NSD's sections are exactly a prefix of ours.
    if !a.flags.tc && b.flags.tc && a.answers.iter().any(|r| r.rtype() == oasis_dns::RType::DNAME) {
        let mut prefix = a.clone();
        prefix.flags.tc = true;
        prefix.answers.truncate(b.answers.len());
        prefix.authority.truncate(b.authority.len());
        prefix.additional.truncate(b.additional.len());
        let mut bytes = Vec::new();
        prefix.emit(&mut bytes).ok()?;
        return compare(&bytes, theirs).ok();
    }
    None
}
