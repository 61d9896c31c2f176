//! Zone transfers (RFC 5936): the primary's AXFR response stream, IXFR
//! (RFC 1995) answered as a full AXFR-style transfer (or the SOA alone
//! when the client is current), and the secondary's consumer that checks
//! a stream and builds a zone from it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::message::{Flags, HEADER_LEN, Message, write_header};
use crate::name::Name;
use crate::rdata::RData;
use crate::record::{Question, Record};
use crate::serial;
use crate::types::{Class, Opcode, RType, Rcode};
use crate::wire::{Compressor, WireError};
use crate::zone::{Zone, ZoneProblem};

/// Largest transfer message (TCP's limit) less room for a TSIG record.
pub const MAX_MESSAGE: usize = 65535 - 200;

/// A transfer request: what the primary needs from the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRequest {
    /// Query ID, echoed in every message.
    pub id: u16,
    /// The zone, in the asker's case.
    pub zone: Name,
    /// AXFR or IXFR.
    pub qtype: RType,
    /// For IXFR: the serial the client has.
    pub client_serial: Option<u32>,
}

/// Why a transfer request or stream was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferError {
    /// Bytes that are not a DNS message.
    Wire(WireError),
    /// A request that is not one AXFR/IXFR question, class IN.
    NotATransfer,
    /// A response with another ID, not a response, or an error rcode.
    BadResponse(Rcode),
    /// The stream does not start with the zone's SOA.
    NoLeadingSoa,
    /// An incremental (IXFR) answer; only full transfers are consumed.
    Incremental,
    /// A record the zone cannot take.
    Zone(ZoneProblem),
    /// More records than the limit.
    TooLarge,
    /// Data after the closing SOA.
    AfterEnd,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::Wire(e) => write!(f, "malformed transfer message: {e}"),
            TransferError::NotATransfer => f.write_str("not an AXFR or IXFR request"),
            TransferError::BadResponse(r) => write!(f, "transfer refused or mismatched (rcode {})", r.0),
            TransferError::NoLeadingSoa => f.write_str("transfer does not start with the zone's SOA"),
            TransferError::Incremental => f.write_str("incremental transfer received; only AXFR-style is supported"),
            TransferError::Zone(p) => write!(f, "transferred zone refused: {p}"),
            TransferError::TooLarge => f.write_str("transfer larger than allowed"),
            TransferError::AfterEnd => f.write_str("records after the closing SOA"),
        }
    }
}

impl core::error::Error for TransferError {}

/// Reads an AXFR or IXFR request.
pub fn parse_request(bytes: &[u8]) -> Result<TransferRequest, TransferError> {
    let m = Message::parse(bytes).map_err(TransferError::Wire)?;
    let [q] = m.questions.as_slice() else { return Err(TransferError::NotATransfer) };
    if m.flags.qr || m.opcode != Opcode::QUERY || q.qclass != Class::IN || !matches!(q.qtype, RType::AXFR | RType::IXFR)
    {
        return Err(TransferError::NotATransfer);
    }
    let client_serial = m.authority.iter().find_map(|r| match &r.data {
        RData::Soa(s) => Some(s.serial),
        _ => None,
    });
    Ok(TransferRequest { id: m.id, zone: q.name.clone(), qtype: q.qtype, client_serial })
}

/// An AXFR request (or IXFR when `have` gives the serial we hold).
pub fn build_request(id: u16, zone: &Name, have: Option<(&crate::rdata::Soa, u32)>) -> Vec<u8> {
    let mut m = Message::new(id, Opcode::QUERY);
    let qtype = if have.is_some() { RType::IXFR } else { RType::AXFR };
    m.questions.push(Question { name: zone.clone(), qtype, qclass: Class::IN });
    if let Some((soa, ttl)) = have {
        m.authority.push(Record { name: zone.clone(), class: Class::IN, ttl, data: RData::Soa(soa.clone()) });
    }
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

/// The primary's response stream: call [`AxfrStream::next_message`] until
/// it returns false; each message goes out as one TCP message (sign it
/// with [`crate::tsig::StreamSigner`] when the request was signed).
pub struct AxfrStream<'z> {
    request: TransferRequest,
    records: Box<dyn Iterator<Item = Record> + 'z>,
    pending: Option<Record>,
    first: bool,
    done: bool,
}

