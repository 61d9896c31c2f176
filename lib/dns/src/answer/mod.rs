//! Authoritative answering: RFC 1034 §4.3.2 with its later fixes —
//! wildcards (RFC 4592), DNAME (RFC 6672), negative answers (RFC 2308) —
//! shaped to give what NSD gives for the same zones, so operators see
//! no difference when they swap one for the other.
//!
//! [`resolve`] decides what goes in each section; [`encode`] writes it
//! under a size limit, dropping optional RRsets before setting TC and
//! never splitting an RRset.

mod catalog;
mod encode;

pub use catalog::Catalog;
pub use encode::{Limits, encode};

use alloc::borrow::Cow;
use alloc::vec::Vec;

use crate::name::Name;
use crate::rdata::RData;
use crate::types::{RType, Rcode};
use crate::zone::{RRset, Zone};

/// Most CNAME/DNAME steps followed for one question. Loops stop earlier
/// (an RRset is never added twice); this bounds long chains.
pub const MAX_CHAIN: usize = 32;

/// Extended DNS Error codes we send (RFC 8914), as NSD does.
pub mod ede {
    /// 0, Other (with "DNAME expansion became too large").
    pub const OTHER: u16 = 0;
    /// 20, Not Authoritative: the name is in none of our zones.
    pub const NOT_AUTHORITATIVE: u16 = 20;
    /// 21, Not Supported: a class we do not serve.
    pub const NOT_SUPPORTED: u16 = 21;
}

/// Where an RRset goes. The order is the order of encoding; optional
/// sections are dropped first when space runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Answer.
    Answer,
    /// Authority that must be there (referral NS, negative SOA).
    Authority,
    /// The zone's NS beside a positive answer: dropped when space is short.
    OptionalAuthority,
    /// A records of NS/MX/SRV targets.
    AdditionalA,
    /// AAAA records of NS/MX/SRV targets.
    AdditionalAaaa,
}

impl Section {
    /// Sections whose RRsets are left out, rather than truncating, when
    /// they do not fit.
    pub fn is_optional(self) -> bool {
        self >= Section::OptionalAuthority
    }
}

/// One RRset placed in a response.
#[derive(Clone, Debug)]
pub struct Item<'z> {
    /// Its section.
    pub section: Section,
    /// The owner as it will be written.
    pub owner: Name,
    /// The type.
    pub rtype: RType,
    /// The TTL written.
    pub ttl: u32,
    /// The records' data.
    pub rdata: Cow<'z, [RData]>,
}

/// What [`resolve`] decided.
#[derive(Clone, Debug)]
pub struct Resolution<'z> {
    /// Response code.
    pub rcode: Rcode,
    /// Authoritative answer.
    pub aa: bool,
    /// The RRsets in the order they were added.
    pub items: Vec<Item<'z>>,
    /// An Extended DNS Error to attach when the client speaks EDNS.
    pub ede: Option<(u16, &'static str)>,
    /// The answer is a referral (matters when glue does not fit).
    pub referral: bool,
}

impl<'z> Resolution<'z> {
    fn new() -> Resolution<'z> {
        Resolution { rcode: Rcode::NOERROR, aa: false, items: Vec::new(), ede: None, referral: false }
    }

    /// Adds an RRset unless it is already there; an RRset already in a
    /// later section moves up. Returns false when it was already there.
    fn add(&mut self, section: Section, owner: &Name, rtype: RType, ttl: u32, rdata: Cow<'z, [RData]>) -> bool {
        if let Some(item) = self.items.iter_mut().find(|i| i.rtype == rtype && i.owner == *owner) {
            if section < item.section {
                item.section = section;
                return true;
            }
            return false;
        }
        self.items.push(Item { section, owner: owner.clone(), rtype, ttl, rdata });
        true
    }

    fn add_set(&mut self, section: Section, owner: &Name, set: &'z RRset) -> bool {
        self.add(section, owner, set.rtype, set.ttl, Cow::Borrowed(&set.rdata))
    }
}

/// Decides the answer to `qname`/`qtype` (class IN) from our zones.
pub fn resolve<'z>(catalog: &'z Catalog, qname: &Name, qtype: RType) -> Resolution<'z> {
    let mut r = Resolution::new();
    let mut walk = Walk { catalog, qtype, r: &mut r, steps: 0 };
    // Lower case, as NSD: DNAME substitution keeps the query's labels, and
    // NSD writes them in lower case. Owners equal to the question are
    // still written in the asker's case, compressed to the question.
    walk.lookup(qname.to_lowercase());
    r
}

struct Walk<'a, 'z> {
    catalog: &'z Catalog,
    qtype: RType,
    r: &'a mut Resolution<'z>,
    /// CNAME/DNAME steps taken so far.
    steps: usize,
}

