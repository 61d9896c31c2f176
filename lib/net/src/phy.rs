//! smoltcp's `Device` over an Oasis [`NetDevice`], with frame checks and
//! counters.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use oasis_devices::{NetDevice, OffloadHeader, net_offload};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::checksum;
use crate::offload::{self, PeerMss};
use crate::validate::{self, Malformed};

/// What the stack has seen and done, frame by frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames received and handed to the stack.
    pub rx_frames: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Frames dropped because the device was busy.
    pub tx_busy: u64,
    /// Received frames dropped: shorter than their headers.
    pub dropped_truncated: u64,
    /// Received frames dropped: a length field that does not fit.
    pub dropped_bad_length: u64,
    /// Received frames dropped: a checksum that does not match.
    pub dropped_bad_checksum: u64,
    /// Received frames ignored: a protocol this stack does not speak.
    pub dropped_unsupported: u64,
    /// Connection requests dropped because every listening socket of the
    /// port was in use (the client retries, as with a full Linux backlog).
    pub syn_backlog_full: u64,
    /// Device failures (host side).
    pub device_errors: u64,
    /// Frames not sent: larger than the wire carries (only TCP segments
    /// may be, on an offloading device).
    pub tx_oversize: u64,
}

impl NetStats {
    /// Malformed frames dropped (not counting unsupported protocols).
    pub fn malformed(&self) -> u64 {
        self.dropped_truncated + self.dropped_bad_length + self.dropped_bad_checksum
    }

    fn count(&mut self, m: Malformed) {
        match m {
            Malformed::Truncated => self.dropped_truncated += 1,
            Malformed::BadLength => self.dropped_bad_length += 1,
            Malformed::BadChecksum => self.dropped_bad_checksum += 1,
            Malformed::Unsupported => self.dropped_unsupported += 1,
        }
    }
}

impl fmt::Display for NetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rx {} tx {} (busy {}, oversize {}); dropped: truncated {}, bad length {}, bad checksum {}, unsupported {}, backlog full {}; device errors {}",
            self.rx_frames,
            self.tx_frames,
            self.tx_busy,
            self.tx_oversize,
            self.dropped_truncated,
            self.dropped_bad_length,
            self.dropped_bad_checksum,
            self.dropped_unsupported,
            self.syn_backlog_full,
            self.device_errors
        )
    }
}

/// How often dropped frames are reported in the log, at most.
const DROP_REPORT_INTERVAL_MS: i64 = 1000;

pub(crate) struct Phy<D> {
    pub(crate) dev: D,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Largest Ethernet frame smoltcp may build (no offload header).
    mtu: usize,
    /// Offloaded frames: each starts with an [`OffloadHeader`], and TCP
    /// segments may be 64 KiB (see [`offload`]).
    offload: bool,
    /// The wire's MTU (largest IP packet).
    link_mtu: usize,
    peers: PeerMss,
    pub(crate) stats: NetStats,
    /// Listening sockets free per listened port; a SYN to a listened port
    /// with none free is dropped rather than answered with a reset. The
    /// stack refreshes it after every batch of frames.
    pub(crate) syn_gate: BTreeMap<u16, usize>,
    reported_malformed: u64,
    last_report_ms: i64,
}

impl<D: NetDevice> Phy<D> {
    pub(crate) fn new(dev: D) -> Phy<D> {
        let info = dev.info();
        let frame = info.max_frame();
        let prefix = if info.offload { net_offload::HEADER_LEN } else { 0 };
        Phy {
            dev,
            rx: vec![0; frame],
            tx: vec![0; frame],
            mtu: frame - prefix,
            offload: info.offload,
            link_mtu: usize::from(info.mtu),
            peers: PeerMss::default(),
            stats: NetStats::default(),
            syn_gate: BTreeMap::new(),
            reported_malformed: 0,
            last_report_ms: i64::MIN / 2,
        }
    }

    /// Whether frames are offloaded (64 KiB TCP segments).
    pub(crate) fn offload(&self) -> bool {
        self.offload
    }

    /// Sends what the device holds back: the stack has nothing more to
    /// send for now.
    pub(crate) fn flush(&mut self) {
        if self.dev.flush().is_err() {
            self.stats.device_errors += 1;
        }
    }

    /// How long until drops not yet logged may be, so the driver wakes for
    /// them even when no more frames arrive; `None` when all are logged.
    pub(crate) fn report_delay(&self, now: Instant) -> Option<smoltcp::time::Duration> {
        if self.stats.malformed() == self.reported_malformed {
            return None;
        }
        let wait = (self.last_report_ms + DROP_REPORT_INTERVAL_MS - now.total_millis()).max(0);
        Some(smoltcp::time::Duration::from_millis(wait as u64))
    }

