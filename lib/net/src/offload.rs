//! Offloaded frames: 64 KiB TCP segments across the device, cut to the
//! wire's size (TSO) or joined from it (GRO) by the host, as the Linux TAP
//! does for virtio-net guests.
//!
//! smoltcp sizes its segments by the peer's MSS, which the peer derives
//! from the wire's MTU, so on its own it would never send a large segment.
//! Here, between smoltcp and the device:
//! - a peer's SYN has its MSS option raised to 65535 before smoltcp reads
//!   it, and the real value is remembered per connection;
//! - a segment smoltcp sends larger than the wire allows goes out as one
//!   offloaded frame whose `gso_size` keeps every piece within that real
//!   MSS and the wire's MTU;
//! - our own SYNs announce the MSS of the wire (smoltcp would announce
//!   one from the 64 KiB device MTU), so peers never send more than the
//!   link carries;
//! - TCP and UDP checksums are left to the host (`NEEDS_CSUM`), which skips
//!   them for its own sockets and computes them, cheaper than we can, for
//!   the wire.

use alloc::collections::{BTreeMap, VecDeque};

use oasis_devices::{OffloadHeader, net_offload};
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, Ipv6Packet, checksum};

/// The least MSS a peer's SYN is raised for (RFC 9293's default). A peer
/// announcing less keeps its option as it is: smoltcp then never sends it
/// a larger segment, and nothing is cut so small that one frame becomes
/// thousands of packets.
const MIN_RAISED_MSS: u16 = 536;

/// Connections whose peer MSS is remembered, at most; past it the oldest
/// is forgotten (its segments are then cut at the protocol's default MSS:
/// slower, never wrong).
const MAX_PEERS: usize = 4096;

/// One end of a connection as seen from here: remote address, remote port,
/// local port.
type Conn = ([u8; 16], u16, u16);

/// The MSS each peer announced in its SYN.
#[derive(Debug, Default)]
pub(crate) struct PeerMss {
    mss: BTreeMap<Conn, u16>,
    order: VecDeque<Conn>,
}

impl PeerMss {
    fn insert(&mut self, conn: Conn, mss: u16) {
        if self.mss.insert(conn, mss).is_none() {
            self.order.push_back(conn);
            if self.order.len() > MAX_PEERS
                && let Some(old) = self.order.pop_front()
            {
                self.mss.remove(&old);
            }
        }
    }

    fn get(&self, conn: &Conn) -> Option<u16> {
        self.mss.get(conn).copied()
    }
}

fn addr_key(addr: &IpAddress) -> [u8; 16] {
    match addr {
        IpAddress::Ipv4(a) => a.to_ipv6_mapped().octets(),
        IpAddress::Ipv6(a) => a.octets(),
    }
}

/// A TCP or UDP packet inside a frame: where its parts are.
pub(crate) struct Transport {
    pub(crate) v6: bool,
    pub(crate) proto: IpProtocol,
    pub(crate) src: IpAddress,
    pub(crate) dst: IpAddress,
    /// Offset of the transport header in the frame.
    pub(crate) start: usize,
    /// Bytes of transport header and payload.
    pub(crate) len: usize,
}

impl Transport {
    /// Where the checksum field is in the TCP or UDP header.
    pub(crate) fn checksum_at(&self) -> usize {
        if self.proto == IpProtocol::Tcp { 16 } else { 6 }
    }
}

/// Finds the TCP or UDP packet in an Ethernet `frame` (IPv4 unfragmented,
/// or IPv6 with TCP or UDP as the first next header, as smoltcp sends).
pub(crate) fn transport(frame: &[u8]) -> Option<Transport> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (v6, proto, src, dst, header, total) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if ip.more_frags() || ip.frag_offset() != 0 {
                return None;
            }
            let header = usize::from(ip.header_len());
            (false, ip.next_header(), ip.src_addr().into(), ip.dst_addr().into(), header, usize::from(ip.total_len()))
        }
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            (true, ip.next_header(), ip.src_addr().into(), ip.dst_addr().into(), 40, 40 + usize::from(ip.payload_len()))
        }
        _ => return None,
    };
    if !matches!(proto, IpProtocol::Tcp | IpProtocol::Udp) || total < header {
        return None;
    }
    let start = 14 + header;
    let len = total - header;
    (start + len <= frame.len()).then_some(Transport { v6, proto, src, dst, start, len })
}

