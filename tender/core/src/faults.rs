//! A seeded fault-injecting link, for testing what crosses a network.
//!
//! `--net-faults:NAME=loss=5%,dup=1%,reorder=1%,seed=7,dir=both` makes
//! the tender drop, duplicate and reorder frames on network device NAME —
//! towards the guest (`dir=in`, what `netem` on the host's TAP does),
//! from it (`dir=out`) or both (the default) — with a PRNG seeded from
//! `seed` (default 1) so a failing run can be repeated exactly. The kernel on these machines has no `netem`;
//! this is the same idea as smoltcp's `FaultInjector`, on the host side so
//! any guest can be tested unchanged.
//!
//! A reordered frame is held back and sent after the next one in the same
//! direction (or, if none comes, at the guest's next yield).
//!
//! [`FaultyLink`] wraps the TAP's link: the hypercall path moves frames
//! the same way whether faults are injected or not.

use std::fmt;
use std::os::fd::RawFd;

use oasis_abi::result;

use crate::link::{FrameSlice, Link, TapLink};

/// Probabilities are in parts per million.
const PPM: u32 = 1_000_000;

/// What to do to a device's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// Drop probability, ppm.
    pub loss: u32,
    /// Duplicate probability, ppm.
    pub dup: u32,
    /// Reorder probability, ppm.
    pub reorder: u32,
    /// PRNG seed.
    pub seed: u64,
    /// Frames towards the guest are affected.
    pub inbound: bool,
    /// Frames from the guest are affected.
    pub outbound: bool,
}

fn parse_percent(v: &str) -> Result<u32, String> {
    let number = v.strip_suffix('%').unwrap_or(v);
    let pct: f64 = number.parse().map_err(|_| format!("'{v}' is not a percentage"))?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(format!("'{v}' is not between 0% and 100%"));
    }
    Ok((pct * 10_000.0).round() as u32)
}

impl FaultSpec {
    /// Parses `loss=5%,dup=1%,reorder=1%,seed=7` (any subset).
    pub fn parse(s: &str) -> Result<FaultSpec, String> {
        let mut spec = FaultSpec { loss: 0, dup: 0, reorder: 0, seed: 1, inbound: true, outbound: true };
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("'{part}' is not KEY=VALUE"))?;
            match key {
                "loss" => spec.loss = parse_percent(value)?,
                "dup" => spec.dup = parse_percent(value)?,
                "reorder" => spec.reorder = parse_percent(value)?,
                "seed" => spec.seed = value.parse().map_err(|_| format!("seed '{value}' is not a number"))?,
                "dir" => {
                    (spec.inbound, spec.outbound) = match value {
                        "in" => (true, false),
                        "out" => (false, true),
                        "both" => (true, true),
                        _ => return Err(format!("dir '{value}' is not in, out or both")),
                    }
                }
                _ => return Err(format!("unknown fault '{key}' (use loss, dup, reorder, seed, dir)")),
            }
        }
        if spec.loss + spec.dup + spec.reorder > PPM {
            return Err("loss, dup and reorder add up to more than 100%".into());
        }
        Ok(spec)
    }
}

/// What happens to one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered as is.
    Pass,
    /// Dropped.
    Drop,
    /// Delivered twice.
    Duplicate,
    /// Held back and delivered after the next frame.
    Reorder,
}

/// Counts of what was done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Frames dropped.
    pub dropped: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames reordered.
    pub reordered: u64,
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dropped {}, duplicated {}, reordered {}", self.dropped, self.duplicated, self.reordered)
    }
}

/// The seeded decision maker of one device.
#[derive(Clone, Debug)]
pub struct Faults {
    spec: FaultSpec,
    state: u64,
    /// What was done so far.
    pub counts: FaultCounts,
}

impl Faults {
    /// Faults as `spec` says.
    pub fn new(spec: FaultSpec) -> Faults {
        // splitmix64 of the seed, so small seeds still start well mixed.
        let mut z = spec.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Faults { spec, state: (z ^ (z >> 31)) | 1, counts: FaultCounts::default() }
    }

    fn next(&mut self) -> u32 {
        // xorshift64*: fast, and plenty for choosing fates.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 % PPM
    }

    /// What this link does.
    pub fn spec(&self) -> FaultSpec {
        self.spec
    }

    /// Decides one frame's fate.
    pub fn fate(&mut self) -> Fate {
        let r = self.next();
        let s = self.spec;
        if r < s.loss {
            self.counts.dropped += 1;
            Fate::Drop
        } else if r < s.loss + s.dup {
            self.counts.duplicated += 1;
            Fate::Duplicate
        } else if r < s.loss + s.dup + s.reorder {
            self.counts.reordered += 1;
            Fate::Reorder
        } else {
            Fate::Pass
        }
    }
}

/// A frame buffer sized for the device, allocated before the sandbox.
#[derive(Debug)]
struct Frame {
    bytes: Vec<u8>,
    len: Option<usize>,
}

impl Frame {
    fn new(size: usize) -> Frame {
        Frame { bytes: vec![0; size], len: None }
    }

    /// The frame held, if any.
    fn get(&self) -> Option<&[u8]> {
        self.len.map(|n| &self.bytes[..n])
    }

    /// Holds a copy of `frame` (cut to the buffer).
    fn set(&mut self, frame: &[u8]) {
        let n = frame.len().min(self.bytes.len());
        self.bytes[..n].copy_from_slice(&frame[..n]);
        self.len = Some(n);
    }

    fn set_len(&mut self, n: usize) {
        self.len = Some(n.min(self.bytes.len()));
    }

    fn clear(&mut self) {
        self.len = None;
    }

