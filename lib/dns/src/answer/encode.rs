//! Writing a [`Resolution`]'s RRsets under a size limit, as NSD does:
//! an answer or authority RRset that does not fit sets TC and ends the
//! message; an optional RRset (the zone's NS beside an answer,
//! additional addresses) that does not fit, or over UDP would take the
//! message past the "minimal response" size, is left out with
//! everything after it. An RRset is never split.

use alloc::vec::Vec;

use super::{Item, Resolution, Section};
use crate::types::Class;
use crate::wire::Compressor;

/// Space for one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, header included.
    pub max_len: usize,
    /// Bytes kept free at the end (the OPT record).
    pub reserve: usize,
    /// Over UDP: optional RRsets only while the message stays at or
    /// under this size (NSD's 1232, RFC 8085's advice for fragments).
    pub optional_up_to: Option<usize>,
}

/// What encoding wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// Records in answer, authority and additional.
    pub counts: [u16; 3],
    /// Truncated: something required did not fit.
    pub tc: bool,
}

const ORDER: [Section; 5] =
    [Section::Answer, Section::Authority, Section::OptionalAuthority, Section::AdditionalA, Section::AdditionalAaaa];

fn count_index(section: Section) -> usize {
    match section {
        Section::Answer => 0,
        Section::Authority | Section::OptionalAuthority => 1,
        Section::AdditionalA | Section::AdditionalAaaa => 2,
    }
}

/// Appends the resolution's records after a header and question that
/// start at `msg_start` in `out`.
pub fn encode(r: &Resolution<'_>, limits: Limits, out: &mut Vec<u8>, msg_start: usize, c: &mut Compressor) -> Encoded {
    let mut enc = Encoded::default();
    let room = limits.max_len.saturating_sub(limits.reserve);
    for section in ORDER {
        let mut in_section = 0u16;
        let mut stop = false;
        for item in r.items.iter().filter(|i| i.section == section) {
            let mark = out.len();
            let (added, all) = write_rrset(item, out, msg_start, room, c);
            let optional = section.is_optional();
            let over_optional = limits.optional_up_to.is_some_and(|cap| out.len() - msg_start > cap);
            if optional && limits.optional_up_to.is_some() && (!all || over_optional) {
                // Later RRsets of this section still get their chance
                // (they may be smaller); later sections do not.
                cut(out, mark, msg_start, c);
                stop = true;
                continue;
            }
            if !all {
                cut(out, mark, msg_start, c);
                if !optional {
                    enc.tc = true;
                    stop = true;
                    break;
                }
                continue;
            }
            in_section += added;
        }
        enc.counts[count_index(section)] += in_section;
        if stop && section == Section::AdditionalA && in_section == 0 && r.referral {
            // A referral without a usable address is no use over UDP.
            enc.tc = true;
        }
        if stop {
            break;
        }
    }
    enc
}

fn cut(out: &mut Vec<u8>, mark: usize, msg_start: usize, c: &mut Compressor) {
    out.truncate(mark);
    c.forget_from(mark - msg_start);
}

/// Writes the RRset's records while they fit in `room`; returns how many
/// and whether all did.
fn write_rrset(item: &Item<'_>, out: &mut Vec<u8>, msg_start: usize, room: usize, c: &mut Compressor) -> (u16, bool) {
    let mut added = 0;
    for data in item.rdata.iter() {
        let mark = out.len();
        c.write_name(out, &item.owner);
        out.extend_from_slice(&item.rtype.0.to_be_bytes());
        out.extend_from_slice(&Class::IN.0.to_be_bytes());
        out.extend_from_slice(&item.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        data.emit(out, Some(c));
        let rdlen = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        if out.len() - msg_start > room {
            cut(out, mark, msg_start, c);
            return (added, false);
        }
        added += 1;
    }
    (added, true)
}
