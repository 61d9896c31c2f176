//! Record data for the types we understand, and opaque data for the rest
//! (RFC 3597): parsed from and written to the wire, printed in zone-file
//! form.

use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::name::Name;
use crate::types::RType;
use crate::wire::{Compressor, Reader, WireError, write_name_uncompressed};

/// SOA fields (RFC 1035 §3.3.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server.
    pub mname: Name,
    /// The responsible person's mailbox, as a name.
    pub rname: Name,
    /// The zone's version (RFC 1982 arithmetic).
    pub serial: u32,
    /// Seconds between a secondary's checks.
    pub refresh: u32,
    /// Seconds before a failed check is retried.
    pub retry: u32,
    /// Seconds after which a secondary stops answering without a check.
    pub expire: u32,
    /// Negative-caching TTL cap (RFC 2308).
    pub minimum: u32,
}

/// The data of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// A name server for the owner.
    Ns(Name),
    /// The owner is an alias of this name.
    Cname(Name),
    /// The owner's subtree is an alias of this name's subtree.
    Dname(Name),
    /// A pointer, usually from a reverse name.
    Ptr(Name),
    /// Start of authority.
    Soa(Soa),
    /// Mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail server.
        exchange: Name,
    },
    /// One or more character strings of at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    /// Service location (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among equal priorities.
        weight: u16,
        /// Service port.
        port: u16,
        /// The server (never compressed on the wire).
        target: Name,
    },
    /// Certification authority authorization (RFC 8659).
    Caa {
        /// Bit 7 is "issuer critical".
        flags: u8,
        /// Property tag, 1..=15 ASCII letters and digits.
        tag: Vec<u8>,
        /// Property value, unstructured.
        value: Vec<u8>,
    },
    /// Any other type, as its wire bytes.
    Unknown {
        /// The record type.
        rtype: RType,
        /// The RDATA bytes.
        data: Vec<u8>,
    },
}

impl RData {
    /// The record type this data belongs to.
    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::AAAA,
            RData::Ns(_) => RType::NS,
            RData::Cname(_) => RType::CNAME,
            RData::Dname(_) => RType::DNAME,
            RData::Ptr(_) => RType::PTR,
            RData::Soa(_) => RType::SOA,
            RData::Mx { .. } => RType::MX,
            RData::Txt(_) => RType::TXT,
            RData::Srv { .. } => RType::SRV,
            RData::Caa { .. } => RType::CAA,
            RData::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Parses `rdlen` bytes at the reader's position as data of `rtype`.
    /// Names may be compressed (we accept it for every type that has
    /// names, RFC 3597 §4); the data must use exactly `rdlen` bytes.
    pub fn parse(rtype: RType, r: &mut Reader<'_>, rdlen: usize) -> Result<RData, WireError> {
        let start = r.pos();
        let end = start.checked_add(rdlen).ok_or(WireError::Truncated)?;
        if end > r.message().len() {
            return Err(WireError::Truncated);
        }
        // Names inside must not run past the RDATA: read them from a
        // message cut at its end.
        let mut inner = Reader::new(&r.message()[..end], start);
        let data = RData::parse_inner(rtype, &mut inner, rdlen).map_err(|e| match e {
            WireError::Truncated => WireError::RdataLength,
            e => e,
        })?;
        if inner.pos() != end {
            return Err(WireError::RdataLength);
        }
        *r = Reader::new(r.message(), end);
        Ok(data)
    }

