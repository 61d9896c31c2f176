//! Reading a query as NSD does: the question, at most one OPT and one
//! TSIG in the additional section, nothing in answer or authority (but
//! IXFR's SOA), trailing bytes ignored.

use crate::message::{HEADER_LEN, HeaderView};
use crate::name::Name;
use crate::types::{Class, RType};
use crate::wire::{Reader, skip_name};

use super::Transport;
use super::cache::MAX_KEY;

/// The query's EDNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OptStatus {
    /// No OPT record.
    Absent,
    /// Version 0.
    Ok { udp_size: u16, dnssec_ok: bool },
    /// A version we do not speak: BADVERS.
    BadVersion { dnssec_ok: bool },
}

/// What the responder needs from a query.
#[derive(Clone, Debug)]
pub(crate) struct ParsedQuery {
    pub qname: Name,
    pub qtype: RType,
    pub qclass: Class,
    /// Offset just past the question.
    pub question_end: usize,
    pub opt: OptStatus,
    /// A TSIG record ends the message.
    pub signed: bool,
}

/// Most IXFR authority records skipped (NSD's bound).
const MAX_IXFR_AUTHORITY: u16 = 64;

/// Parses a QUERY-opcode message. `Err(keep_rd)`: FORMERR, with or
/// without the RD bit kept (NSD clears all flags for a wrong question
/// count).
pub(crate) fn parse_query(query: &[u8]) -> Result<ParsedQuery, bool> {
    let header = HeaderView::new_checked(query).map_err(|_| true)?;
    if header.rcode().0 != 0 {
        return Err(true);
    }
    let mut r = Reader::new(query, HEADER_LEN);
    let qname = r.name().map_err(|_| true)?;
    let qtype = RType(r.u16().map_err(|_| true)?);
    let qclass = Class(r.u16().map_err(|_| true)?);
    let question_end = r.pos();
    if header.qdcount() != 1 {
        // NSD keeps RD for an OPT-only query (no question, one OPT that
        // it then took for the question) and clears every flag otherwise.
        let opt_only = header.qdcount() == 0
            && header.ancount() == 0
            && header.nscount() == 0
            && header.arcount() == 1
            && matches!(read_opt(query, HEADER_LEN), Some((OptStatus::Ok { .. }, _)));
        return Err(opt_only);
    }
    if header.ancount() != 0 || (qtype != RType::IXFR && header.nscount() != 0) {
        return Err(true);
    }
    let mut at = question_end;
    if qtype == RType::IXFR {
        if header.nscount() > MAX_IXFR_AUTHORITY {
            return Err(true);
        }
        for _ in 0..header.nscount() {
            at = skip_record(query, at).ok_or(true)?;
        }
    }
    let mut arcount = header.arcount();
    let mut opt = OptStatus::Absent;
    if arcount > 0
        && let Some((status, next)) = read_opt(query, at)
    {
        opt = status;
        at = next;
        arcount -= 1;
    }
    let mut signed = false;
    if arcount > 0 && !matches!(opt, OptStatus::BadVersion { .. }) {
        let name_end = skip_name(query, at).map_err(|_| true)?;
        let rtype = query.get(name_end..name_end + 2).ok_or(true)?;
        if rtype == RType::TSIG.0.to_be_bytes() {
            skip_record(query, at).ok_or(true)?;
            signed = true;
            arcount -= 1;
        }
    }
    if arcount > 0 && !matches!(opt, OptStatus::BadVersion { .. }) {
        return Err(true);
    }
    Ok(ParsedQuery { qname, qtype, qclass, question_end, opt, signed })
}

fn skip_record(msg: &[u8], at: usize) -> Option<usize> {
    let at = skip_name(msg, at).ok()?;
    let fixed = msg.get(at..at + 10)?;
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let end = at + 10 + rdlen;
    (end <= msg.len()).then_some(end)
}

/// An OPT record at `at`: its status and where it ends. `None` when
/// there is no well-formed OPT there.
fn read_opt(msg: &[u8], at: usize) -> Option<(OptStatus, usize)> {
    let fixed = msg.get(at..at + 11)?;
    if fixed[0] != 0 || fixed[1..3] != [0, 41] {
        return None;
    }
    let udp_size = u16::from_be_bytes([fixed[3], fixed[4]]);
    let version = fixed[6];
    let dnssec_ok = fixed[7] & 0x80 != 0;
    if version != 0 {
        return Some((OptStatus::BadVersion { dnssec_ok }, at + 11));
    }
    let rdlen = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let options = msg.get(at + 11..at + 11 + rdlen)?;
    let mut i = 0;
    while i < options.len() {
        let len = usize::from(u16::from_be_bytes([*options.get(i + 2)?, *options.get(i + 3)?]));
        i += 4 + len;
    }
    (i == options.len()).then_some((OptStatus::Ok { udp_size, dnssec_ok }, at + 11 + rdlen))
}

/// The cache key of a plain query that the fast path can serve, and the
/// end of its question name; `None` sends the query down the slow path.
/// The key: lower-cased qname, qtype, EDNS/DO/TCP bits, size limit.
pub(crate) fn fast_key(query: &[u8], transport: Transport, key: &mut [u8; MAX_KEY]) -> Option<(usize, usize)> {
    let h = query.get(..HEADER_LEN)?;
    // QR clear, opcode QUERY, rcode 0, one question, nothing else but OPT.
    if h[2] & 0xF8 != 0 || h[3] & 0x0F != 0 || h[4..10] != [0, 1, 0, 0, 0, 0] || h[10] != 0 || h[11] > 1 {
        return None;
    }
    let mut at = HEADER_LEN;
    let mut k = 0;
    loop {
        let len = usize::from(*query.get(at)?);
        if len > 63 || k + 1 + len > 255 {
            return None;
        }
        let label = query.get(at..at + 1 + len)?;
        for (dst, src) in key[k..k + 1 + len].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        k += 1 + len;
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let qname_end = at;
    let tail = query.get(at..at + 4)?;
    if tail[2..4] != [0, 1] || tail[0..2] == [0, 251] || tail[0..2] == [0, 252] {
        return None;
    }
    key[k..k + 2].copy_from_slice(&tail[0..2]);
    k += 2;
    at += 4;
    let (mut mode, mut limit) = (0u8, 512u16);
    if h[11] == 1 {
        let (OptStatus::Ok { udp_size, dnssec_ok }, _) = read_opt(query, at)? else { return None };
        mode |= 1 | if dnssec_ok { 2 } else { 0 };
        if let Transport::Udp { max } = transport
            && udp_size > 512
        {
            limit = udp_size.min(max).max(512);
        }
    }
    if transport == Transport::Tcp {
        mode |= 4;
        limit = 0;
    }
    key[k] = mode;
    key[k + 1..k + 3].copy_from_slice(&limit.to_be_bytes());
    Some((k + 3, qname_end))
}
