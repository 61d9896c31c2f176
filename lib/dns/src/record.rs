//! Resource records and questions.

use alloc::vec::Vec;
use core::fmt;

use crate::name::Name;
use crate::rdata::RData;
use crate::types::{Class, RType};
use crate::wire::{Compressor, Reader, WireError};

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner.
    pub name: Name,
    /// The class (IN for zone data; NONE/ANY in updates).
    pub class: Class,
    /// Time to live, seconds.
    pub ttl: u32,
    /// The data; its variant gives the type.
    pub data: RData,
}

impl Record {
    /// The record's type.
    pub fn rtype(&self) -> RType {
        self.data.rtype()
    }

    /// Reads one record at the reader's position.
    pub fn parse(r: &mut Reader<'_>) -> Result<Record, WireError> {
        let name = r.name()?;
        let rtype = RType(r.u16()?);
        let class = Class(r.u16()?);
        let ttl = r.u32()?;
        let rdlen = usize::from(r.u16()?);
        // Updates carry empty RDATA for "delete RRset" (class ANY) and
        // prerequisites; any type may then have zero bytes.
        let data = if rdlen == 0 && (class == Class::ANY || class == Class::NONE) {
            RData::Unknown { rtype, data: Vec::new() }
        } else {
            RData::parse(rtype, r, rdlen)?
        };
        Ok(Record { name, class, ttl, data })
    }

    /// Appends the record; names compressed when a compressor is given.
    pub fn emit(&self, out: &mut Vec<u8>, mut compress: Option<&mut Compressor>) {
        match compress.as_deref_mut() {
            Some(c) => c.write_name(out, &self.name),
            None => out.extend_from_slice(self.name.as_wire()),
        }
        out.extend_from_slice(&self.rtype().0.to_be_bytes());
        out.extend_from_slice(&self.class.0.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        self.data.emit(out, compress);
        let rdlen = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }

    /// Uncompressed wire length.
    pub fn buffer_len(&self) -> usize {
        self.name.wire_len() + 10 + self.data.buffer_len()
    }
}

impl fmt::Display for Record {
    /// One zone-file line: `owner TTL CLASS TYPE data`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {} {}", self.name, self.ttl, self.class, self.rtype(), self.data)
    }
}

/// One entry of the question section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked about, in the asker's case.
    pub name: Name,
    /// The type asked for.
    pub qtype: RType,
    /// The class asked for.
    pub qclass: Class,
}

impl Question {
    /// Reads one question.
    pub fn parse(r: &mut Reader<'_>) -> Result<Question, WireError> {
        Ok(Question { name: r.name()?, qtype: RType(r.u16()?), qclass: Class(r.u16()?) })
    }

    /// Appends the question.
    pub fn emit(&self, out: &mut Vec<u8>, compress: Option<&mut Compressor>) {
        match compress {
            Some(c) => c.write_name(out, &self.name),
            None => out.extend_from_slice(self.name.as_wire()),
        }
        out.extend_from_slice(&self.qtype.0.to_be_bytes());
        out.extend_from_slice(&self.qclass.0.to_be_bytes());
    }
}
