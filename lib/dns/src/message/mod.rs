//! Whole messages: parsed from untrusted bytes into owned sections, and
//! written back with name compression.

mod edns;
mod header;

pub use edns::{Edns, OPTION_EDE};
pub use header::{Flags, HEADER_LEN, HeaderView, write_header};

use alloc::vec::Vec;

use crate::record::{Question, Record};
use crate::types::{Opcode, RType, Rcode};
use crate::wire::{Compressor, Reader, WireError};

/// A parsed message. The OPT record is lifted out of the additional
/// section into [`Message::edns`]; a TSIG record stays last in
/// `additional` (as opaque data) for the TSIG code to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Matches responses to queries.
    pub id: u16,
    /// Header flags.
    pub flags: Flags,
    /// Operation.
    pub opcode: Opcode,
    /// Response code, extended by the OPT record when there is one.
    pub rcode: Rcode,
    /// Question section (zone section in updates).
    pub questions: Vec<Question>,
    /// Answer section (prerequisites in updates).
    pub answers: Vec<Record>,
    /// Authority section (updates in updates).
    pub authority: Vec<Record>,
    /// Additional section, without the OPT record.
    pub additional: Vec<Record>,
    /// EDNS, when an OPT record was present.
    pub edns: Option<Edns>,
}

impl Message {
    /// An empty message with this ID and opcode.
    pub fn new(id: u16, opcode: Opcode) -> Message {
        Message {
            id,
            flags: Flags::default(),
            opcode,
            rcode: Rcode::NOERROR,
            questions: Vec::new(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            edns: None,
        }
    }

    /// Parses a whole message from untrusted bytes. Never panics; all
    /// counts are checked against the bytes actually present.
    pub fn parse(bytes: &[u8]) -> Result<Message, WireError> {
        let header = HeaderView::new_checked(bytes)?;
        let mut r = Reader::new(bytes, HEADER_LEN);
        let mut msg = Message::new(header.id(), header.opcode());
        msg.flags = header.flags();
        msg.rcode = header.rcode();
        for _ in 0..header.qdcount() {
            msg.questions.push(Question::parse(&mut r)?);
        }
        for (count, section) in [(header.ancount(), 0), (header.nscount(), 1), (header.arcount(), 2)] {
            for i in 0..count {
                let start = r.pos();
                if section == 2 && is_opt_at(bytes, start) {
                    if msg.edns.is_some() {
                        return Err(WireError::BadOpt);
                    }
                    r = Reader::new(bytes, start + 3);
                    let edns = Edns::parse_after_type(&mut r)?;
                    msg.rcode = Rcode(msg.rcode.0 | (u16::from(edns.ext_rcode) << 4));
                    msg.edns = Some(edns);
                    continue;
                }
                let record = Record::parse(&mut r)?;
                if record.rtype() == RType::OPT {
                    return Err(WireError::BadOpt);
                }
                if record.rtype() == RType::TSIG && (section != 2 || i + 1 != count) {
                    return Err(WireError::BadTsigPosition);
                }
                match section {
                    0 => msg.answers.push(record),
                    1 => msg.authority.push(record),
                    _ => msg.additional.push(record),
                }
            }
        }
        if r.remaining() > 0 {
            return Err(WireError::TrailingBytes);
        }
        Ok(msg)
    }

    /// Appends the message to `out` with name compression. The OPT record
    /// (carrying the rcode's upper bits) goes last in the additional
    /// section. An rcode over 15 without EDNS is written as its low bits.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        let arcount = self.additional.len() + usize::from(self.edns.is_some());
        let counts = [self.questions.len(), self.answers.len(), self.authority.len(), arcount];
        if counts.iter().any(|&c| c > 65535) {
            return Err(WireError::TooLong);
        }
        out.resize(start + HEADER_LEN, 0);
        write_header(&mut out[start..], self.id, self.flags, self.opcode, self.rcode, counts.map(|c| c as u16));
        let mut c = Compressor::new(start);
        for q in &self.questions {
            q.emit(out, Some(&mut c));
        }
        for record in self.answers.iter().chain(&self.authority).chain(&self.additional) {
            record.emit(out, Some(&mut c));
        }
        if let Some(edns) = &self.edns {
            let mut edns = edns.clone();
            edns.ext_rcode = (self.rcode.0 >> 4) as u8;
            edns.emit(out);
        }
        if out.len() - start > 65535 { Err(WireError::TooLong) } else { Ok(()) }
    }

    /// The uncompressed length: an upper bound on what [`Message::emit`]
    /// writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.questions.iter().map(|q| q.name.wire_len() + 4).sum::<usize>()
            + self.answers.iter().chain(&self.authority).chain(&self.additional).map(Record::buffer_len).sum::<usize>()
            + self.edns.as_ref().map_or(0, Edns::buffer_len)
    }
}

/// True when an OPT record (root owner, type 41) starts at `at`.
fn is_opt_at(bytes: &[u8], at: usize) -> bool {
    bytes.get(at..at + 3) == Some(&[0, 0, 41])
}

#[cfg(test)]
mod tests;