/// The MSS option's value field in a TCP header, if the options hold one.
fn mss_option(tcp: &mut [u8]) -> Option<&mut [u8]> {
    let header = usize::from(tcp.get(12)? >> 4) * 4;
    let mut at = 20;
    while at < header.min(tcp.len()) {
        match tcp[at] {
            0 => return None,
            1 => at += 1,
            kind => {
                let len = usize::from(*tcp.get(at + 1)?);
                if len < 2 {
                    return None;
                }
                if kind == 2 && len == 4 && at + 4 <= header {
                    return tcp.get_mut(at + 2..at + 4);
                }
                at += len;
            }
        }
    }
    None
}

const SYN: u8 = 0x02;

/// For a received frame (already checked): a peer's SYN has its MSS
/// remembered and raised to 65535, so smoltcp sends it large segments.
/// The TCP checksum is not fixed: smoltcp is told not to check it (the
/// frame checks did, before).
pub(crate) fn raise_peer_mss(frame: &mut [u8], peers: &mut PeerMss) {
    let Some(t) = transport(frame) else { return };
    if t.proto != IpProtocol::Tcp {
        return;
    }
    let tcp = &mut frame[t.start..t.start + t.len];
    if tcp.len() < 20 || tcp[13] & SYN == 0 {
        return;
    }
    let conn = (addr_key(&t.src), u16::from_be_bytes([tcp[0], tcp[1]]), u16::from_be_bytes([tcp[2], tcp[3]]));
    if let Some(field) = mss_option(tcp) {
        let mss = u16::from_be_bytes([field[0], field[1]]);
        if mss >= MIN_RAISED_MSS {
            field.copy_from_slice(&u16::MAX.to_be_bytes());
            peers.insert(conn, mss);
        }
    }
}

/// Why a frame is not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unsendable {
    /// Not TCP, and larger than the wire carries.
    Oversize,
}