    /// The whole buffer, to read a frame into.
    fn buffer(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

/// A TAP link behind seeded faults: frames held in user space for
/// duplication and reordering.
#[derive(Debug)]
pub struct FaultyLink {
    tap: TapLink,
    faults: Faults,
    /// Scratch for the frame being decided.
    scratch: Frame,
    /// Guest-bound frames to deliver before reading the TAP again.
    inbound: [Frame; 2],
    /// A guest-bound frame held back (reordered).
    inbound_held: Frame,
    /// A host-bound frame held back (reordered).
    outbound_held: Frame,
}

impl FaultyLink {
    /// `tap` behind the faults of `spec`, for frames of up to `frame` bytes.
    pub fn new(tap: TapLink, spec: FaultSpec, frame: usize) -> FaultyLink {
        FaultyLink {
            tap,
            faults: Faults::new(spec),
            scratch: Frame::new(frame),
            inbound: [Frame::new(frame), Frame::new(frame)],
            inbound_held: Frame::new(frame),
            outbound_held: Frame::new(frame),
        }
    }

    /// The next guest-bound frame through the faults, in `scratch`, or
    /// `None` when none waits (errors reading the TAP count as none).
    fn next_inbound(&mut self) -> Option<&[u8]> {
        let FaultyLink { tap, faults, scratch, inbound, inbound_held, .. } = self;
        if let Some(slot) = inbound.iter_mut().find(|f| f.get().is_some()) {
            let frame = slot.get().unwrap_or_default();
            scratch.set(frame);
            slot.clear();
            return scratch.get();
        }
        loop {
            let Some(n) = tap.receive_bytes(scratch.buffer()) else {
                // Nothing more from the host: release a held frame.
                let held = inbound_held.get()?;
                scratch.set(held);
                inbound_held.clear();
                return scratch.get();
            };
            let frame = &scratch.buffer()[..n];
            let queue = |inbound: &mut [Frame; 2], f: &[u8]| {
                if let Some(slot) = inbound.iter_mut().find(|s| s.get().is_none()) {
                    slot.set(f);
                }
            };
            let fate = if faults.spec().inbound { faults.fate() } else { Fate::Pass };
            match fate {
                Fate::Drop => continue,
                Fate::Reorder if inbound_held.get().is_none() => {
                    inbound_held.set(frame);
                    continue;
                }
                Fate::Duplicate => queue(inbound, frame),
                Fate::Pass | Fate::Reorder => {}
            }
            if let Some(held) = inbound_held.get() {
                queue(inbound, held);
                inbound_held.clear();
            }
            scratch.set_len(n);
            return scratch.get();
        }
    }
}

impl Link for FaultyLink {
    fn send(&mut self, frame: &FrameSlice<'_>) -> u64 {
        let FaultyLink { tap, faults, scratch, outbound_held, .. } = self;
        // The caller checked the frame fits a device buffer.
        let len = frame.copy_to(scratch.buffer());
        let frame = &scratch.buffer()[..len];
        let fate = if faults.spec().outbound { faults.fate() } else { Fate::Pass };
        match fate {
            Fate::Drop => {}
            Fate::Pass => tap.send_bytes(frame),
            Fate::Duplicate => {
                tap.send_bytes(frame);
                tap.send_bytes(frame);
            }
            Fate::Reorder if outbound_held.get().is_none() => {
                outbound_held.set(frame);
                return result::OK;
            }
            Fate::Reorder => tap.send_bytes(frame),
        }
        if let Some(held) = outbound_held.get() {
            tap.send_bytes(held);
            outbound_held.clear();
        }
        result::OK
    }

    fn receive(&mut self, buf: &mut FrameSlice<'_>) -> (u64, u64) {
        match self.next_inbound() {
            Some(frame) => {
                let n = frame.len().min(buf.len());
                buf.copy_from(&frame[..n]);
                (n as u64, result::OK)
            }
            None => (0, result::AGAIN),
        }
    }

    fn input_held(&self) -> bool {
        self.inbound.iter().any(|f| f.get().is_some()) || self.inbound_held.get().is_some()
    }

    fn before_sleep(&mut self) {
        if let Some(held) = self.outbound_held.get() {
            self.tap.send_bytes(held);
            self.outbound_held.clear();
        }
    }

    fn fd(&self) -> RawFd {
        self.tap.fd()
    }

    fn fault_counts(&self) -> Option<FaultCounts> {
        Some(self.faults.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(
            FaultSpec::parse("loss=5%,dup=1%,reorder=0.5%,seed=9,dir=in"),
            Ok(FaultSpec { loss: 50_000, dup: 10_000, reorder: 5_000, seed: 9, inbound: true, outbound: false })
        );
        assert_eq!(FaultSpec::parse("").map(|s| s.loss), Ok(0));
        assert!(FaultSpec::parse("loss=120%").is_err());
        assert!(FaultSpec::parse("jitter=1ms").unwrap_err().contains("unknown fault 'jitter'"));
        assert!(FaultSpec::parse("loss=60%,dup=60%").is_err());
    }

    #[test]
    fn rates_are_close_to_the_spec_and_repeatable() {
        let spec = FaultSpec::parse("loss=5%,dup=1%,reorder=1%,seed=42").unwrap();
        let mut a = Faults::new(spec);
        let fates: Vec<Fate> = (0..100_000).map(|_| a.fate()).collect();
        let mut b = Faults::new(spec);
        assert!(fates.iter().all(|f| *f == b.fate()), "same seed, same fates");
        let count = |x| fates.iter().filter(|f| **f == x).count();
        assert!((4_500..5_500).contains(&count(Fate::Drop)), "{}", count(Fate::Drop));
        assert!((800..1_200).contains(&count(Fate::Duplicate)));
        assert!((800..1_200).contains(&count(Fate::Reorder)));
        assert_eq!(a.counts.dropped as usize, count(Fate::Drop));
    }
}
