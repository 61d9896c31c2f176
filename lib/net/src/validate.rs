//! Checking a received frame before the stack sees it, so malformed
//! frames are dropped *and counted* (smoltcp drops them silently).
//!
//! Checks: the Ethernet header is whole; IPv4 and IPv6 headers are whole,
//! their length fields fit the frame, the IPv4 header checksum is right;
//! TCP, UDP, ICMP and ICMPv6 checksums are right (for unfragmented
//! packets). Built on smoltcp's checked wire views; never panics.

use smoltcp::phy::ChecksumCapabilities;

use crate::checksum;
use smoltcp::wire::{
    ArpPacket, EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv6Packet, IpAddress, IpProtocol, Ipv4Packet,
    Ipv6Packet, TcpPacket, UdpPacket,
};

/// What is wrong with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than its headers.
    Truncated,
    /// A length field that does not fit the frame.
    BadLength,
    /// A checksum that does not match.
    BadChecksum,
    /// An EtherType or IP protocol this stack does not speak.
    Unsupported,
}

/// What the stack may want to know about a well-formed frame before it
/// is processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// For a TCP segment opening a connection (SYN without ACK): its
    /// destination port.
    pub syn_to_port: Option<u16>,
}

/// Checks `frame`; `Ok` when the stack should see it.
pub fn check(frame: &[u8]) -> Result<Summary, Malformed> {
    check_with(frame, false)
}

/// As [`check`], but with TCP and UDP checksums not checked when
/// `transport_checked` (the host computed, or left partial, a checksum
/// of its own making: an offloaded frame's `DATA_VALID` or `NEEDS_CSUM`).
pub fn check_with(frame: &[u8], transport_checked: bool) -> Result<Summary, Malformed> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Malformed::Truncated)?;
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            ArpPacket::new_checked(eth.payload()).map(|_| Summary::default()).map_err(|_| Malformed::Truncated)
        }
        EthernetProtocol::Ipv4 => check_ipv4(eth.payload(), transport_checked),
        EthernetProtocol::Ipv6 => check_ipv6(eth.payload(), transport_checked),
        _ => Err(Malformed::Unsupported),
    }
}

fn length_error(buffer_len: usize, header_len: usize) -> Malformed {
    if buffer_len < header_len { Malformed::Truncated } else { Malformed::BadLength }
}

fn check_ipv4(bytes: &[u8], trusted: bool) -> Result<Summary, Malformed> {
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| length_error(bytes.len(), 20))?;
    if !ip.verify_checksum() {
        return Err(Malformed::BadChecksum);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        // A fragment's transport checksum covers the whole datagram.
        return Ok(Summary::default());
    }
    let (src, dst) = (IpAddress::Ipv4(ip.src_addr()), IpAddress::Ipv4(ip.dst_addr()));
    check_transport(ip.next_header(), ip.payload(), &src, &dst, false, trusted)
}

fn check_ipv6(bytes: &[u8], trusted: bool) -> Result<Summary, Malformed> {
    let ip = Ipv6Packet::new_checked(bytes).map_err(|_| length_error(bytes.len(), 40))?;
    let (src, dst) = (IpAddress::Ipv6(ip.src_addr()), IpAddress::Ipv6(ip.dst_addr()));
    check_transport(ip.next_header(), ip.payload(), &src, &dst, true, trusted)
}

fn check_transport(
    proto: IpProtocol,
    payload: &[u8],
    src: &IpAddress,
    dst: &IpAddress,
    v6: bool,
    trusted: bool,
) -> Result<Summary, Malformed> {
    let caps = ChecksumCapabilities::default();
    let ok = Summary::default();
    match proto {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(payload).map_err(|_| length_error(payload.len(), 20))?;
            if !trusted && !checksum::verify(proto, src, dst, payload) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Summary { syn_to_port: (tcp.syn() && !tcp.ack()).then(|| tcp.dst_port()) })
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(payload).map_err(|_| length_error(payload.len(), 8))?;
            // An IPv4 UDP checksum of zero means "none".
            if trusted || (!v6 && udp.checksum() == 0) {
                return Ok(ok);
            }
            let datagram = &payload[..usize::from(udp.len())];
            checksum::verify(proto, src, dst, datagram).then_some(ok).ok_or(Malformed::BadChecksum)
        }
        IpProtocol::Icmp => {
            let icmp = Icmpv4Packet::new_checked(payload).map_err(|_| Malformed::Truncated)?;
            (!caps.icmpv4.rx() || icmp.verify_checksum()).then_some(ok).ok_or(Malformed::BadChecksum)
        }
        IpProtocol::Icmpv6 => {
            let icmp = Icmpv6Packet::new_checked(payload).map_err(|_| Malformed::Truncated)?;
            match (src, dst) {
                (IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
                    icmp.verify_checksum(s, d).then_some(ok).ok_or(Malformed::BadChecksum)
                }
                _ => Err(Malformed::Unsupported),
            }
        }
        // IPv6 extension headers and other protocols: smoltcp decides.
        _ => Ok(ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + UDP frame to 10.0.0.2:7 with valid checksums.
    fn udp_frame() -> Vec<u8> {
        use smoltcp::wire::{EthernetAddress, EthernetRepr, Ipv4Address, Ipv4Repr, UdpRepr};
        let payload = b"hello";
        let udp = UdpRepr { src_port: 9000, dst_port: 7 };
        let ip = Ipv4Repr {
            src_addr: Ipv4Address::new(10, 0, 0, 1),
            dst_addr: Ipv4Address::new(10, 0, 0, 2),
            next_header: IpProtocol::Udp,
            payload_len: udp.header_len() + payload.len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + udp.header_len() + payload.len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf);
        eth.emit(&mut f);
        let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut p, &ChecksumCapabilities::default());
        let mut u = UdpPacket::new_unchecked(p.payload_mut());
        udp.emit(
            &mut u,
            &ip.src_addr.into(),
            &ip.dst_addr.into(),
            payload.len(),
            |b| b.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
        buf
    }

    #[test]
    fn good_frames_pass_and_bad_ones_are_named() {
        let good = udp_frame();
        assert_eq!(check(&good), Ok(Summary::default()));
        assert_eq!(check(&good[..10]), Err(Malformed::Truncated));
        assert_eq!(check(&good[..20]), Err(Malformed::Truncated));
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 0xff;
        assert_eq!(check(&bad), Err(Malformed::BadChecksum));
        let mut lying = good.clone();
        lying[14 + 2] = 0x05; // IPv4 total length far beyond the frame
        assert_eq!(check(&lying), Err(Malformed::BadLength));
        let mut ip_sum = good.clone();
        ip_sum[14 + 10] ^= 1;
        assert_eq!(check(&ip_sum), Err(Malformed::BadChecksum));
        let mut other = good;
        other[12] = 0x88;
        other[13] = 0xb5;
        assert_eq!(check(&other), Err(Malformed::Unsupported));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1600)) {
            let _ = check(&bytes);
        }

        #[test]
        fn flipping_any_bit_of_a_good_frame_never_panics(at in 0usize..47, bit in 0u8..8) {
            let mut f = udp_frame();
            f[at] ^= 1 << bit;
            let _ = check(&f);
        }
    }
}