/// Prepares a frame smoltcp built (with a device MTU of 64 KiB) for an
/// offloading device whose wire carries `link_mtu`-byte IP packets:
/// clamps the MSS our SYNs announce, leaves TCP and UDP checksums to the
/// host, and asks the host to cut TCP segments larger than the wire. Other
/// frames larger than the wire are refused.
pub(crate) fn prepare_tx(frame: &mut [u8], link_mtu: usize, peers: &PeerMss) -> Result<OffloadHeader, Unsendable> {
    let mut header = OffloadHeader::default();
    let untouched = if frame.len() > link_mtu + 14 { Err(Unsendable::Oversize) } else { Ok(header) };
    let Some(t) = transport(frame) else { return untouched };
    let ip_header = t.start - 14;
    let segment = &mut frame[t.start..t.start + t.len];
    let gso = match t.proto {
        IpProtocol::Tcp if segment.len() >= 20 => {
            let tcp_header = (usize::from(segment[12] >> 4) * 4).clamp(20, segment.len());
            let wire_payload = link_mtu.saturating_sub(ip_header + tcp_header);
            if segment[13] & SYN != 0
                && let Some(field) = mss_option(segment)
            {
                let ours = u16::from_be_bytes([field[0], field[1]]);
                let wire = u16::try_from(link_mtu.saturating_sub(ip_header + 20)).unwrap_or(u16::MAX);
                field.copy_from_slice(&ours.min(wire).to_be_bytes());
            }
            let payload = segment.len() - tcp_header;
            let conn = (
                addr_key(&t.dst),
                u16::from_be_bytes([segment[2], segment[3]]),
                u16::from_be_bytes([segment[0], segment[1]]),
            );
            // RFC 9293 3.7.1: without an MSS option, 536 (IPv4) or 1220
            // (IPv6); the MSS counts no TCP options. Any segment over what
            // the peer takes is cut, not only ones over the wire's MTU.
            let peer = usize::from(peers.get(&conn).unwrap_or(if t.v6 { 1220 } else { 536 }));
            let limit = wire_payload.min(peer.saturating_sub(tcp_header - 20));
            let gso = if payload > limit {
                if limit == 0 {
                    return Err(Unsendable::Oversize);
                }
                Some(limit)
            } else {
                None
            };
            gso.map(|size| (size, tcp_header))
        }
        IpProtocol::Udp if segment.len() >= 8 && untouched.is_ok() => None,
        _ => return untouched,
    };
    let checksum_at = t.checksum_at();
    let segment = &mut frame[t.start..t.start + t.len];
    // The pseudo-header's sum, not complemented: the host adds the rest
    // (Linux's CHECKSUM_PARTIAL).
    let Ok(len) = u32::try_from(segment.len()) else { return Err(Unsendable::Oversize) };
    let partial = checksum::pseudo_header(&t.src, &t.dst, t.proto, len);
    segment[checksum_at..checksum_at + 2].copy_from_slice(&partial.to_be_bytes());
    header.flags = net_offload::NEEDS_CSUM;
    header.csum_start = t.start as u16;
    header.csum_offset = checksum_at as u16;
    if let Some((size, tcp_header)) = gso {
        header.gso_type = if t.v6 { net_offload::GSO_TCPV6 } else { net_offload::GSO_TCPV4 };
        header.gso_size = size as u16;
        header.hdr_len = (t.start + tcp_header) as u16;
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetRepr, Ipv4Address, Ipv4Repr, Ipv6Address, Ipv6Repr, TcpControl, TcpPacket, TcpRepr,
        TcpSeqNumber,
    };

    use super::*;

    const PEER4: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
    const US4: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

    /// A TCP frame from `src` to `dst` (ports 40000 → 7 when `inbound`, else
    /// 7 → 40000) with `payload`, SYN with `mss` when given, checksums
    /// right.
    fn tcp_frame(v6: bool, inbound: bool, mss: Option<u16>, payload: &[u8]) -> Vec<u8> {
        let (src_port, dst_port) = if inbound { (40000, 7) } else { (7, 40000) };
        let tcp = TcpRepr {
            src_port,
            dst_port,
            control: if mss.is_some() { TcpControl::Syn } else { TcpControl::Psh },
            seq_number: TcpSeqNumber(1000),
            ack_number: None,
            window_len: 1000,
            window_scale: None,
            max_seg_size: mss,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let caps = ChecksumCapabilities::default();
        let (src, dst): (IpAddress, IpAddress) = match (v6, inbound) {
            (false, true) => (PEER4.into(), US4.into()),
            (false, false) => (US4.into(), PEER4.into()),
            (true, true) => (
                Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
            ),
            (true, false) => (
                Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
                Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
            ),
        };
        let ip_len = if v6 { 40 } else { 20 };
        let mut buf = vec![0u8; 14 + ip_len + tcp.buffer_len()];
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: if v6 { EthernetProtocol::Ipv6 } else { EthernetProtocol::Ipv4 },
        };
        eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
        match (src, dst) {
            (IpAddress::Ipv4(s), IpAddress::Ipv4(d)) => {
                let ip = Ipv4Repr {
                    src_addr: s,
                    dst_addr: d,
                    next_header: IpProtocol::Tcp,
                    payload_len: tcp.buffer_len(),
                    hop_limit: 64,
                };
                ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[14..]), &caps);
            }
            (IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
                let ip = Ipv6Repr {
                    src_addr: s,
                    dst_addr: d,
                    next_header: IpProtocol::Tcp,
                    payload_len: tcp.buffer_len(),
                    hop_limit: 64,
                };
                ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf[14..]));
            }
            _ => unreachable!(),
        }
        tcp.emit(&mut TcpPacket::new_unchecked(&mut buf[14 + ip_len..]), &src, &dst, &caps);
        buf
    }

    /// What the host does with a `NEEDS_CSUM` frame: sums from
    /// `csum_start` to the end and stores the complement at the offset.
    fn complete(frame: &mut [u8], header: &OffloadHeader) {
        let start = usize::from(header.csum_start);
        let at = start + usize::from(header.csum_offset);
        let sum = !crate::checksum::data(&frame[start..]);
        frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }

    fn mss_of(frame: &mut [u8]) -> Option<u16> {
        let t = transport(frame)?;
        mss_option(&mut frame[t.start..t.start + t.len]).map(|f| u16::from_be_bytes([f[0], f[1]]))
    }

    #[test]
    fn a_peers_syn_is_raised_and_its_mss_remembered() {
        for v6 in [false, true] {
            let mut peers = PeerMss::default();
            let mut syn = tcp_frame(v6, true, Some(1460), b"");
            raise_peer_mss(&mut syn, &mut peers);
            assert_eq!(mss_of(&mut syn), Some(u16::MAX));
            assert_eq!(peers.mss.len(), 1);
            // Not a SYN, or no option: untouched.
            let mut data = tcp_frame(v6, true, None, b"data");
            let before = data.clone();
            raise_peer_mss(&mut data, &mut peers);
            assert_eq!(data, before);
        }
    }

    #[test]
    fn large_segments_are_cut_at_the_peers_mss_and_the_wires() {
        for v6 in [false, true] {
            let mut peers = PeerMss::default();
            raise_peer_mss(&mut tcp_frame(v6, true, Some(1200), b""), &mut peers);
            let payload: Vec<u8> = (0..60_000u32).map(|i| i as u8).collect();
            let mut frame = tcp_frame(v6, false, None, &payload);
            let header = prepare_tx(&mut frame, 1500, &peers).unwrap();
            let ip = if v6 { 40 } else { 20 };
            assert_eq!(header.gso_type, if v6 { net_offload::GSO_TCPV6 } else { net_offload::GSO_TCPV4 });
            assert_eq!(header.gso_size, 1200, "the peer's MSS, smaller than the wire's");
            assert_eq!(usize::from(header.hdr_len), 14 + ip + 20);
            assert_eq!(usize::from(header.csum_start), 14 + ip);
            assert_eq!(header.csum_offset, 16);
            assert_eq!(header.flags, net_offload::NEEDS_CSUM);
            // Completed as the host would, the checksum is right.
            complete(&mut frame, &header);
            assert!(crate::validate::check(&frame).is_ok());
            // A peer with no remembered MSS gets the protocol's default;
            // the wire's MTU caps a larger one.
            let mut other = tcp_frame(v6, false, None, &payload);
            other[14 + ip - 1] ^= 1; // another peer address, last byte
            let unknown = prepare_tx(&mut other, 1500, &peers);
            assert_eq!(unknown.map(|h| h.gso_size), Ok(if v6 { 1220 } else { 536 }));
            let mut big = PeerMss::default();
            raise_peer_mss(&mut tcp_frame(v6, true, Some(8960), b""), &mut big);
            let mut frame = tcp_frame(v6, false, None, &payload);
            assert_eq!(prepare_tx(&mut frame, 1500, &big).map(|h| h.gso_size), Ok(1500 - ip as u16 - 20));
        }
    }

    #[test]
    fn a_segment_over_the_peers_mss_is_cut_even_under_the_wires() {
        let mut peers = PeerMss::default();
        raise_peer_mss(&mut tcp_frame(false, true, Some(1200), b""), &mut peers);
        let mut frame = tcp_frame(false, false, None, &[7; 1400]);
        let header = prepare_tx(&mut frame, 1500, &peers).unwrap();
        assert_eq!((header.gso_type, header.gso_size), (net_offload::GSO_TCPV4, 1200));
        // Within the peer's MSS: one segment.
        let mut frame = tcp_frame(false, false, None, &[7; 1200]);
        assert_eq!(prepare_tx(&mut frame, 1500, &peers).unwrap().gso_type, net_offload::GSO_NONE);
    }

    #[test]
    fn a_tiny_mss_is_neither_raised_nor_remembered() {
        for mss in [0, 1, 48, 535] {
            let mut peers = PeerMss::default();
            let mut syn = tcp_frame(false, true, Some(mss), b"");
            raise_peer_mss(&mut syn, &mut peers);
            assert_eq!(mss_of(&mut syn), Some(mss));
            assert!(peers.mss.is_empty());
        }
    }

    #[test]
    fn small_segments_only_leave_the_checksum_to_the_host() {
        let peers = PeerMss::default();
        let mut frame = tcp_frame(false, false, None, b"hello");
        let header = prepare_tx(&mut frame, 1500, &peers).unwrap();
        assert_eq!(header.gso_type, net_offload::GSO_NONE);
        assert_eq!(header.flags, net_offload::NEEDS_CSUM);
        complete(&mut frame, &header);
        assert!(crate::validate::check(&frame).is_ok());
    }

    #[test]
    fn our_syns_announce_the_wires_mss() {
        for (v6, wire) in [(false, 1460), (true, 1440)] {
            let mut syn = tcp_frame(v6, false, Some(65495), b"");
            let header = prepare_tx(&mut syn, 1500, &PeerMss::default()).unwrap();
            assert_eq!(mss_of(&mut syn), Some(wire));
            complete(&mut syn, &header);
            assert!(crate::validate::check(&syn).is_ok());
        }
    }

    #[test]
    fn other_frames_larger_than_the_wire_are_refused() {
        let mut frame = tcp_frame(false, false, None, &[0; 3000]);
        frame[14 + 9] = 17; // now "UDP"
        assert_eq!(prepare_tx(&mut frame, 1500, &PeerMss::default()), Err(Unsendable::Oversize));
        let mut arp = vec![0u8; 2000];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(prepare_tx(&mut arp, 1500, &PeerMss::default()), Err(Unsendable::Oversize));
        assert!(prepare_tx(&mut arp[..60], 1500, &PeerMss::default()).is_ok());
    }

    #[test]
    fn peers_are_forgotten_oldest_first_past_the_limit() {
        let mut peers = PeerMss::default();
        for i in 0..(MAX_PEERS + 10) as u32 {
            peers.insert(([0; 16], (i % 65536) as u16, (i / 65536) as u16), 1000);
        }
        assert_eq!(peers.mss.len(), MAX_PEERS);
        assert_eq!(peers.get(&([0; 16], 0, 0)), None);
        assert_eq!(peers.get(&([0; 16], (MAX_PEERS + 9) as u16, 0)), Some(1000));
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2000), mtu in 0usize..70_000) {
            let mut peers = PeerMss::default();
            let mut copy = bytes.clone();
            raise_peer_mss(&mut copy, &mut peers);
            let _ = prepare_tx(&mut bytes, mtu, &peers);
        }

        #[test]
        fn flipped_bits_in_a_syn_never_panic(at in 0usize..66, bit in 0u8..8, v6 in any::<bool>()) {
            let mut syn = tcp_frame(v6, true, Some(1460), b"");
            if at < syn.len() {
                syn[at] ^= 1 << bit;
            }
            let mut peers = PeerMss::default();
            raise_peer_mss(&mut syn, &mut peers);
            let _ = prepare_tx(&mut syn, 1500, &peers);
        }
    }
}