/// How a name was found in a zone.
struct Found<'z> {
    zone: &'z Zone,
    /// The name itself exists (possibly as an empty non-terminal).
    exact: bool,
    /// The deepest existing name at or above the one looked up, with the
    /// zone's spelling.
    encloser: &'z Name,
}

impl<'z> Walk<'_, 'z> {
    fn find(&self, zone: &'z Zone, name: &Name) -> Found<'z> {
        let mut at = name.clone();
        loop {
            if let Some((stored, _)) = zone.node_entry(&at) {
                return Found { zone, exact: at.label_count() == name.label_count(), encloser: stored };
            }
            match at.parent() {
                Some(p) if p.label_count() >= zone.origin().label_count() => at = p,
                // The apex node always exists, so this is not reached for
                // names in the zone.
                _ => return Found { zone, exact: false, encloser: zone.origin() },
            }
        }
    }

    fn lookup(&mut self, name: Name) {
        let Some(mut zone) = self.catalog.find(&name) else {
            if self.steps == 0 {
                self.r.rcode = Rcode::REFUSED;
                self.r.ede = Some((ede::NOT_AUTHORITATIVE, ""));
            }
            return;
        };
        let mut found = self.find(zone, &name);
        let ds_at_cut = self.qtype == RType::DS && found.exact && *found.encloser == *zone.origin();
        if ds_at_cut {
            // RFC 4035 §3.1.4.1: DS belongs to the parent side of a cut.
            match zone.origin().parent().and_then(|p| self.catalog.find(&p)) {
                Some(parent) => {
                    zone = parent;
                    found = self.find(zone, &name);
                }
                None => {
                    self.r.aa = true;
                    self.nodata(zone);
                    return;
                }
            }
        }
        if let Some((cut, ns)) = self.delegation(zone, found.encloser)
            && !(self.qtype == RType::DS && found.exact && *cut == *found.encloser)
        {
            // A CNAME chain that leads into a delegation stays
            // authoritative for what came before it (as NSD answers).
            self.r.aa = self.steps > 0;
            self.r.referral = true;
            self.r.add_set(Section::Authority, cut, ns);
            self.additional(zone, ns);
            return;
        }
        self.r.aa = true;
        self.authoritative(found, &name);
    }

    /// The highest delegation (NS below the apex) at or above `encloser`,
    /// unless a DNAME above it takes precedence.
    fn delegation(&self, zone: &'z Zone, encloser: &Name) -> Option<(&'z Name, &'z RRset)> {
        let mut best = None;
        let mut at = encloser.clone();
        while at.label_count() > zone.origin().label_count() {
            if let Some((stored, node)) = zone.node_entry(&at)
                && let Some(ns) = node.rrset(RType::NS)
            {
                best = Some((stored, ns));
            }
            at = at.parent()?;
        }
        let (cut, ns) = best?;
        if self.dname_above(zone, cut).is_some() { None } else { Some((cut, ns)) }
    }

    /// A DNAME strictly above `name` and strictly below the apex.
    fn dname_above(&self, zone: &'z Zone, name: &Name) -> Option<&'z Name> {
        let mut at = name.parent()?;
        while at.label_count() > zone.origin().label_count() {
            if let Some((stored, node)) = zone.node_entry(&at)
                && node.rrset(RType::DNAME).is_some()
            {
                return Some(stored);
            }
            at = at.parent()?;
        }
        None
    }

    fn authoritative(&mut self, found: Found<'z>, name: &Name) {
        let zone = found.zone;
        let mut exact = found.exact;
        let mut encloser = found.encloser;
        if let Some(d) = self.dname_above(zone, encloser) {
            // Names below a DNAME are occluded.
            encloser = d;
            exact = false;
        }
        if exact {
            let Some(node) = zone.node(name) else { return };
            self.answer_node(zone, node, name);
            return;
        }
        let Some(enc_node) = zone.node(encloser) else { return };
        if let Some(dname) = enc_node.rrset(RType::DNAME) {
            self.follow_dname(encloser, dname, name);
            return;
        }
        let wildcard = encloser.wildcard_child().ok().and_then(|w| zone.node(&w));
        match wildcard {
            Some(node) => self.answer_node(zone, node, name),
            None => {
                self.r.rcode = Rcode::NXDOMAIN;
                self.negative_soa(zone);
            }
        }
    }

    fn follow_dname(&mut self, owner: &'z Name, dname: &'z RRset, name: &Name) {
        let Some(RData::Dname(target)) = dname.rdata.first() else { return };
        if !self.r.add_set(Section::Answer, owner, dname) && target.ends_with(owner) {
            return;
        }
        let new_name = match name.replace_suffix(owner, target) {
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                self.r.rcode = Rcode::YXDOMAIN;
                self.r.ede = Some((ede::OTHER, "DNAME expansion became too large"));
                return;
            }
            None => return,
        };
        self.steps += 1;
        let synth = alloc::vec![RData::Cname(new_name.clone())];
        if !self.r.add(Section::Answer, name, RType::CNAME, dname.ttl, Cow::Owned(synth)) {
            return;
        }
        if self.qtype == RType::CNAME || self.steps > MAX_CHAIN {
            return;
        }
        self.lookup(new_name);
    }

    /// The node exists (or a wildcard matched): answer from its RRsets.
    fn answer_node(&mut self, zone: &'z Zone, node: &'z crate::zone::Node, owner: &Name) {
        if self.qtype == RType::ANY {
            // RFC 8482 §4.1 minimal ANY, as NSD: one RRset, preferring the
            // small popular types.
            let preferred = |t: RType| matches!(t, RType::A | RType::AAAA | RType::SOA | RType::MX | RType::PTR);
            let unwanted = |t: RType| matches!(t.0, 46..=48);
            let pick = node
                .rrsets
                .iter()
                .find(|s| preferred(s.rtype))
                .or_else(|| node.rrsets.iter().rev().find(|s| !unwanted(s.rtype)))
                .or_else(|| node.rrsets.iter().rev().find(|s| unwanted(s.rtype)));
            match pick {
                Some(set) => {
                    self.r.add_set(Section::Answer, owner, set);
                    self.additional(zone, set);
                }
                None => self.nodata(zone),
            }
            return;
        }
        if let Some(set) = node.rrset(self.qtype) {
            self.r.add_set(Section::Answer, owner, set);
            self.additional(zone, set);
        } else if let Some(cname) = node.rrset(RType::CNAME) {
            if !self.r.add_set(Section::Answer, owner, cname) {
                return;
            }
            let Some(RData::Cname(target)) = cname.rdata.first() else { return };
            self.steps += 1;
            if self.steps <= MAX_CHAIN {
                self.lookup(target.clone());
            }
            return;
        } else {
            self.nodata(zone);
            return;
        }
        if !matches!(self.qtype, RType::DS | RType::DNSKEY)
            && let Some((apex, ns)) =
                zone.node_entry(zone.origin()).and_then(|(n, node)| Some((n, node.rrset(RType::NS)?)))
        {
            self.r.add_set(Section::OptionalAuthority, apex, ns);
            self.additional(zone, ns);
        }
    }

    fn nodata(&mut self, zone: &'z Zone) {
        self.negative_soa(zone);
    }

    /// The SOA for a negative answer, its TTL capped by its MINIMUM (RFC
    /// 2308 §3).
    fn negative_soa(&mut self, zone: &'z Zone) {
        let Some((apex, node)) = zone.node_entry(zone.origin()) else { return };
        let Some(set) = node.rrset(RType::SOA) else { return };
        let ttl = match set.rdata.first() {
            Some(RData::Soa(soa)) => set.ttl.min(soa.minimum),
            _ => set.ttl,
        };
        self.r.add(Section::Authority, apex, RType::SOA, ttl, Cow::Borrowed(&set.rdata));
    }

    /// A and AAAA of the targets of NS, MX and SRV records, from the same
    /// zone. Glue (names at or below a delegation) only for NS.
    fn additional(&mut self, zone: &'z Zone, set: &'z RRset) {
        let allow_glue = set.rtype == RType::NS;
        for data in set.rdata.iter() {
            let Some(target) = data.additional_target() else { continue };
            if !target.ends_with(zone.origin()) {
                continue;
            }
            if !allow_glue && self.is_glue(zone, target) {
                continue;
            }
            let node = match zone.node(target) {
                Some(node) => Some(node),
                None => {
                    // As NSD: a target that does not exist may match a
                    // wildcard at its closest existing ancestor.
                    let found = self.find(zone, target);
                    found.encloser.wildcard_child().ok().and_then(|w| zone.node(&w))
                }
            };
            let Some(node) = node else { continue };
            for (rtype, section) in [(RType::A, Section::AdditionalA), (RType::AAAA, Section::AdditionalAaaa)] {
                if let Some(addr) = node.rrset(rtype) {
                    self.r.add_set(section, target, addr);
                }
            }
        }
    }

    /// At or below a delegation point of this zone.
    fn is_glue(&self, zone: &Zone, name: &Name) -> bool {
        let mut at = name.clone();
        while at.label_count() > zone.origin().label_count() {
            if zone.rrset(&at, RType::NS).is_some() {
                return true;
            }
            match at.parent() {
                Some(p) => at = p,
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
pub(crate) mod tests;
