//! Sleeping on a PVH boot: `hlt` until the local APIC's one-shot timer
//! (vector 32, whose handler in `exceptions.rs` only acknowledges it)
//! fires at the deadline. Its rate is measured against the TSC at boot.
//! Where there is no usable local APIC, `wait` polls the TSC instead.

use core::sync::atomic::{AtomicU64, Ordering};

use super::io::{cpuid, outb};
use super::time::rdtsc;
use crate::exceptions::{APIC_SPURIOUS_VECTOR, APIC_TIMER_VECTOR};

/// Where the local APIC is (its reset address; the stub identity-mapped it).
const APIC_BASE: u64 = 0xfee0_0000;
const SPURIOUS: u64 = 0xf0;
const LVT_TIMER: u64 = 0x320;
const LVT_LINT0: u64 = 0x350;
const LVT_LINT1: u64 = 0x360;
const INITIAL_COUNT: u64 = 0x380;
const CURRENT_COUNT: u64 = 0x390;
const DIVIDE: u64 = 0x3e0;
const MASKED: u32 = 1 << 16;

/// Timer ticks per nanosecond as a 32.32 fixed-point number; 0: no timer.
static TICKS_PER_NS_FP32: AtomicU64 = AtomicU64::new(0);

fn write(register: u64, value: u32) {
    // SAFETY: the local APIC's registers are MMIO at APIC_BASE (checked in
    // `init` against the APIC base MSR), identity-mapped by the stub; they
    // are not Rust-visible memory.
    unsafe { core::ptr::write_volatile((APIC_BASE + register) as *mut u32, value) }
}

fn read(register: u64) -> u32 {
    // SAFETY: as for `write`; reading these registers has no side effect.
    unsafe { core::ptr::read_volatile((APIC_BASE + register) as *const u32) }
}

fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: ring 0; the caller reads an architectural MSR (the APIC
    // base), which has no side effect.
    unsafe { core::arch::asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Sets the local APIC up for one-shot timer wake-ups and measures its
/// rate against the TSC (`tsc_hz`) for 200 µs. Leaves the timer
/// unused (so `wait` polls) when the CPU has no APIC or it is elsewhere.
pub(crate) fn init(tsc_hz: u64) {
    let (_, _, _, features) = cpuid(1, 0);
    let base = rdmsr(0x1b);
    // APIC present, enabled globally (bit 11), not in x2APIC mode (bit 10),
    // at its reset address.
    if features & (1 << 9) == 0 || base & (1 << 11) == 0 || base & (1 << 10) != 0 || base & !0xfff != APIC_BASE {
        return;
    }
    // The legacy PICs off (the PIT's channel 0, used to measure the TSC,
    // raises IRQ 0 at the end of its count), and the local APIC's own
    // legacy inputs masked.
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    write(SPURIOUS, 0x100 | u32::from(APIC_SPURIOUS_VECTOR));
    write(LVT_LINT0, MASKED);
    write(LVT_LINT1, MASKED);
    write(DIVIDE, 0b1011); // divide by 1
    write(LVT_TIMER, MASKED | u32::from(APIC_TIMER_VECTOR));
    // Count down from the top for 200 µs of TSC time.
    let window = tsc_hz / 5000;
    write(INITIAL_COUNT, u32::MAX);
    let start = rdtsc();
    while rdtsc().wrapping_sub(start) < window {
        core::hint::spin_loop();
    }
    let counted = u64::from(u32::MAX - read(CURRENT_COUNT));
    let elapsed_ns = rdtsc().wrapping_sub(start).saturating_mul(1_000_000_000) / tsc_hz.max(1);
    write(INITIAL_COUNT, 0);
    if counted == 0 || elapsed_ns == 0 {
        return;
    }
    write(LVT_TIMER, u32::from(APIC_TIMER_VECTOR)); // one-shot, unmasked
    TICKS_PER_NS_FP32.store((counted << 32) / elapsed_ns, Ordering::Relaxed);
}

/// Halts until about `ns` from now (or any interrupt), if the timer
/// works; returns false where it does not (the caller polls).
pub(crate) fn sleep(ns: u64) -> bool {
    let rate = TICKS_PER_NS_FP32.load(Ordering::Relaxed);
    if rate == 0 {
        return false;
    }
    // A timer that ends early is harmless (the caller checks the clock and
    // sleeps again); one that ends late is not, so round down.
    let ticks = ((u128::from(ns) * u128::from(rate)) >> 32).clamp(1, u128::from(u32::MAX)) as u32;
    write(INITIAL_COUNT, ticks);
    // SAFETY: ring 0, with the IDT's vector 32 (EOI and return) and 33 in
    // place; `sti` takes effect after `hlt` starts, so an interrupt that is
    // already pending wakes it rather than being missed; interrupts are
    // off again before anything else runs.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
    true
}