    fn parse_inner(rtype: RType, r: &mut Reader<'_>, rdlen: usize) -> Result<RData, WireError> {
        Ok(match rtype {
            RType::A => {
                let b = r.bytes(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            RType::AAAA => {
                let mut b = [0u8; 16];
                b.copy_from_slice(r.bytes(16)?);
                RData::Aaaa(Ipv6Addr::from(b))
            }
            RType::NS => RData::Ns(r.name()?),
            RType::CNAME => RData::Cname(r.name()?),
            RType::DNAME => RData::Dname(r.name()?),
            RType::PTR => RData::Ptr(r.name()?),
            RType::SOA => RData::Soa(Soa {
                mname: r.name()?,
                rname: r.name()?,
                serial: r.u32()?,
                refresh: r.u32()?,
                retry: r.u32()?,
                expire: r.u32()?,
                minimum: r.u32()?,
            }),
            RType::MX => RData::Mx { preference: r.u16()?, exchange: r.name()? },
            RType::TXT => {
                if rdlen == 0 {
                    return Err(WireError::BadRdata);
                }
                let mut strings = Vec::new();
                while r.remaining() > 0 {
                    let len = usize::from(r.u8()?);
                    strings.push(r.bytes(len)?.to_vec());
                }
                RData::Txt(strings)
            }
            RType::SRV => RData::Srv { priority: r.u16()?, weight: r.u16()?, port: r.u16()?, target: r.name()? },
            RType::CAA => {
                let flags = r.u8()?;
                let tag_len = usize::from(r.u8()?);
                if tag_len == 0 {
                    return Err(WireError::BadRdata);
                }
                let tag = r.bytes(tag_len)?.to_vec();
                if !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(WireError::BadRdata);
                }
                let value = r.bytes(r.remaining())?.to_vec();
                RData::Caa { flags, tag, value }
            }
            RType::OPT | RType::TSIG | RType::ANY | RType::AXFR | RType::IXFR => {
                RData::Unknown { rtype, data: r.bytes(rdlen)?.to_vec() }
            }
            _ => RData::Unknown { rtype, data: r.bytes(rdlen)?.to_vec() },
        })
    }

    /// Parses data given as uncompressed wire bytes (the `\#` generic
    /// form, stored zones): known types become their typed form.
    pub fn from_wire_uncompressed(rtype: RType, data: &[u8]) -> Result<RData, WireError> {
        let mut r = Reader::new(data, 0);
        let parsed = RData::parse(rtype, &mut r, data.len())?;
        // A compression pointer would refer outside these bytes' message.
        let mut check = Vec::with_capacity(data.len());
        parsed.emit(&mut check, None);
        if check != data { Err(WireError::BadRdata) } else { Ok(parsed) }
    }

    /// Appends the RDATA (without RDLENGTH). Names in NS, CNAME, SOA, MX
    /// and PTR are compressed when a compressor is given (RFC 3597 §4
    /// allows it for those types only).
    pub fn emit(&self, out: &mut Vec<u8>, mut compress: Option<&mut Compressor>) {
        let mut name = |out: &mut Vec<u8>, n: &Name| match compress.as_deref_mut() {
            Some(c) => c.write_name(out, n),
            None => write_name_uncompressed(out, n),
        };
        match self {
            RData::A(a) => out.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => name(out, n),
            RData::Dname(n) => write_name_uncompressed(out, n),
            RData::Soa(soa) => {
                name(out, &soa.mname);
                name(out, &soa.rname);
                for v in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            RData::Mx { preference, exchange } => {
                out.extend_from_slice(&preference.to_be_bytes());
                name(out, exchange);
            }
            RData::Txt(strings) => {
                for s in strings {
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            RData::Srv { priority, weight, port, target } => {
                for v in [priority, weight, port] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                write_name_uncompressed(out, target);
            }
            RData::Caa { flags, tag, value } => {
                out.push(*flags);
                out.push(tag.len() as u8);
                out.extend_from_slice(tag);
                out.extend_from_slice(value);
            }
            RData::Unknown { data, .. } => out.extend_from_slice(data),
        }
    }

    /// Uncompressed RDATA length.
    pub fn buffer_len(&self) -> usize {
        match self {
            RData::A(_) => 4,
            RData::Aaaa(_) => 16,
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => n.wire_len(),
            RData::Soa(soa) => soa.mname.wire_len() + soa.rname.wire_len() + 20,
            RData::Mx { exchange, .. } => 2 + exchange.wire_len(),
            RData::Txt(strings) => strings.iter().map(|s| 1 + s.len()).sum(),
            RData::Srv { target, .. } => 6 + target.wire_len(),
            RData::Caa { tag, value, .. } => 2 + tag.len() + value.len(),
            RData::Unknown { data, .. } => data.len(),
        }
    }

    /// The name whose A/AAAA records go in the additional section
    /// (RFC 1035 §3.3: NS, MX; RFC 2782: SRV).
    pub fn additional_target(&self) -> Option<&Name> {
        match self {
            RData::Ns(n) => Some(n),
            RData::Mx { exchange, .. } => Some(exchange),
            RData::Srv { target, .. } => Some(target),
            _ => None,
        }
    }

    /// True when the data is valid for use in a zone: CAA tags and TXT
    /// strings fit their length bytes, and the whole fits RDLENGTH.
    pub fn is_encodable(&self) -> bool {
        let fields_fit = match self {
            RData::Txt(strings) => !strings.is_empty() && strings.iter().all(|s| s.len() <= 255),
            RData::Caa { tag, .. } => !tag.is_empty() && tag.len() <= 255,
            _ => true,
        };
        fields_fit && self.buffer_len() <= 65535
    }
}

/// Writes a character-string in zone-file form: quoted, with `"` and `\`
/// escaped and bytes outside printable ASCII as `\DDD`.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for &b in s {
        match b {
            b'"' | b'\\' => write!(f, "\\{}", char::from(b))?,
            0x20..=0x7e => fmt::Write::write_char(f, char::from(b))?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for RData {
    /// The zone-file (presentation) form of the data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => write!(f, "{n}"),
            RData::Soa(s) => {
                write!(f, "{} {} {} {} {} {} {}", s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum)
            }
            RData::Mx { preference, exchange } => write!(f, "{preference} {exchange}"),
            RData::Txt(strings) => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write_quoted(f, s)?;
                }
                Ok(())
            }
            RData::Srv { priority, weight, port, target } => write!(f, "{priority} {weight} {port} {target}"),
            RData::Caa { flags, tag, value } => {
                write!(f, "{flags} ")?;
                for &b in tag {
                    fmt::Write::write_char(f, char::from(b))?;
                }
                f.write_str(" ")?;
                write_quoted(f, value)
            }
            RData::Unknown { data, .. } => {
                write!(f, "\\# {}", data.len())?;
                if !data.is_empty() {
                    f.write_str(" ")?;
                    for b in data {
                        write!(f, "{b:02x}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(rd: RData) {
        let mut out = Vec::new();
        rd.emit(&mut out, None);
        assert_eq!(out.len(), rd.buffer_len());
        assert_eq!(RData::from_wire_uncompressed(rd.rtype(), &out).unwrap(), rd);
    }

    #[test]
    fn wire_round_trips() {
        let n = |s: &str| Name::from_text(s, None).unwrap();
        round_trip(RData::A(Ipv4Addr::new(192, 0, 2, 1)));
        round_trip(RData::Aaaa("2001:db8::1".parse().unwrap()));
        round_trip(RData::Mx { preference: 10, exchange: n("mail.example.") });
        round_trip(RData::Txt(alloc::vec![b"hello".to_vec(), Vec::new()]));
        round_trip(RData::Srv { priority: 1, weight: 2, port: 443, target: n("svc.example.") });
        round_trip(RData::Caa { flags: 128, tag: b"issue".to_vec(), value: b"ca.example".to_vec() });
        round_trip(RData::Unknown { rtype: RType(65280), data: alloc::vec![1, 2, 3] });
        round_trip(RData::Soa(Soa {
            mname: n("ns.example."),
            rname: n("host.example."),
            serial: 1,
            refresh: 2,
            retry: 3,
            expire: 4,
            minimum: 5,
        }));
    }

    #[test]
    fn rdata_must_fill_rdlength_exactly() {
        assert_eq!(RData::from_wire_uncompressed(RType::A, &[1, 2, 3]), Err(WireError::RdataLength));
        assert_eq!(RData::from_wire_uncompressed(RType::A, &[1, 2, 3, 4, 5]), Err(WireError::RdataLength));
        // An MX whose name runs past RDLENGTH.
        let msg = b"\x00\x0a\x04mail\x00";
        let mut r = Reader::new(msg, 0);
        assert_eq!(RData::parse(RType::MX, &mut r, 5), Err(WireError::RdataLength));
        assert_eq!(RData::from_wire_uncompressed(RType::TXT, &[]), Err(WireError::BadRdata));
    }

    #[test]
    fn presentation_forms() {
        let txt = RData::Txt(alloc::vec![b"a \"q\" \\ \x01".to_vec()]);
        assert_eq!(alloc::format!("{txt}"), "\"a \\\"q\\\" \\\\ \\001\"");
        let unknown = RData::Unknown { rtype: RType(999), data: alloc::vec![0xab, 0x01] };
        assert_eq!(alloc::format!("{unknown}"), "\\# 2 ab01");
    }
}
