//! Monotonic and wall-clock time.
//!
//! On hvt time comes from the TSC with the frequency the tender measured, so
//! reading the clock costs no exit. On spt a clock call is a plain function
//! call into the tender (which reads the vDSO clock), about as cheap. A
//! PVH boot uses the TSC like hvt, with the frequency it found itself.

use core::sync::atomic::{AtomicU64, Ordering};

use oasis_abi::{BootInfo, Clock, Hypercall, Tender, op};

use crate::hypercall;

static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick as a 32.32 fixed-point number; 0 = no TSC clock.
static NS_PER_TICK_FP32: AtomicU64 = AtomicU64::new(0);
static WALL_AT_BOOT: AtomicU64 = AtomicU64::new(0);

pub(crate) fn init(info: &BootInfo) {
    if Tender::from_u32(info.tender) == Some(Tender::Hvt) && info.tsc_hz != 0 {
        // 10^9 << 32 fits a u64, so no 128-bit division is needed.
        let fp = (1_000_000_000u64 << 32) / info.tsc_hz;
        TSC_AT_BOOT.store(info.tsc_at_boot, Ordering::Relaxed);
        WALL_AT_BOOT.store(info.wall_ns_at_boot, Ordering::Relaxed);
        NS_PER_TICK_FP32.store(fp, Ordering::Relaxed);
    }
}

/// The TSC clock of a PVH boot: `hz` measured or read from CPUID,
/// `tsc_at_boot` the count at monotonic time 0, `wall_ns` the wall clock
/// then.
pub(crate) fn init_tsc(hz: u64, tsc_at_boot: u64, wall_ns: u64) {
    TSC_AT_BOOT.store(tsc_at_boot, Ordering::Relaxed);
    WALL_AT_BOOT.store(wall_ns, Ordering::Relaxed);
    NS_PER_TICK_FP32.store((1_000_000_000u64 << 32) / hz.max(1_000_000), Ordering::Relaxed);
}

fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the time-stamp counter into edx:eax.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

fn tsc_ns() -> Option<u64> {
    let fp = NS_PER_TICK_FP32.load(Ordering::Relaxed);
    if fp == 0 {
        return None;
    }
    let ticks = rdtsc().saturating_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    Some(((u128::from(ticks) * u128::from(fp)) >> 32) as u64)
}

fn call_clock<H: Hypercall<Arg = Clock>>() -> u64 {
    let mut arg = Clock::default();
    hypercall::call::<H>(&mut arg);
    arg.ns
}

/// Nanoseconds since boot; never goes back.
pub(crate) fn monotonic_ns() -> u64 {
    tsc_ns().unwrap_or_else(call_clock::<op::ClockMonotonic>)
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn wall_ns() -> u64 {
    match tsc_ns() {
        Some(ns) => WALL_AT_BOOT.load(Ordering::Relaxed).saturating_add(ns),
        None => call_clock::<op::ClockWall>(),
    }
}