impl fmt::Debug for AxfrStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxfrStream").field("request", &self.request).field("done", &self.done).finish()
    }
}

impl<'z> AxfrStream<'z> {
    /// The stream answering `request` from `zone`: SOA, every other
    /// record, SOA again. For IXFR from a client that is current, the SOA
    /// alone (RFC 1995 §2).
    pub fn new(zone: &'z Zone, request: TransferRequest) -> AxfrStream<'z> {
        let soa = zone.records().take(1);
        let current = match (request.qtype, request.client_serial, zone.serial()) {
            (RType::IXFR, Some(theirs), Some(ours)) => !serial::is_newer(ours, theirs),
            _ => false,
        };
        let records: Box<dyn Iterator<Item = Record> + 'z> =
            if current { Box::new(soa) } else { Box::new(zone.records().chain(zone.records().take(1))) };
        AxfrStream { request, records, pending: None, first: true, done: false }
    }

    /// Writes the next message into `out` (cleared first); false when the
    /// stream is over.
    pub fn next_message(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.done {
            return false;
        }
        out.resize(HEADER_LEN, 0);
        let mut c = Compressor::new(0);
        let qd = if self.first {
            let q = Question { name: self.request.zone.clone(), qtype: self.request.qtype, qclass: Class::IN };
            q.emit(out, Some(&mut c));
            1
        } else {
            0
        };
        self.first = false;
        let mut count = 0u16;
        loop {
            let Some(record) = self.pending.take().or_else(|| self.records.next()) else {
                self.done = true;
                break;
            };
            let mark = out.len();
            record.emit(out, Some(&mut c));
            if out.len() > MAX_MESSAGE && count > 0 {
                out.truncate(mark);
                c.forget_from(mark);
                self.pending = Some(record);
                break;
            }
            count += 1;
        }
        let flags = Flags { qr: true, aa: true, ..Flags::default() };
        write_header(out, self.request.id, flags, Opcode::QUERY, Rcode::NOERROR, [qd, count, 0, 0]);
        true
    }
}

/// What the consumer needs next.
#[derive(Debug)]
pub enum Progress {
    /// Feed the next message.
    More,
    /// The transfer is complete: the zone, checked.
    Done(Zone),
    /// The primary says we are current (IXFR answered with its SOA, not
    /// newer than ours).
    UpToDate,
}

/// A secondary's consumer of one transfer stream.
#[derive(Debug)]
pub struct AxfrConsumer {
    id: u16,
    zone: Option<Zone>,
    origin: Name,
    soa: Option<Record>,
    max_records: usize,
    records: usize,
    /// Serial we have, when we asked IXFR.
    have: Option<u32>,
    finished: bool,
}

impl AxfrConsumer {
    /// Expects the answer to request `id` for `origin`, at most
    /// `max_records` records; `have`: the serial we hold if we asked IXFR.
    pub fn new(id: u16, origin: Name, max_records: usize, have: Option<u32>) -> AxfrConsumer {
        AxfrConsumer { id, zone: None, origin, soa: None, max_records, records: 0, have, finished: false }
    }

