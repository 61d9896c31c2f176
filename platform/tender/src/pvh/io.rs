//! Port I/O and CPUID for the PVH machine.
//!
//! Only the legacy PC devices named in this module's callers are touched
//! (the 16550 UART, the PIT, the CMOS RTC, QEMU's `isa-debug-exit`, the
//! i8042): none of them reads or writes guest memory, so a port access
//! cannot break memory safety.

/// Writes `value` to I/O port `port`.
pub(super) fn outb(port: u16, value: u8) {
    // SAFETY: the guest runs in ring 0 on a PVH boot, so `out` is allowed;
    // the ports written are the legacy devices listed above, which do no
    // DMA, so no Rust-visible memory changes.
    unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags)) }
}

/// Reads I/O port `port`.
pub(super) fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as for `outb`: ring 0, legacy devices without DMA; a port no
    // device answers reads as 0xff.
    unsafe { core::arch::asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags)) };
    value
}

/// `cpuid` leaf `leaf`, subleaf `sub`: `(eax, ebx, ecx, edx)`.
pub(super) fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Spins one iteration of a wait loop.
pub(super) fn pause() {
    core::hint::spin_loop();
}
