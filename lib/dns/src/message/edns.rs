//! EDNS(0) (RFC 6891): the OPT pseudo-record's fields.

use alloc::vec::Vec;

use crate::wire::{Reader, WireError};

/// Extended DNS Error option code (RFC 8914).
pub const OPTION_EDE: u16 = 15;

/// The contents of an OPT record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    /// The sender's largest UDP payload.
    pub udp_size: u16,
    /// The upper 8 bits of the 12-bit response code.
    pub ext_rcode: u8,
    /// EDNS version; we speak 0 and answer others with BADVERS.
    pub version: u8,
    /// DNSSEC OK (RFC 3225).
    pub dnssec_ok: bool,
    /// The other 15 flag bits, kept as seen.
    pub z: u16,
    /// Options as (code, data); we act on none but carry them.
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Edns {
    /// An OPT for version 0 with no options.
    pub fn new(udp_size: u16, dnssec_ok: bool) -> Edns {
        Edns { udp_size, ext_rcode: 0, version: 0, dnssec_ok, z: 0, options: Vec::new() }
    }

    /// The fields after the owner name and type: class, TTL, RDLENGTH,
    /// RDATA. Options must tile the RDATA exactly.
    pub(crate) fn parse_after_type(r: &mut Reader<'_>) -> Result<Edns, WireError> {
        let udp_size = r.u16()?;
        let ext_rcode = r.u8()?;
        let version = r.u8()?;
        let flags = r.u16()?;
        let rdlen = usize::from(r.u16()?);
        let mut data = Reader::new(r.bytes(rdlen)?, 0);
        let mut options = Vec::new();
        while data.remaining() > 0 {
            let code = data.u16().map_err(|_| WireError::BadOpt)?;
            let len = usize::from(data.u16().map_err(|_| WireError::BadOpt)?);
            options.push((code, data.bytes(len).map_err(|_| WireError::BadOpt)?.to_vec()));
        }
        Ok(Edns { udp_size, ext_rcode, version, dnssec_ok: flags & 0x8000 != 0, z: flags & 0x7FFF, options })
    }

    /// Appends the whole OPT record.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&self.udp_size.to_be_bytes());
        out.push(self.ext_rcode);
        out.push(self.version);
        let flags = if self.dnssec_ok { 0x8000 } else { 0 } | (self.z & 0x7FFF);
        out.extend_from_slice(&flags.to_be_bytes());
        let len: usize = self.options.iter().map(|(_, d)| 4 + d.len()).sum();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        for (code, data) in &self.options {
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
    }

    /// Length of the whole OPT record.
    pub fn buffer_len(&self) -> usize {
        11 + self.options.iter().map(|(_, d)| 4 + d.len()).sum::<usize>()
    }
}
