//! The query front end: one call turns a query's bytes into a response's
//! bytes, for UDP or TCP.
//!
//! The fast path: everything a normal query's response depends on is
//! (lower-cased qname, qtype, EDNS present, DO, the size limit). The
//! first response for such a key is stored as wire bytes; later queries
//! with the same key get a copy with their own ID, RD bit and qname case
//! patched in (names elsewhere in the response that were compressed to
//! the question follow its case, exactly as a fresh answer would). Only
//! the question and the OPT record are parsed on that path.
//!
//! Everything else — errors, EDNS versions we do not speak, questions
//! never seen — goes the slow path through [`crate::answer`], which
//! behaves as NSD 4 does byte for byte where the RFCs leave a choice
//! (see `lib/dns/README.md` for where and why).

mod cache;
mod query;

use alloc::vec::Vec;

use crate::answer::{Catalog, Limits, ede, encode, resolve};
use crate::message::{Edns, Flags, HEADER_LEN, HeaderView, OPTION_EDE, write_header};
use crate::types::{Class, Opcode, RType, Rcode};
use crate::wire::Compressor;
use cache::Cache;
use query::{OptStatus, ParsedQuery, parse_query};

/// How the response will travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: responses fit the client's EDNS size (512 without EDNS),
    /// capped at `max`, or are truncated with TC.
    Udp {
        /// Our largest UDP response (and the size our OPT advertises).
        max: u16,
    },
    /// TCP: up to 65,535 bytes.
    Tcp,
}

/// What the caller should do after [`Responder::respond`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `out`.
    Reply,
    /// Send nothing (a response, or not even a header). Over TCP: close
    /// the connection (a message too short to hold a question).
    Drop,
    /// Not a plain query: hand the message to the matching building block
    /// (`out` is empty).
    Pass(Pass),
}

/// Messages the responder leaves to the caller's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// AXFR over TCP, or IXFR: see [`crate::transfer`].
    Transfer,
    /// NOTIFY: see [`crate::notify`].
    Notify,
    /// UPDATE: see [`crate::update`].
    Update,
    /// Carries a TSIG record: verify it with [`crate::tsig`] first.
    Signed,
}

/// Tuning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// UDP payload size our OPT records advertise (NSD: 1232).
    pub edns_udp_size: u16,
    /// Over UDP, optional RRsets only while the response stays within
    /// this many bytes (NSD: 1232).
    pub optional_up_to: usize,
    /// Memory for cached responses, bytes (keys and templates); the cache
    /// starts over when full.
    pub cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { edns_udp_size: 1232, optional_up_to: 1232, cache_bytes: 64 << 20 }
    }
}

/// Answers queries for a set of zones.
#[derive(Debug)]
pub struct Responder {
    catalog: Catalog,
    config: Config,
    cache: Cache,
}

impl Responder {
    /// A responder for these zones.
    pub fn new(catalog: Catalog, config: Config) -> Responder {
        Responder { catalog, cache: Cache::new(config.cache_bytes), config }
    }