    /// Checks the `n`-byte frame in the receive buffer (after its offload
    /// header, if any): a checksum the host left partial or vouched for
    /// is not checked again.
    fn check(&self, n: usize) -> Result<validate::Summary, Malformed> {
        // A device's length is believed no further than its buffer.
        if n > self.rx.len() {
            return Err(Malformed::BadLength);
        }
        if !self.offload {
            return validate::check(&self.rx[..n]);
        }
        let header = OffloadHeader::read(&self.rx[..n]).ok_or(Malformed::Truncated)?;
        let trusted = header.flags & (net_offload::NEEDS_CSUM | net_offload::DATA_VALID) != 0;
        validate::check_with(&self.rx[net_offload::HEADER_LEN..n], trusted)
    }

    /// Logs dropped frames, at most once per interval.
    fn report_drops(&mut self, now: Instant) {
        let malformed = self.stats.malformed();
        if malformed != self.reported_malformed && now.total_millis() - self.last_report_ms >= DROP_REPORT_INTERVAL_MS {
            log::warn!(
                "dropped {} malformed frames so far (truncated {}, bad length {}, bad checksum {})",
                malformed,
                self.stats.dropped_truncated,
                self.stats.dropped_bad_length,
                self.stats.dropped_bad_checksum
            );
            self.reported_malformed = malformed;
            self.last_report_ms = now.total_millis();
        }
    }
}

pub(crate) struct Rx<'a> {
    frame: &'a [u8],
}

pub(crate) struct Tx<'a, D> {
    dev: &'a mut D,
    /// The whole frame buffer, the offload header's room first (the
    /// device may swap it for another when sending).
    buf: &'a mut Vec<u8>,
    stats: &'a mut NetStats,
    /// How the frame goes out: plain, or offloaded over a wire of this MTU.
    offload: Option<(usize, &'a PeerMss)>,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl<D: NetDevice> phy::TxToken for Tx<'_, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let prefix = if self.offload.is_some() { net_offload::HEADER_LEN } else { 0 };
        // smoltcp never asks for more than the MTU it was given, and the
        // buffer is that large; a device that swapped in a smaller one
        // only costs a reallocation.
        if self.buf.len() < prefix + len {
            self.buf.resize(prefix + len, 0);
        }
        let (head, frame) = self.buf.split_at_mut(prefix);
        let frame = &mut frame[..len];
        let r = f(frame);
        match self.offload {
            None => fill_checksums(frame),
            Some((link_mtu, peers)) => match offload::prepare_tx(frame, link_mtu, peers) {
                Ok(header) => header.write(head),
                Err(offload::Unsendable::Oversize) => {
                    self.stats.tx_oversize += 1;
                    return r;
                }
            },
        }
        match self.dev.transmit_swap(self.buf, prefix + len) {
            Ok(true) => self.stats.tx_frames += 1,
            Ok(false) => self.stats.tx_busy += 1,
            Err(_) => self.stats.device_errors += 1,
        }
        r
    }
}

/// Fills the TCP or UDP checksum of an outgoing `frame` as smoltcp built
/// it (told to leave them to us).
fn fill_checksums(frame: &mut [u8]) {
    if let Some(t) = offload::transport(frame) {
        checksum::fill(t.proto, &t.src, &t.dst, &mut frame[t.start..t.start + t.len], t.checksum_at());
    }
}

