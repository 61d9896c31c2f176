//! Zones: the records of one zone, organised by owner name in canonical
//! order, with the consistency rules an authoritative server enforces.
//!
//! Empty non-terminals (names with no records but with records below
//! them) are kept as nodes with no RRsets, so "does this name exist" is
//! one map lookup (RFC 4592 §2.2.2: they exist and block wildcards).

mod parser;
mod text;

pub use parser::{IncludeResolver, ParseOptions, ZoneError, ZoneErrorKind, parse_zone};

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::name::Name;
use crate::rdata::{RData, Soa};
use crate::record::Record;
use crate::types::{Class, RType};

/// The records of one type at one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRset {
    /// The type.
    pub rtype: RType,
    /// One TTL for the set. Records given with different TTLs take the
    /// lowest (RFC 2181 §5.2).
    pub ttl: u32,
    /// The records' data, in the order first given, without duplicates.
    pub rdata: Vec<RData>,
}

/// The RRsets at one name, in the order their types were first given.
/// No RRsets: an empty non-terminal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// The RRsets.
    pub rrsets: Vec<RRset>,
}

impl Node {
    /// The RRset of this type, if any.
    pub fn rrset(&self, rtype: RType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// True for an empty non-terminal.
    pub fn is_empty_non_terminal(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// Why a record cannot join a zone, or why a zone is not servable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneProblem {
    /// The owner is not at or below the origin.
    OutOfZone(Name),
    /// A CNAME where other data is, or data where a CNAME is (RFC 1034
    /// §3.6.2; DNAME may not sit beside CNAME either, RFC 6672 §2.4).
    CnameAndOtherData(Name),
    /// An SOA below the apex.
    SoaNotAtApex(Name),
    /// A second, different SOA record.
    MultipleSoa,
    /// No SOA at the apex.
    MissingSoa,
    /// No NS at the apex.
    MissingNs,
    /// A class other than IN.
    NotIn(Class),
    /// A meta type (OPT, TSIG, AXFR, ANY, …) cannot be zone data.
    MetaType(RType),
    /// A TXT string over 255 bytes, or similar.
    Unencodable(Name),
}

impl fmt::Display for ZoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneProblem::OutOfZone(n) => write!(f, "{n} is outside the zone"),
            ZoneProblem::CnameAndOtherData(n) => write!(f, "CNAME and other data at {n}"),
            ZoneProblem::SoaNotAtApex(n) => write!(f, "SOA record at {n}, not at the zone apex"),
            ZoneProblem::MultipleSoa => f.write_str("more than one SOA record"),
            ZoneProblem::MissingSoa => f.write_str("no SOA record at the zone apex"),
            ZoneProblem::MissingNs => f.write_str("no NS records at the zone apex"),
            ZoneProblem::NotIn(c) => write!(f, "class {c} is not served (only IN)"),
            ZoneProblem::MetaType(t) => write!(f, "type {t} cannot appear in a zone"),
            ZoneProblem::Unencodable(n) => write!(f, "record data at {n} too long for the wire"),
        }
    }
}

impl core::error::Error for ZoneProblem {}

/// One zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    origin: Name,
    /// By [`Name::canonical_key`]: lookups compare bytes, not labels.
    nodes: BTreeMap<Vec<u8>, (Name, Node)>,
}

impl Zone {
    /// An empty zone (not yet servable: it needs SOA and NS).
    pub fn new(origin: Name) -> Zone {
        let mut nodes = BTreeMap::new();
        nodes.insert(origin.canonical_key(), (origin.clone(), Node::default()));
        Zone { origin, nodes }
    }

