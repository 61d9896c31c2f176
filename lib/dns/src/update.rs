//! Dynamic updates (RFC 2136): parse an UPDATE, check its prerequisites,
//! apply its changes to a zone all or nothing, bump the SOA serial, and
//! report what changed so the caller can store it and send NOTIFY.
//! Authorising the update (TSIG via [`crate::tsig::verify`], address
//! lists) is the caller's, before [`apply`].

use alloc::vec::Vec;
use core::fmt;

use crate::message::{Flags, Message};
use crate::name::Name;
use crate::rdata::RData;
use crate::record::{Question, Record};
use crate::serial;
use crate::types::{Class, Opcode, RType, Rcode};
use crate::wire::WireError;
use crate::zone::{RRset, Zone};

/// A parsed UPDATE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// To echo.
    pub id: u16,
    /// The zone section's name.
    pub zone: Name,
    /// Prerequisite section (the answer section's place).
    pub prerequisites: Vec<Record>,
    /// Update section (the authority section's place).
    pub updates: Vec<Record>,
}

/// One change made to a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The record was added (or its TTL changed: removed then added).
    Added(Record),
    /// The record was removed.
    Removed(Record),
}

/// Why an update was refused: the rcode to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateError(pub Rcode);

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.0 {
            Rcode::FORMERR => "malformed update",
            Rcode::NOTAUTH => "not authoritative for the zone",
            Rcode::NOTZONE => "a name outside the zone",
            Rcode::YXDOMAIN => "prerequisite failed: name in use",
            Rcode::YXRRSET => "prerequisite failed: RRset exists",
            Rcode::NXDOMAIN => "prerequisite failed: name not in use",
            Rcode::NXRRSET => "prerequisite failed: RRset does not exist or differs",
            _ => "update refused",
        };
        write!(f, "{what} (rcode {})", self.0.0)
    }
}

impl core::error::Error for UpdateError {}

impl From<WireError> for UpdateError {
    fn from(_: WireError) -> UpdateError {
        UpdateError(Rcode::FORMERR)
    }
}

/// Parses an UPDATE message (RFC 2136 §3.1: one zone, type SOA, class IN).
pub fn parse_update(bytes: &[u8]) -> Result<Update, UpdateError> {
    let m = Message::parse(bytes)?;
    if m.opcode != Opcode::UPDATE || m.flags.qr {
        return Err(UpdateError(Rcode::FORMERR));
    }
    let [zone] = m.questions.as_slice() else { return Err(UpdateError(Rcode::FORMERR)) };
    if zone.qtype != RType::SOA || zone.qclass != Class::IN {
        return Err(UpdateError(Rcode::FORMERR));
    }
    Ok(Update { id: m.id, zone: zone.name.clone(), prerequisites: m.answers, updates: m.authority })
}