impl<D: NetDevice> phy::Device for Phy<D> {
    type RxToken<'a>
        = Rx<'a>
    where
        D: 'a;
    type TxToken<'a>
        = Tx<'a, D>
    where
        D: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Rx<'_>, Tx<'_, D>)> {
        let prefix = if self.offload { net_offload::HEADER_LEN } else { 0 };
        let len = loop {
            match self.dev.receive_swap(&mut self.rx) {
                Ok(Some(n)) => match self.check(n) {
                    Ok(summary) => {
                        if let Some(port) = summary.syn_to_port
                            && let Some(free) = self.syn_gate.get_mut(&port)
                        {
                            if *free == 0 {
                                self.stats.syn_backlog_full += 1;
                                continue;
                            }
                            *free -= 1;
                        }
                        if self.offload {
                            // A SYN to a port nobody listens on gets a reset:
                            // its MSS is of no use, and it may not crowd out
                            // real connections' (it got past the gate above
                            // only when listened).
                            let listened = summary.syn_to_port.is_none_or(|p| self.syn_gate.contains_key(&p));
                            if listened {
                                offload::raise_peer_mss(&mut self.rx[prefix..n], &mut self.peers);
                            }
                        }
                        break n;
                    }
                    Err(m) => self.stats.count(m),
                },
                Ok(None) => {
                    self.report_drops(now);
                    return None;
                }
                Err(_) => {
                    self.stats.device_errors += 1;
                    // Reported here too, or a due report would wake the
                    // driver again at once while the device keeps failing.
                    self.report_drops(now);
                    return None;
                }
            }
        };
        self.stats.rx_frames += 1;
        let Phy { dev, rx, tx, stats, offload, link_mtu, peers, .. } = self;
        let offload = offload.then_some((*link_mtu, &*peers));
        Some((Rx { frame: &rx[prefix..len] }, Tx { dev, buf: tx, stats, offload }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_, D>> {
        let Phy { dev, tx, stats, offload, link_mtu, peers, .. } = self;
        let offload = offload.then_some((*link_mtu, &*peers));
        Some(Tx { dev, buf: tx, stats, offload })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu;
        // Received checksums were verified by `validate` already.
        let mut checksum = ChecksumCapabilities::default();
        checksum.ipv4 = Checksum::Tx;
        // TCP and UDP checksums are filled in by `fill_checksums`, faster,
        // or left to the host when offloading.
        checksum.tcp = Checksum::None;
        checksum.udp = Checksum::None;
        checksum.icmpv4 = Checksum::Tx;
        checksum.icmpv6 = Checksum::Tx;
        caps.checksum = checksum;
        caps
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
        Ipv4Repr, Ipv6Address, Ipv6Packet, Ipv6Repr, TcpPacket, UdpPacket,
    };

    /// A frame carrying `segment` (a TCP or UDP header and payload) over
    /// IPv4 or IPv6, with the IP header's own checksum right.
    fn frame(v6: bool, proto: IpProtocol, segment: &[u8]) -> Vec<u8> {
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: if v6 { EthernetProtocol::Ipv6 } else { EthernetProtocol::Ipv4 },
        };
        let ip_len = if v6 { 40 } else { 20 };
        let mut buf = vec![0u8; 14 + ip_len + segment.len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf);
        eth.emit(&mut f);
        if v6 {
            let ip = Ipv6Repr {
                src_addr: Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
                dst_addr: Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
                next_header: proto,
                payload_len: segment.len(),
                hop_limit: 64,
            };
            let mut p = Ipv6Packet::new_unchecked(f.payload_mut());
            ip.emit(&mut p);
            p.payload_mut().copy_from_slice(segment);
        } else {
            let ip = Ipv4Repr {
                src_addr: Ipv4Address::new(10, 0, 0, 1),
                dst_addr: Ipv4Address::new(10, 0, 0, 2),
                next_header: proto,
                payload_len: segment.len(),
                hop_limit: 64,
            };
            let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
            ip.emit(&mut p, &ChecksumCapabilities::default());
            p.payload_mut().copy_from_slice(segment);
        }
        buf
    }

    /// smoltcp's own verdict on the frame's TCP or UDP checksum.
    fn smoltcp_accepts(buf: &[u8], v6: bool, tcp: bool) -> bool {
        let f = EthernetFrame::new_checked(buf).unwrap();
        let (src, dst, payload): (IpAddress, IpAddress, &[u8]) = if v6 {
            let p = Ipv6Packet::new_checked(f.payload()).unwrap();
            (p.src_addr().into(), p.dst_addr().into(), &f.payload()[40..40 + usize::from(p.payload_len())])
        } else {
            let p = Ipv4Packet::new_checked(f.payload()).unwrap();
            (p.src_addr().into(), p.dst_addr().into(), &f.payload()[20..usize::from(p.total_len())])
        };
        if tcp {
            TcpPacket::new_checked(payload).unwrap().verify_checksum(&src, &dst)
        } else {
            UdpPacket::new_checked(payload).unwrap().verify_checksum(&src, &dst)
        }
    }

    proptest! {
        #[test]
        fn filled_checksums_are_what_smoltcp_verifies(
            v6 in any::<bool>(),
            tcp in any::<bool>(),
            mut segment in proptest::collection::vec(any::<u8>(), 20..1500),
        ) {
            let proto = if tcp { IpProtocol::Tcp } else { IpProtocol::Udp };
            if tcp {
                segment[12] = 0x50; // data offset: 20 bytes of header
            } else {
                let len = segment.len() as u16;
                segment[4..6].copy_from_slice(&len.to_be_bytes());
            }
            let mut buf = frame(v6, proto, &segment);
            super::fill_checksums(&mut buf);
            prop_assert!(smoltcp_accepts(&buf, v6, tcp));
            prop_assert!(crate::validate::check(&buf).is_ok());
            // A UDP checksum is never sent as zero: that means "none".
            if !tcp {
                let at = 14 + if v6 { 40 } else { 20 } + 6;
                prop_assert_ne!(&buf[at..at + 2], &[0, 0]);
            }
        }
    }
}
