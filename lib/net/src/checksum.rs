//! The Internet checksum (RFC 1071) for TCP and UDP, received and sent.
//!
//! smoltcp's `checksum::data` adds one 16-bit word at a time; guests are
//! built without SSE, so nothing vectorises it, and under bulk TCP it was
//! a tenth of the guest's time (`perf` on the spt tender). This one adds
//! 64 bits at a time into a wide accumulator (RFC 1071's "parallel
//! summation" and "deferred carries"), then folds once. Pseudo-headers
//! and combining stay smoltcp's.

use smoltcp::wire::{IpAddress, IpProtocol, checksum};

/// The ones'-complement sum of `data` as big-endian 16-bit words (an odd
/// last byte padded with zero), folded to 16 bits: what smoltcp's
/// `checksum::data` returns, faster.
pub fn data(data: &[u8]) -> u16 {
    // Sums of native-endian words equal the byte-swapped sum of
    // big-endian ones (RFC 1071 2(B)), so swap once at the end.
    let (chunks, mut rest) = data.as_chunks::<8>();
    let mut acc: u64 = 0;
    for chunk in chunks {
        let word = u64::from_ne_bytes(*chunk);
        // Two 32-bit halves: each add is below 2^33, so the accumulator
        // cannot overflow for any slice that fits in memory.
        acc += (word & 0xffff_ffff) + (word >> 32);
    }
    if let Some((four, more)) = rest.split_first_chunk::<4>() {
        acc += u64::from(u32::from_ne_bytes(*four));
        rest = more;
    }
    if let Some((two, more)) = rest.split_first_chunk::<2>() {
        acc += u64::from(u16::from_ne_bytes(*two));
        rest = more;
    }
    if let [last] = rest {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 bits.
    u16::from_be(acc as u16)
}

/// Whether the TCP or UDP `segment` (header and payload, as many bytes as
/// the IP or UDP length says) between `src` and `dst` sums to all ones.
pub fn verify(proto: IpProtocol, src: &IpAddress, dst: &IpAddress, segment: &[u8]) -> bool {
    if cfg!(fuzzing) {
        // As smoltcp does: let fuzzers past the checksum.
        return true;
    }
    let Ok(len) = u32::try_from(segment.len()) else { return false };
    checksum::combine(&[checksum::pseudo_header(src, dst, proto, len), data(segment)]) == !0
}

/// Fills the checksum of the TCP or UDP `segment`, whose checksum field is
/// at `at`; the field's old contents do not matter.
pub fn fill(proto: IpProtocol, src: &IpAddress, dst: &IpAddress, segment: &mut [u8], at: usize) {
    let Ok(len) = u32::try_from(segment.len()) else { return };
    let Some(field) = segment.get_mut(at..at + 2) else { return };
    field.fill(0);
    let mut sum = !checksum::combine(&[checksum::pseudo_header(src, dst, proto, len), data(segment)]);
    // A UDP checksum of zero means "none was computed" (RFC 768).
    if sum == 0 && proto == IpProtocol::Udp {
        sum = 0xffff;
    }
    segment[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use smoltcp::wire::checksum;

    proptest! {
        #[test]
        fn matches_smoltcp(bytes in proptest::collection::vec(any::<u8>(), 0..3000), skip in 0usize..8) {
            // Every length and every start alignment.
            let bytes = &bytes[skip.min(bytes.len())..];
            prop_assert_eq!(super::data(bytes), checksum::data(bytes));
        }

        #[test]
        fn all_ones_sums_fold(len in 0usize..70_000) {
            let bytes = vec![0xff; len];
            prop_assert_eq!(super::data(&bytes), checksum::data(&bytes));
        }
    }

    #[test]
    fn rfc_1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(super::data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
    }
}