/// The response to an update.
pub fn build_response(update: &Update, rcode: Rcode) -> Vec<u8> {
    let mut m = Message::new(update.id, Opcode::UPDATE);
    m.flags = Flags { qr: true, ..Flags::default() };
    m.rcode = rcode;
    m.questions.push(Question { name: update.zone.clone(), qtype: RType::SOA, qclass: Class::IN });
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

fn is_empty_rdata(r: &Record) -> bool {
    matches!(&r.data, RData::Unknown { data, .. } if data.is_empty())
}

fn name_in_use(zone: &Zone, name: &Name) -> bool {
    zone.node(name).is_some_and(|n| !n.rrsets.is_empty())
}

/// Checks the prerequisites (RFC 2136 §3.2).
fn check_prerequisites(zone: &Zone, prereqs: &[Record]) -> Result<(), UpdateError> {
    let err = |r| Err(UpdateError(r));
    let mut exact: Vec<(Name, RType, Vec<RData>)> = Vec::new();
    for p in prereqs {
        if p.ttl != 0 {
            return err(Rcode::FORMERR);
        }
        if !p.name.ends_with(zone.origin()) {
            return err(Rcode::NOTZONE);
        }
        let rtype = p.rtype();
        match p.class {
            Class::ANY | Class::NONE if !is_empty_rdata(p) => return err(Rcode::FORMERR),
            Class::ANY if rtype == RType::ANY => {
                if !name_in_use(zone, &p.name) {
                    return err(Rcode::NXDOMAIN);
                }
            }
            Class::ANY => {
                if zone.rrset(&p.name, rtype).is_none() {
                    return err(Rcode::NXRRSET);
                }
            }
            Class::NONE if rtype == RType::ANY => {
                if name_in_use(zone, &p.name) {
                    return err(Rcode::YXDOMAIN);
                }
            }
            Class::NONE => {
                if zone.rrset(&p.name, rtype).is_some() {
                    return err(Rcode::YXRRSET);
                }
            }
            Class::IN => match exact.iter_mut().find(|(n, t, _)| *n == p.name && *t == rtype) {
                Some((_, _, set)) => {
                    if !set.contains(&p.data) {
                        set.push(p.data.clone());
                    }
                }
                None => exact.push((p.name.clone(), rtype, alloc::vec![p.data.clone()])),
            },
            _ => return err(Rcode::FORMERR),
        }
    }
    for (name, rtype, wanted) in exact {
        let have = zone.rrset(&name, rtype).map(|s| s.rdata.as_slice()).unwrap_or(&[]);
        if have.len() != wanted.len() || !wanted.iter().all(|w| have.contains(w)) {
            return err(Rcode::NXRRSET);
        }
    }
    Ok(())
}

/// Checks the update section before changing anything (RFC 2136 §3.4.1).
fn prescan(zone: &Zone, updates: &[Record]) -> Result<(), UpdateError> {
    for u in updates {
        if !u.name.ends_with(zone.origin()) {
            return Err(UpdateError(Rcode::NOTZONE));
        }
        let rtype = u.rtype();
        let ok = match u.class {
            Class::IN => !rtype.is_meta() && u.data.is_encodable(),
            Class::ANY => u.ttl == 0 && is_empty_rdata(u) && !matches!(rtype.0, 251..=254),
            Class::NONE => u.ttl == 0 && !rtype.is_meta(),
            _ => false,
        };
        if !ok {
            return Err(UpdateError(Rcode::FORMERR));
        }
    }
    Ok(())
}

/// Checks and applies `update` to `zone`, all or nothing. Returns the
/// changes (empty when nothing changed); the SOA serial is bumped when
/// anything changed unless the update raised it itself.
pub fn apply(zone: &mut Zone, update: &Update) -> Result<Vec<Change>, UpdateError> {
    if update.zone != *zone.origin() {
        return Err(UpdateError(Rcode::NOTAUTH));
    }
    check_prerequisites(zone, &update.prerequisites)?;
    prescan(zone, &update.updates)?;
    let mut next = zone.clone();
    let mut changes = Vec::new();
    let apex = zone.origin().clone();
    let mut soa_set_by_update = false;
    for u in &update.updates {
        let rtype = u.rtype();
        match u.class {
            Class::IN => {
                if add(&mut next, u, &apex, &mut changes)? && rtype == RType::SOA {
                    soa_set_by_update = true;
                }
            }
            Class::ANY if rtype == RType::ANY => {
                let Some(node) = next.node(&u.name) else { continue };
                let doomed: Vec<RType> = node
                    .rrsets
                    .iter()
                    .map(|s| s.rtype)
                    .filter(|t| !(u.name == apex && matches!(*t, RType::SOA | RType::NS)))
                    .collect();
                for t in doomed {
                    remove_rrset(&mut next, &u.name, t, &mut changes);
                }
            }
            Class::ANY => {
                if u.name == apex && matches!(rtype, RType::SOA | RType::NS) {
                    continue;
                }
                remove_rrset(&mut next, &u.name, rtype, &mut changes);
            }
            _ => {
                // Class NONE: one record.
                if rtype == RType::SOA {
                    continue;
                }
                if u.name == apex
                    && rtype == RType::NS
                    && next.rrset(&apex, RType::NS).is_some_and(|s| s.rdata.len() <= 1)
                {
                    continue;
                }
                if let Some(set) = next.rrset(&u.name, rtype) {
                    let ttl = set.ttl;
                    if next.remove_record(&u.name, &u.data) {
                        changes.push(Change::Removed(Record {
                            name: u.name.clone(),
                            class: Class::IN,
                            ttl,
                            data: u.data.clone(),
                        }));
                    }
                }
            }
        }
    }
    if !changes.is_empty() && !soa_set_by_update {
        bump_serial(&mut next, &mut changes);
    }
    *zone = next;
    Ok(changes)
}

/// Adds one record under RFC 2136 §3.4.2.2's rules; true when it changed
/// the zone.
fn add(zone: &mut Zone, u: &Record, apex: &Name, changes: &mut Vec<Change>) -> Result<bool, UpdateError> {
    let rtype = u.rtype();
    let record = Record { class: Class::IN, ..u.clone() };
    if rtype == RType::SOA {
        let Some((old, ttl)) = zone.soa() else { return Ok(false) };
        let RData::Soa(new) = &u.data else { return Ok(false) };
        if u.name != *apex || !serial::is_newer(new.serial, old.serial) {
            return Ok(false);
        }
        let old = Record { name: apex.clone(), class: Class::IN, ttl, data: RData::Soa(old.clone()) };
        zone.replace_rrset(apex, RRset { rtype, ttl: u.ttl, rdata: alloc::vec![u.data.clone()] });
        changes.push(Change::Removed(old));
        changes.push(Change::Added(record));
        return Ok(true);
    }
    if let Some(node) = zone.node(&u.name) {
        let has_cname = node.rrset(RType::CNAME).is_some();
        let has_other = node.rrsets.iter().any(|s| s.rtype != RType::CNAME);
        let existing = node.rrset(rtype).cloned();
        if (rtype == RType::CNAME && has_other) || (rtype != RType::CNAME && has_cname) {
            // RFC 2136 §3.4.2.2: silently ignored.
            return Ok(false);
        }
        if let Some(mut set) = existing {
            if set.rdata.contains(&u.data) {
                if set.ttl == u.ttl {
                    return Ok(false);
                }
                // Same data, new TTL: the whole RRset takes it.
                for d in &set.rdata {
                    changes.push(Change::Removed(Record {
                        name: u.name.clone(),
                        class: Class::IN,
                        ttl: set.ttl,
                        data: d.clone(),
                    }));
                    changes.push(Change::Added(Record {
                        name: u.name.clone(),
                        class: Class::IN,
                        ttl: u.ttl,
                        data: d.clone(),
                    }));
                }
                set.ttl = u.ttl;
                zone.replace_rrset(&u.name, set);
                return Ok(true);
            }
            if rtype == RType::CNAME {
                // A name has one CNAME: the new one replaces it.
                remove_rrset(zone, &u.name, RType::CNAME, changes);
            }
        }
    }
    zone.check_record(&record).map_err(|_| UpdateError(Rcode::FORMERR))?;
    if let Some(set) = zone.rrset(&u.name, rtype)
        && set.ttl != u.ttl
    {
        // Keep one TTL per RRset: the new record's. The records already
        // there change TTL too, and the report says so.
        let mut set = set.clone();
        for d in &set.rdata {
            changes.push(Change::Removed(Record {
                name: u.name.clone(),
                class: Class::IN,
                ttl: set.ttl,
                data: d.clone(),
            }));
            changes.push(Change::Added(Record { name: u.name.clone(), class: Class::IN, ttl: u.ttl, data: d.clone() }));
        }
        set.ttl = u.ttl;
        zone.replace_rrset(&u.name, set);
    }
    zone.add(record.clone()).map_err(|_| UpdateError(Rcode::FORMERR))?;
    changes.push(Change::Added(record));
    Ok(true)
}

fn remove_rrset(zone: &mut Zone, name: &Name, rtype: RType, changes: &mut Vec<Change>) {
    if let Some(set) = zone.rrset(name, rtype).cloned()
        && zone.remove_rrset(name, rtype)
    {
        for data in set.rdata {
            changes.push(Change::Removed(Record { name: name.clone(), class: Class::IN, ttl: set.ttl, data }));
        }
    }
}

fn bump_serial(zone: &mut Zone, changes: &mut Vec<Change>) {
    let Some((soa, ttl)) = zone.soa() else { return };
    let mut new = soa.clone();
    new.serial = serial::next(soa.serial);
    let apex = zone.origin().clone();
    changes.push(Change::Removed(Record { name: apex.clone(), class: Class::IN, ttl, data: RData::Soa(soa.clone()) }));
    changes.push(Change::Added(Record { name: apex.clone(), class: Class::IN, ttl, data: RData::Soa(new.clone()) }));
    zone.replace_rrset(&apex, RRset { rtype: RType::SOA, ttl, rdata: alloc::vec![RData::Soa(new)] });
}

#[cfg(test)]
mod tests;
