//! The 12-byte header, as a checked zero-copy view and as flags.

use crate::types::{Opcode, Rcode};
use crate::wire::WireError;

/// Header length.
pub const HEADER_LEN: usize = 12;

/// The header's single-bit flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// A response.
    pub qr: bool,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The reserved Z bit (must be zero; kept as seen).
    pub z: bool,
    /// Authentic data (RFC 4035).
    pub ad: bool,
    /// Checking disabled (RFC 4035).
    pub cd: bool,
}

impl Flags {
    /// From the header's third and fourth bytes (opcode and rcode ignored).
    pub fn from_bits(bits: u16) -> Flags {
        Flags {
            qr: bits & 0x8000 != 0,
            aa: bits & 0x0400 != 0,
            tc: bits & 0x0200 != 0,
            rd: bits & 0x0100 != 0,
            ra: bits & 0x0080 != 0,
            z: bits & 0x0040 != 0,
            ad: bits & 0x0020 != 0,
            cd: bits & 0x0010 != 0,
        }
    }

    /// The flag bits, with opcode and rcode zero.
    pub fn to_bits(self) -> u16 {
        let mut bits = 0;
        for (on, bit) in [
            (self.qr, 0x8000),
            (self.aa, 0x0400),
            (self.tc, 0x0200),
            (self.rd, 0x0100),
            (self.ra, 0x0080),
            (self.z, 0x0040),
            (self.ad, 0x0020),
            (self.cd, 0x0010),
        ] {
            if on {
                bits |= bit;
            }
        }
        bits
    }
}

/// A checked view of a message's header over untrusted bytes.
#[derive(Clone, Copy, Debug)]
pub struct HeaderView<'a> {
    bytes: &'a [u8],
}

impl<'a> HeaderView<'a> {
    /// Checks that the header is there; nothing past it is looked at.
    pub fn new_checked(bytes: &'a [u8]) -> Result<HeaderView<'a>, WireError> {
        if bytes.len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(HeaderView { bytes }) }
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// Message ID.
    pub fn id(&self) -> u16 {
        self.u16_at(0)
    }

    /// The flag bits.
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.u16_at(2))
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        Opcode((self.bytes[2] >> 3) & 0x0F)
    }

    /// The header's 4-bit rcode.
    pub fn rcode(&self) -> Rcode {
        Rcode(u16::from(self.bytes[3] & 0x0F))
    }

    /// Question count.
    pub fn qdcount(&self) -> u16 {
        self.u16_at(4)
    }

    /// Answer count.
    pub fn ancount(&self) -> u16 {
        self.u16_at(6)
    }

    /// Authority count.
    pub fn nscount(&self) -> u16 {
        self.u16_at(8)
    }

    /// Additional count.
    pub fn arcount(&self) -> u16 {
        self.u16_at(10)
    }
}

/// Writes a header.
pub fn write_header(out: &mut [u8], id: u16, flags: Flags, opcode: Opcode, rcode: Rcode, counts: [u16; 4]) {
    out[0..2].copy_from_slice(&id.to_be_bytes());
    let bits = flags.to_bits() | (u16::from(opcode.0 & 0x0F) << 11) | (rcode.0 & 0x0F);
    out[2..4].copy_from_slice(&bits.to_be_bytes());
    for (i, c) in counts.iter().enumerate() {
        out[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_round_trips() {
        for bit in [0x8000u16, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010] {
            assert_eq!(Flags::from_bits(bit).to_bits(), bit);
        }
        let mut h = [0u8; 12];
        write_header(
            &mut h,
            0xBEEF,
            Flags { qr: true, rd: true, ..Flags::default() },
            Opcode::NOTIFY,
            Rcode(5),
            [1, 2, 3, 4],
        );
        let v = HeaderView::new_checked(&h).unwrap();
        assert_eq!((v.id(), v.opcode(), v.rcode()), (0xBEEF, Opcode::NOTIFY, Rcode(5)));
        assert_eq!((v.qdcount(), v.ancount(), v.nscount(), v.arcount()), (1, 2, 3, 4));
        assert!(v.flags().qr && v.flags().rd && !v.flags().aa);
        assert!(HeaderView::new_checked(&h[..11]).is_err());
    }
}
