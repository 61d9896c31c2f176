//! Time on a PVH boot: the TSC's frequency (from CPUID where the CPU or
//! the hypervisor says it, else measured against the PIT) and the wall
//! clock at boot from the CMOS RTC.

use super::io::{cpuid, inb, outb};

/// Where the TSC frequency came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TscSource {
    /// CPUID leaf 0x15 (crystal clock and ratio).
    Cpuid15,
    /// The hypervisor's leaf 0x40000010 (TSC kHz).
    Hypervisor,
    /// Measured against PIT channel 2 (gated through port 0x61).
    PitChannel2,
    /// Measured against PIT channel 0 (no port 0x61, as on QEMU's microvm).
    PitChannel0,
}

/// The PIT's input clock.
const PIT_HZ: u64 = 1_193_182;
/// How long the TSC is measured against the PIT: 2 ms (2,386 PIT ticks),
/// a share of a TCG boot (about 35 ms) worth paying. Each end of the
/// interval is the quickest of five timed reads (see [`pit_read_best`]).
const CALIBRATION_TICKS: u64 = PIT_HZ / 500;

pub(crate) fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the time-stamp counter into edx:eax.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The TSC frequency in Hz and where it came from, or `None` when no
/// source gives a plausible one.
pub(crate) fn tsc_hz() -> Option<(u64, TscSource)> {
    let (max_leaf, ..) = cpuid(0, 0);
    if max_leaf >= 0x15 {
        let (denominator, numerator, crystal_hz, _) = cpuid(0x15, 0);
        if denominator != 0 && numerator != 0 && crystal_hz != 0 {
            let hz = u64::from(crystal_hz) * u64::from(numerator) / u64::from(denominator);
            return Some((hz, TscSource::Cpuid15));
        }
    }
    let (_, _, features, _) = cpuid(1, 0);
    if features & (1 << 31) != 0 {
        let (max_hv_leaf, ..) = cpuid(0x4000_0000, 0);
        if max_hv_leaf >= 0x4000_0010 {
            let (khz, ..) = cpuid(0x4000_0010, 0);
            if khz != 0 {
                return Some((u64::from(khz) * 1000, TscSource::Hypervisor));
            }
        }
    }
    pit_calibrate()
}

/// Reads PIT channel `channel`'s count (latched, low byte then high).
fn pit_count(channel: u8) -> u16 {
    outb(0x43, channel << 6); // latch the count
    let lo = inb(0x40 + u16::from(channel));
    let hi = inb(0x40 + u16::from(channel));
    u16::from_le_bytes([lo, hi])
}

/// A PIT count and the TSC when it was read: the middle of the read, and
/// how long the read took.
fn pit_read_timed(channel: u8) -> (u16, u64, u64) {
    let before = rdtsc();
    let count = pit_count(channel);
    let after = rdtsc();
    (count, before + (after - before) / 2, after - before)
}

/// The quickest of a few timed reads: a read is three port accesses, which
/// a VMM may answer late (QEMU's TCG takes its big lock for each), and a
/// late read at either end of the interval would skew the frequency.
fn pit_read_best(channel: u8) -> (u16, u64) {
    let mut best = pit_read_timed(channel);
    for _ in 0..4 {
        let r = pit_read_timed(channel);
        if r.2 < best.2 {
            best = r;
        }
    }
    (best.0, best.1)
}

/// Measures the TSC against a PIT channel counting down from 0xffff in
/// mode 0: channel 2 where port 0x61 gates it (a PC speaker port), else
/// channel 0, which needs no gate (its one interrupt at the end of the
/// count is never delivered: interrupts stay off).
fn pit_calibrate() -> Option<(u64, TscSource)> {
    let speaker = inb(0x61);
    let (channel, source) = if speaker == 0xff { (0u8, TscSource::PitChannel0) } else { (2, TscSource::PitChannel2) };
    if channel == 2 {
        // Gate channel 2 on, speaker data off.
        outb(0x61, (speaker & !0x02) | 0x01);
    }
    outb(0x43, (channel << 6) | 0x30); // lobyte/hibyte, mode 0, binary
    outb(0x40 + u16::from(channel), 0xff);
    outb(0x40 + u16::from(channel), 0xff);
    let (start, tsc_start) = pit_read_best(channel);
    let mut spins = 0u32;
    loop {
        let elapsed = u64::from(start.wrapping_sub(pit_count(channel)));
        if elapsed >= CALIBRATION_TICKS {
            break;
        }
        spins += 1;
        if spins > 1_000_000 {
            return None; // the counter does not move: no PIT
        }
    }
    let (end, tsc_end) = pit_read_best(channel);
    let elapsed = u64::from(start.wrapping_sub(end));
    let hz = tsc_end.saturating_sub(tsc_start).saturating_mul(PIT_HZ) / elapsed.max(1);
    (hz > 1_000_000).then_some((hz, source))
}

fn cmos(register: u8) -> u8 {
    outb(0x70, 0x80 | register); // NMI stays disabled
    inb(0x71)
}

fn bcd(v: u8) -> u8 {
    (v >> 4) * 10 + (v & 0x0f)
}

/// Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch from the CMOS RTC, or `None` where there
/// is none (Firecracker) or it reads as nonsense. Whole seconds only: the
/// wall clock may be up to a second behind.
pub(crate) fn rtc_seconds() -> Option<u64> {
    let read = || {
        // Wait (briefly) for an update in progress to finish.
        for _ in 0..10_000 {
            if cmos(0x0a) & 0x80 == 0 {
                break;
            }
        }
        [cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x07), cmos(0x08), cmos(0x09), cmos(0x32)]
    };
    if cmos(0x0a) == 0xff {
        return None;
    }
    let mut t = read();
    // Read until two reads agree, so no field is from another second.
    for _ in 0..3 {
        let again = read();
        if again == t {
            break;
        }
        t = again;
    }
    let status_b = cmos(0x0b);
    let [mut sec, mut min, mut hour, mut day, mut month, mut year, century] = t;
    let pm = hour & 0x80 != 0;
    hour &= 0x7f;
    if status_b & 0x04 == 0 {
        (sec, min, hour, day, month, year) = (bcd(sec), bcd(min), bcd(hour), bcd(day), bcd(month), bcd(year));
    }
    if status_b & 0x02 == 0 {
        hour = (hour % 12) + if pm { 12 } else { 0 };
    }
    let century = if status_b & 0x04 == 0 { bcd(century) } else { century };
    let century = if (19..=21).contains(&century) { i64::from(century) } else { 20 };
    if sec > 59 || min > 59 || hour > 23 || !(1..=31).contains(&day) || !(1..=12).contains(&month) || year > 99 {
        return None;
    }
    let days = days_from_civil(century * 100 + i64::from(year), u32::from(month), u32::from(day));
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec);
    u64::try_from(secs).ok()
}
