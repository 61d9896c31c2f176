//! The small numbered vocabularies of DNS: record types, classes,
//! opcodes and response codes.

use core::fmt;

/// A record type (RFC 1035 §3.2.2 and later). Any value is allowed;
/// types we do not know are carried opaquely (RFC 3597).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RType(pub u16);

impl RType {
    /// IPv4 address.
    pub const A: RType = RType(1);
    /// Name server.
    pub const NS: RType = RType(2);
    /// Canonical name.
    pub const CNAME: RType = RType(5);
    /// Start of authority.
    pub const SOA: RType = RType(6);
    /// Pointer.
    pub const PTR: RType = RType(12);
    /// Host information (carried opaquely).
    pub const HINFO: RType = RType(13);
    /// Mail exchange.
    pub const MX: RType = RType(15);
    /// Text strings.
    pub const TXT: RType = RType(16);
    /// IPv6 address.
    pub const AAAA: RType = RType(28);
    /// Service location.
    pub const SRV: RType = RType(33);
    /// Delegation name (RFC 6672).
    pub const DNAME: RType = RType(39);
    /// EDNS(0) pseudo-record.
    pub const OPT: RType = RType(41);
    /// Delegation signer (carried opaquely; matters for answering at cuts).
    pub const DS: RType = RType(43);
    /// DNSSEC key (carried opaquely).
    pub const DNSKEY: RType = RType(48);
    /// Transaction signature (RFC 8945).
    pub const TSIG: RType = RType(250);
    /// Incremental zone transfer.
    pub const IXFR: RType = RType(251);
    /// Full zone transfer.
    pub const AXFR: RType = RType(252);
    /// Any type (query only).
    pub const ANY: RType = RType(255);
    /// Certification authority authorization.
    pub const CAA: RType = RType(257);

    const NAMES: &'static [(RType, &'static str)] = &[
        (RType::A, "A"),
        (RType::NS, "NS"),
        (RType::CNAME, "CNAME"),
        (RType::SOA, "SOA"),
        (RType::PTR, "PTR"),
        (RType::HINFO, "HINFO"),
        (RType::MX, "MX"),
        (RType::TXT, "TXT"),
        (RType::AAAA, "AAAA"),
        (RType::SRV, "SRV"),
        (RType::DNAME, "DNAME"),
        (RType::OPT, "OPT"),
        (RType::DS, "DS"),
        (RType::DNSKEY, "DNSKEY"),
        (RType::TSIG, "TSIG"),
        (RType::IXFR, "IXFR"),
        (RType::AXFR, "AXFR"),
        (RType::ANY, "ANY"),
        (RType::CAA, "CAA"),
    ];

    /// The mnemonic, or `TYPEnnn` (RFC 3597 §5) parsed case-insensitively.
    pub fn from_text(text: &[u8]) -> Option<RType> {
        for (t, name) in RType::NAMES {
            if text.eq_ignore_ascii_case(name.as_bytes()) {
                return Some(*t);
            }
        }
        let digits = strip_prefix_ignore_case(text, b"TYPE")?;
        parse_u16(digits).map(RType)
    }

    /// True for types that exist only in queries or as pseudo-records and
    /// never in a zone.
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255)
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match RType::NAMES.iter().find(|(t, _)| t == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A class. Only IN is served; NONE and ANY appear in updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Class(pub u16);

impl Class {
    /// The Internet.
    pub const IN: Class = Class(1);
    /// Chaos.
    pub const CH: Class = Class(3);
    /// Hesiod.
    pub const HS: Class = Class(4);
    /// NONE (RFC 2136).
    pub const NONE: Class = Class(254);
    /// ANY.
    pub const ANY: Class = Class(255);

    /// `IN`, `CH`, `HS`, `NONE`, `ANY` or `CLASSnnn`.
    pub fn from_text(text: &[u8]) -> Option<Class> {
        for (c, name) in
            [(Class::IN, "IN"), (Class::CH, "CH"), (Class::HS, "HS"), (Class::NONE, "NONE"), (Class::ANY, "ANY")]
        {
            if text.eq_ignore_ascii_case(name.as_bytes()) {
                return Some(c);
            }
        }
        let digits = strip_prefix_ignore_case(text, b"CLASS")?;
        parse_u16(digits).map(Class)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Class::IN => f.write_str("IN"),
            Class::CH => f.write_str("CH"),
            Class::HS => f.write_str("HS"),
            Class::NONE => f.write_str("NONE"),
            Class::ANY => f.write_str("ANY"),
            Class(n) => write!(f, "CLASS{n}"),
        }
    }
}

/// A message's operation (header OPCODE, 4 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Opcode = Opcode(0);
    /// Zone change notification (RFC 1996).
    pub const NOTIFY: Opcode = Opcode(4);
    /// Dynamic update (RFC 2136).
    pub const UPDATE: Opcode = Opcode(5);
}

/// A response code: 4 bits in the header, 8 more in the OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rcode(pub u16);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// The query could not be understood.
    pub const FORMERR: Rcode = Rcode(1);
    /// The server failed.
    pub const SERVFAIL: Rcode = Rcode(2);
    /// The name does not exist.
    pub const NXDOMAIN: Rcode = Rcode(3);
    /// The opcode is not implemented.
    pub const NOTIMP: Rcode = Rcode(4);
    /// Refused by policy (here: not our zone).
    pub const REFUSED: Rcode = Rcode(5);
    /// A name exists that should not (update prerequisite; DNAME result too long).
    pub const YXDOMAIN: Rcode = Rcode(6);
    /// An RRset exists that should not (update prerequisite).
    pub const YXRRSET: Rcode = Rcode(7);
    /// An RRset that should exist does not (update prerequisite).
    pub const NXRRSET: Rcode = Rcode(8);
    /// Not authoritative for the zone (updates), or not authorized (TSIG).
    pub const NOTAUTH: Rcode = Rcode(9);
    /// A name not in the zone (updates).
    pub const NOTZONE: Rcode = Rcode(10);
    /// EDNS version not supported (extended); BADSIG in TSIG's error field.
    pub const BADVERS: Rcode = Rcode(16);
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Decimal digits to a u16, refusing empty input, signs and overflow.
pub(crate) fn parse_u16(digits: &[u8]) -> Option<u16> {
    u16::try_from(parse_u32(digits)?).ok()
}

/// Decimal digits to a u32, refusing empty input, signs and overflow.
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_mnemonics_and_generic_form() {
        assert_eq!(RType::from_text(b"aaaa"), Some(RType::AAAA));
        assert_eq!(RType::from_text(b"TYPE65280"), Some(RType(65280)));
        assert_eq!(RType::from_text(b"TYPE65536"), None);
        assert_eq!(RType::from_text(b"TYPE"), None);
        assert_eq!(alloc::format!("{}", RType(65280)), "TYPE65280");
        assert_eq!(Class::from_text(b"class1"), Some(Class::IN));
    }
}