    /// The apex name.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The node at `name` (exact, case-insensitive).
    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name.canonical_key().as_slice()).map(|(_, node)| node)
    }

    /// The node and its stored name (in the zone's case).
    pub fn node_entry(&self, name: &Name) -> Option<(&Name, &Node)> {
        self.nodes.get(name.canonical_key().as_slice()).map(|(n, node)| (n, node))
    }

    /// The RRset of `rtype` at `name`.
    pub fn rrset(&self, name: &Name, rtype: RType) -> Option<&RRset> {
        self.node(name)?.rrset(rtype)
    }

    /// The apex SOA and its TTL.
    pub fn soa(&self) -> Option<(&Soa, u32)> {
        let set = self.rrset(&self.origin, RType::SOA)?;
        match set.rdata.first()? {
            RData::Soa(soa) => Some((soa, set.ttl)),
            _ => None,
        }
    }

    /// The SOA serial, when there is an SOA.
    pub fn serial(&self) -> Option<u32> {
        self.soa().map(|(s, _)| s.serial)
    }

    /// Names and nodes in canonical order (the apex first).
    pub fn nodes(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.nodes.values().map(|(n, node)| (n, node))
    }

    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.nodes.values().flat_map(|(_, n)| &n.rrsets).map(|s| s.rdata.len()).sum()
    }

    /// Every record: the SOA first, then by name in canonical order, the
    /// types at a name in the order they were given.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let soa = self.rrset(&self.origin, RType::SOA).map(|set| (self.origin.clone(), set));
        let rest = self
            .nodes
            .values()
            .flat_map(|(name, node)| node.rrsets.iter().map(move |set| (name.clone(), set)))
            .filter(|(name, set)| !(set.rtype == RType::SOA && *name == self.origin));
        soa.into_iter().chain(rest).flat_map(|(name, set)| {
            set.rdata.iter().map(move |data| Record {
                name: name.clone(),
                class: Class::IN,
                ttl: set.ttl,
                data: data.clone(),
            })
        })
    }

    /// True when `name` exists (has records or is an empty non-terminal).
    pub fn contains(&self, name: &Name) -> bool {
        self.nodes.contains_key(name.canonical_key().as_slice())
    }

    /// Checks one record against the zone's rules without adding it.
    pub fn check_record(&self, record: &Record) -> Result<(), ZoneProblem> {
        let rtype = record.rtype();
        if record.class != Class::IN {
            return Err(ZoneProblem::NotIn(record.class));
        }
        if rtype.is_meta() {
            return Err(ZoneProblem::MetaType(rtype));
        }
        if !record.name.ends_with(&self.origin) {
            return Err(ZoneProblem::OutOfZone(record.name.clone()));
        }
        if !record.data.is_encodable() {
            return Err(ZoneProblem::Unencodable(record.name.clone()));
        }
        if rtype == RType::SOA {
            if record.name != self.origin {
                return Err(ZoneProblem::SoaNotAtApex(record.name.clone()));
            }
            if let Some(set) = self.rrset(&self.origin, RType::SOA)
                && !set.rdata.contains(&record.data)
            {
                return Err(ZoneProblem::MultipleSoa);
            }
        }
        if let Some(node) = self.node(&record.name) {
            // DNSSEC's RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5).
            let may_share = |t: RType| matches!(t.0, 46 | 47);
            let conflict = if rtype == RType::CNAME {
                node.rrsets.iter().any(|s| s.rtype != RType::CNAME && !may_share(s.rtype))
            } else {
                node.rrset(RType::CNAME).is_some() && !may_share(rtype)
            };
            if conflict {
                return Err(ZoneProblem::CnameAndOtherData(record.name.clone()));
            }
        }
        Ok(())
    }

    /// Adds a record after [`Zone::check_record`]. Returns false when the
    /// record was already there.
    pub fn add(&mut self, record: Record) -> Result<bool, ZoneProblem> {
        self.check_record(&record)?;
        Ok(self.insert_unchecked(record))
    }

    /// Adds a record with no rule checks (the caller has made them).
    pub(crate) fn insert_unchecked(&mut self, record: Record) -> bool {
        self.add_ancestors(&record.name);
        let node = self.entry(record.name);
        let rtype = record.data.rtype();
        match node.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                set.ttl = set.ttl.min(record.ttl);
                if set.rdata.contains(&record.data) {
                    return false;
                }
                set.rdata.push(record.data);
            }
            None => node.rrsets.push(RRset { rtype, ttl: record.ttl, rdata: alloc::vec![record.data] }),
        }
        true
    }

    /// Replaces a whole RRset (the apex SOA on serial bumps, for example).
    pub(crate) fn replace_rrset(&mut self, name: &Name, set: RRset) {
        self.add_ancestors(name);
        let node = self.entry(name.clone());
        match node.rrsets.iter_mut().find(|s| s.rtype == set.rtype) {
            Some(old) => *old = set,
            None => node.rrsets.push(set),
        }
    }

    fn entry(&mut self, name: Name) -> &mut Node {
        &mut self.nodes.entry(name.canonical_key()).or_insert_with(|| (name, Node::default())).1
    }

    fn add_ancestors(&mut self, name: &Name) {
        let mut at = name.parent();
        while let Some(n) = at {
            if n.label_count() < self.origin.label_count() || self.contains(&n) {
                break;
            }
            at = n.parent();
            self.entry(n);
        }
    }

    fn node_mut(&mut self, name: &Name) -> Option<&mut Node> {
        self.nodes.get_mut(name.canonical_key().as_slice()).map(|(_, node)| node)
    }

    /// Removes one record. Returns whether it was there.
    pub fn remove_record(&mut self, name: &Name, data: &RData) -> bool {
        let Some(node) = self.node_mut(name) else { return false };
        let Some(i) = node.rrsets.iter().position(|s| s.rtype == data.rtype()) else { return false };
        let set = &mut node.rrsets[i];
        let Some(j) = set.rdata.iter().position(|d| d == data) else { return false };
        set.rdata.remove(j);
        if set.rdata.is_empty() {
            node.rrsets.remove(i);
        }
        self.prune(name);
        true
    }

    /// Removes an RRset. Returns whether it was there.
    pub fn remove_rrset(&mut self, name: &Name, rtype: RType) -> bool {
        let Some(node) = self.node_mut(name) else { return false };
        let before = node.rrsets.len();
        node.rrsets.retain(|s| s.rtype != rtype);
        let removed = node.rrsets.len() != before;
        self.prune(name);
        removed
    }

    /// Removes every RRset at a name. Returns whether any was there.
    pub fn remove_name(&mut self, name: &Name) -> bool {
        let Some(node) = self.node_mut(name) else { return false };
        let removed = !node.rrsets.is_empty();
        node.rrsets.clear();
        self.prune(name);
        removed
    }

    /// True when some name below `name` exists. Names below a name sort
    /// right after it in canonical order.
    pub fn has_descendants(&self, name: &Name) -> bool {
        use core::ops::Bound;
        let key = name.canonical_key();
        self.nodes
            .range::<[u8], _>((Bound::Excluded(key.as_slice()), Bound::Unbounded))
            .next()
            .is_some_and(|(_, (next, _))| next.ends_with(name))
    }

    /// Drops `name` and its ancestors while they are empty leaves.
    fn prune(&mut self, name: &Name) {
        let mut at = Some(name.clone());
        while let Some(n) = at {
            if n == self.origin {
                break;
            }
            match self.node(&n) {
                Some(node) if node.rrsets.is_empty() && !self.has_descendants(&n) => {
                    self.nodes.remove(n.canonical_key().as_slice());
                }
                _ => break,
            }
            at = n.parent();
        }
    }

    /// Checks what a servable zone needs (NSD refuses to load zones
    /// without them): an SOA and NS records at the apex.
    pub fn check_servable(&self) -> Result<(), ZoneProblem> {
        if self.soa().is_none() {
            return Err(ZoneProblem::MissingSoa);
        }
        if self.rrset(&self.origin, RType::NS).is_none() {
            return Err(ZoneProblem::MissingNs);
        }
        Ok(())
    }

    /// The zone in master-file form, readable by [`parse_zone`] (and NSD).
    pub fn to_text(&self) -> String {
        text::zone_to_text(self)
    }
}

#[cfg(test)]
mod tests;
