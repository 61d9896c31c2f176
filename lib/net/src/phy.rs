//! smoltcp's `Device` over an Oasis [`NetDevice`], with frame checks and
//! counters.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use oasis_devices::NetDevice;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

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
            "rx {} tx {} (busy {}); dropped: truncated {}, bad length {}, bad checksum {}, unsupported {}, backlog full {}; device errors {}",
            self.rx_frames,
            self.tx_frames,
            self.tx_busy,
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
    mtu: usize,
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
        Phy {
            dev,
            rx: vec![0; frame],
            tx: vec![0; frame],
            mtu: frame,
            stats: NetStats::default(),
            syn_gate: BTreeMap::new(),
            reported_malformed: 0,
            last_report_ms: i64::MIN / 2,
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
    buf: &'a mut [u8],
    stats: &'a mut NetStats,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl<D: NetDevice> phy::TxToken for Tx<'_, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU it was given.
        let len = len.min(self.buf.len());
        let r = f(&mut self.buf[..len]);
        match self.dev.transmit(&self.buf[..len]) {
            Ok(true) => self.stats.tx_frames += 1,
            Ok(false) => self.stats.tx_busy += 1,
            Err(_) => self.stats.device_errors += 1,
        }
        r
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
        let len = loop {
            match self.dev.receive(&mut self.rx) {
                Ok(Some(n)) => match validate::check(&self.rx[..n]) {
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
                    return None;
                }
            }
        };
        self.stats.rx_frames += 1;
        let Phy { dev, rx, tx, stats, .. } = self;
        Some((Rx { frame: &rx[..len] }, Tx { dev, buf: tx, stats }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_, D>> {
        let Phy { dev, tx, stats, .. } = self;
        Some(Tx { dev, buf: tx, stats })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu;
        // Received checksums were verified by `validate` already.
        let mut checksum = ChecksumCapabilities::default();
        checksum.ipv4 = Checksum::Tx;
        checksum.tcp = Checksum::Tx;
        checksum.udp = Checksum::Tx;
        checksum.icmpv4 = Checksum::Tx;
        checksum.icmpv6 = Checksum::Tx;
        caps.checksum = checksum;
        caps
    }
}