    /// Takes the next message of the stream.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, TransferError> {
        if self.finished {
            return Err(TransferError::AfterEnd);
        }
        let m = Message::parse(bytes).map_err(TransferError::Wire)?;
        if m.id != self.id || !m.flags.qr || m.rcode != Rcode::NOERROR {
            return Err(TransferError::BadResponse(m.rcode));
        }
        let total = m.answers.len();
        for (i, record) in m.answers.into_iter().enumerate() {
            if self.zone.is_none() {
                let RData::Soa(soa) = &record.data else { return Err(TransferError::NoLeadingSoa) };
                if record.name != self.origin {
                    return Err(TransferError::NoLeadingSoa);
                }
                if let Some(have) = self.have
                    && !serial::is_newer(soa.serial, have)
                    && i + 1 == total
                {
                    self.finished = true;
                    return Ok(Progress::UpToDate);
                }
                let mut zone = Zone::new(self.origin.clone());
                zone.add(record.clone()).map_err(TransferError::Zone)?;
                self.zone = Some(zone);
                self.soa = Some(record);
                self.records = 1;
                continue;
            }
            if record.rtype() == RType::SOA && record.name == self.origin {
                if self.soa.as_ref().is_some_and(|s| s.data == record.data) {
                    if i + 1 != total {
                        return Err(TransferError::AfterEnd);
                    }
                    if self.records == 1 && self.have.is_some() {
                        return Err(TransferError::Incremental);
                    }
                    self.finished = true;
                    let zone = self.zone.take().ok_or(TransferError::NoLeadingSoa)?;
                    zone.check_servable().map_err(TransferError::Zone)?;
                    return Ok(Progress::Done(zone));
                }
                // A different SOA inside the stream: IXFR's incremental form.
                return Err(TransferError::Incremental);
            }
            self.records += 1;
            if self.records > self.max_records {
                return Err(TransferError::TooLarge);
            }
            let zone = self.zone.as_mut().ok_or(TransferError::NoLeadingSoa)?;
            zone.add(record).map_err(TransferError::Zone)?;
        }
        Ok(Progress::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::tests::catalog;

    #[test]
    fn axfr_round_trip() {
        let c = catalog();
        let origin = Name::from_text("example.com.", None).unwrap();
        let zone = c.zone(&origin).unwrap();
        let req = parse_request(&build_request(77, &origin, None)).unwrap();
        assert_eq!(req.qtype, RType::AXFR);
        let mut stream = AxfrStream::new(zone, req);
        let mut consumer = AxfrConsumer::new(77, origin.clone(), 1000, None);
        let mut out = Vec::new();
        let mut messages = 0;
        let mut result = None;
        while stream.next_message(&mut out) {
            messages += 1;
            let m = Message::parse(&out).unwrap();
            assert_eq!(m.questions.len(), usize::from(messages == 1));
            match consumer.feed(&out).unwrap() {
                Progress::More => {}
                Progress::Done(z) => result = Some(z),
                Progress::UpToDate => panic!("not asked"),
            }
        }
        let got = result.unwrap();
        assert_eq!(got.records().collect::<Vec<_>>(), zone.records().collect::<Vec<_>>());
        assert!(consumer.feed(&out).is_err(), "nothing after the end");
    }

    #[test]
    fn ixfr_from_a_current_client_gets_the_soa_alone() {
        let c = catalog();
        let origin = Name::from_text("example.com.", None).unwrap();
        let zone = c.zone(&origin).unwrap();
        let (soa, ttl) = zone.soa().unwrap();
        let req = parse_request(&build_request(5, &origin, Some((soa, ttl)))).unwrap();
        assert_eq!((req.qtype, req.client_serial), (RType::IXFR, Some(1)));
        let mut stream = AxfrStream::new(zone, req);
        let mut out = Vec::new();
        assert!(stream.next_message(&mut out));
        assert_eq!(Message::parse(&out).unwrap().answers.len(), 1);
        let mut consumer = AxfrConsumer::new(5, origin, 10, Some(1));
        assert!(matches!(consumer.feed(&out), Ok(Progress::UpToDate)));
        assert!(!stream.next_message(&mut out));
    }

    #[test]
    fn consumer_refusals() {
        let origin = Name::from_text("example.com.", None).unwrap();
        let c = catalog();
        let zone = c.zone(&origin).unwrap();
        let mut stream = AxfrStream::new(zone, parse_request(&build_request(1, &origin, None)).unwrap());
        let mut out = Vec::new();
        stream.next_message(&mut out);
        assert_eq!(
            AxfrConsumer::new(2, origin.clone(), 100, None).feed(&out).unwrap_err(),
            TransferError::BadResponse(Rcode(0))
        );
        assert_eq!(AxfrConsumer::new(1, origin.clone(), 3, None).feed(&out).unwrap_err(), TransferError::TooLarge);
        let other = Name::from_text("example.net.", None).unwrap();
        assert_eq!(AxfrConsumer::new(1, other, 100, None).feed(&out).unwrap_err(), TransferError::NoLeadingSoa);
    }
}
