//! RDRAND, where the CPU has it, mixed into the tender's boot seed.

fn cpu_has_rdrand() -> bool {
    let ecx: u32;
    // SAFETY: `cpuid` leaf 1 only writes eax..edx; rbx is saved and
    // restored by hand because LLVM reserves it.
    unsafe {
        core::arch::asm!(
            "mov {save}, rbx",
            "cpuid",
            "mov rbx, {save}",
            save = out(reg) _,
            inout("eax") 1u32 => _,
            inout("ecx") 0u32 => ecx,
            out("edx") _,
            options(nomem, nostack, preserves_flags),
        )
    };
    ecx & (1 << 30) != 0
}

fn rdrand64() -> Option<u64> {
    // Intel recommends ten retries before calling the source broken.
    for _ in 0..10 {
        let value: u64;
        let ok: u8;
        // SAFETY: `rdrand` writes a register and the carry flag, nothing else.
        unsafe {
            core::arch::asm!("rdrand {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok, options(nomem, nostack))
        };
        if ok == 1 {
            return Some(value);
        }
    }
    None
}

/// Four words from RDRAND, or `None` where the CPU has none or it fails.
pub(crate) fn words() -> Option<[u64; 4]> {
    if !cpu_has_rdrand() {
        return None;
    }
    Some([rdrand64()?, rdrand64()?, rdrand64()?, rdrand64()?])
}