    /// The zones.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The zones, to change; the response cache is emptied.
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        self.cache.clear();
        &mut self.catalog
    }

    /// Cached responses and their bytes.
    pub fn cache_stats(&self) -> (usize, usize) {
        self.cache.stats()
    }

    /// Answers one query. `out` is overwritten with the response when the
    /// action is [`Action::Reply`] (without TCP's length prefix).
    pub fn respond(&mut self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> Action {
        out.clear();
        let mut key = [0u8; cache::MAX_KEY];
        let fast = query::fast_key(query, transport, &mut key);
        if let Some((key_len, qname_end)) = fast
            && let Some(template) = self.cache.get(&key[..key_len])
        {
            out.extend_from_slice(template);
            out[0..2].copy_from_slice(&query[0..2]);
            out[2] = (out[2] & !0x01) | (query[2] & 0x01);
            out[HEADER_LEN..qname_end].copy_from_slice(&query[HEADER_LEN..qname_end]);
            return Action::Reply;
        }
        let action = self.respond_slow(query, transport, out);
        if let (Some((key_len, _)), Action::Reply) = (fast, action) {
            self.cache.insert(&key[..key_len], out);
        }
        action
    }

    fn respond_slow(&self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> Action {
        let Ok(header) = HeaderView::new_checked(query) else { return Action::Drop };
        if transport == Transport::Tcp && query.len() < HEADER_LEN + 5 {
            // Not even a root question: NSD closes the connection.
            return Action::Drop;
        }
        if header.flags().qr {
            return Action::Drop;
        }
        match header.opcode() {
            Opcode::QUERY => {}
            Opcode::NOTIFY => return Action::Pass(Pass::Notify),
            Opcode::UPDATE => return Action::Pass(Pass::Update),
            _ => {
                error_reply(query, Rcode::NOTIMP, out);
                return Action::Reply;
            }
        }
        let q = match parse_query(query) {
            Ok(q) => q,
            Err(keep_rd) => {
                self.error_header(out, &header, Rcode::FORMERR, keep_rd);
                return Action::Reply;
            }
        };
        if q.signed {
            return Action::Pass(Pass::Signed);
        }
        if let OptStatus::BadVersion { .. } = q.opt {
            // RFC 3225 would echo DO; NSD stops reading the OPT at the
            // version and never does. We answer as NSD.
            return self.badvers(query, &q, false, out);
        }
        if q.qclass != Class::IN {
            // NSD answers CHAOS itself; we serve IN only (see README).
            self.error_header(out, &header, Rcode::REFUSED, true);
            self.finish_opt(out, &q, Some((ede::NOT_SUPPORTED, "")), Rcode::REFUSED);
            return Action::Reply;
        }
        if q.qtype == RType::AXFR || q.qtype == RType::IXFR {
            if q.qtype == RType::AXFR && matches!(transport, Transport::Udp { .. }) {
                self.answer_header_and_question(query, &q, out, Flags::default());
                write_rcode(out, Rcode::NOTIMP);
                self.finish_opt(out, &q, None, Rcode::NOTIMP);
                return Action::Reply;
            }
            return Action::Pass(Pass::Transfer);
        }
        self.answer(query, &q, transport, out);
        Action::Reply
    }

    /// A normal answer from our zones.
    fn answer(&self, query: &[u8], q: &ParsedQuery, transport: Transport, out: &mut Vec<u8>) {
        let r = resolve(&self.catalog, &q.qname, q.qtype);
        let flags = Flags { aa: r.aa, ..Flags::default() };
        self.answer_header_and_question(query, q, out, flags);
        let mut c = Compressor::new(0);
        c.remember(&q.qname, HEADER_LEN);
        let ede = r.ede;
        let opt_len = match q.opt {
            OptStatus::Ok { .. } => 11 + ede.map_or(0, |(_, text)| 6 + text.len()),
            _ => 0,
        };
        let limits = match transport {
            Transport::Tcp => Limits { max_len: 65535, reserve: opt_len, optional_up_to: None },
            Transport::Udp { max } => {
                let max_len = match q.opt {
                    OptStatus::Ok { udp_size, .. } if udp_size > 512 => usize::from(udp_size.min(max)).max(512),
                    _ => 512,
                };
                Limits { max_len, reserve: opt_len, optional_up_to: Some(self.config.optional_up_to) }
            }
        };
        let enc = encode(&r, limits, out, 0, &mut c);
        let flags = Flags { tc: enc.tc, ..flags };
        let bits = u16::from_be_bytes([out[2], out[3]]) | flags.to_bits();
        out[2..4].copy_from_slice(&bits.to_be_bytes());
        out[6..8].copy_from_slice(&enc.counts[0].to_be_bytes());
        out[8..10].copy_from_slice(&enc.counts[1].to_be_bytes());
        out[10..12].copy_from_slice(&enc.counts[2].to_be_bytes());
        write_rcode(out, r.rcode);
        self.finish_opt(out, q, ede, r.rcode);
    }

    /// Header (ID, QR, opcode, RD from the query, `flags`) and the
    /// question copied as the client wrote it.
    fn answer_header_and_question(&self, query: &[u8], q: &ParsedQuery, out: &mut Vec<u8>, flags: Flags) {
        out.resize(HEADER_LEN, 0);
        let rd = query[2] & 0x01 != 0;
        write_header(
            out,
            u16::from_be_bytes([query[0], query[1]]),
            Flags { qr: true, rd, ..flags },
            Opcode::QUERY,
            Rcode::NOERROR,
            [1, 0, 0, 0],
        );
        out.extend_from_slice(&query[HEADER_LEN..q.question_end]);
    }

    /// FORMERR/REFUSED-style header with no sections. NSD keeps RD and the
    /// opcode, except for a wrong question count, where it clears all.
    fn error_header(&self, out: &mut Vec<u8>, header: &HeaderView<'_>, rcode: Rcode, keep_rd: bool) {
        out.resize(HEADER_LEN, 0);
        let rd = keep_rd && header.flags().rd;
        let opcode = if keep_rd { header.opcode() } else { Opcode::QUERY };
        write_header(out, header.id(), Flags { qr: true, rd, ..Flags::default() }, opcode, rcode, [0; 4]);
    }

    /// BADVERS (RFC 6891 §6.1.3): the question back, an OPT with the
    /// extended rcode, the query's other flags as NSD leaves them.
    fn badvers(&self, query: &[u8], q: &ParsedQuery, dnssec_ok: bool, out: &mut Vec<u8>) -> Action {
        out.extend_from_slice(&query[..HEADER_LEN]);
        out[2] |= 0x80;
        out[3] &= !0x20 & !0x0F;
        out[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
        out.extend_from_slice(&query[HEADER_LEN..q.question_end]);
        let mut opt = Edns::new(self.config.edns_udp_size, dnssec_ok);
        opt.ext_rcode = (Rcode::BADVERS.0 >> 4) as u8;
        opt.emit(out);
        Action::Reply
    }

    /// Appends our OPT when the query had one (with an Extended DNS Error
    /// if there is one to give) and counts it.
    fn finish_opt(&self, out: &mut Vec<u8>, q: &ParsedQuery, ede: Option<(u16, &'static str)>, rcode: Rcode) {
        let OptStatus::Ok { dnssec_ok, .. } = q.opt else { return };
        let mut opt = Edns::new(self.config.edns_udp_size, dnssec_ok);
        opt.ext_rcode = (rcode.0 >> 4) as u8;
        if let Some((code, text)) = ede {
            let mut data = code.to_be_bytes().to_vec();
            data.extend_from_slice(text.as_bytes());
            opt.options.push((OPTION_EDE, data));
        }
        opt.emit(out);
        let ar = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
        out[10..12].copy_from_slice(&ar.to_be_bytes());
    }
}

/// A bare error response to `query` as NSD sends for opcodes it does not
/// implement: the query's ID, opcode and flags (AD cleared, QR set), the
/// rcode, no sections. For the caller's refusals (a transfer not
/// allowed, an update without a key). False, with `out` empty, when
/// `query` is no query (shorter than a header, or QR set).
pub fn error_reply(query: &[u8], rcode: Rcode, out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(header) = query.get(..HEADER_LEN) else { return false };
    if header[2] & 0x80 != 0 {
        return false;
    }
    let bits = u16::from_be_bytes([header[2], header[3]]);
    let bits = (bits | 0x8000) & !0x0020 & !0x000F | (rcode.0 & 0x0F);
    out.extend_from_slice(&header[0..2]);
    out.extend_from_slice(&bits.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    true
}

fn write_rcode(out: &mut [u8], rcode: Rcode) {
    out[3] = (out[3] & 0xF0) | (rcode.0 & 0x0F) as u8;
}

#[cfg(test)]
mod tests;
