//! RDRAND, where the CPU has it, mixed into the tender's boot seed; on a
//! PVH boot RDSEED or RDRAND is the seed (`pvh`).

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

fn rdseed64() -> Option<u64> {
    // RDSEED may run dry for a moment; retry a little longer than RDRAND.
    for _ in 0..100 {
        let value: u64;
        let ok: u8;
        // SAFETY: `rdseed` writes a register and the carry flag, nothing else.
        unsafe {
            core::arch::asm!("rdseed {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok, options(nomem, nostack))
        };
        if ok == 1 {
            return Some(value);
        }
        core::hint::spin_loop();
    }
    None
}

/// Four words from RDRAND (the caller checked the CPU has it).
pub(crate) fn rdrand_words() -> Option<[u64; 4]> {
    Some([rdrand64()?, rdrand64()?, rdrand64()?, rdrand64()?])
}

/// Four words from RDSEED (the caller checked the CPU has it).
pub(crate) fn rdseed_words() -> Option<[u64; 4]> {
    Some([rdseed64()?, rdseed64()?, rdseed64()?, rdseed64()?])
}

/// Four words from RDRAND, or `None` where the tender says the CPU has
/// none (boot info, so the guest need not run `cpuid`, which costs an exit
/// on some hypervisors) or it fails.
pub(crate) fn words(cpu_features: u64) -> Option<[u64; 4]> {
    if cpu_features & oasis_abi::boot::FEATURE_RDRAND == 0 {
        return None;
    }
    rdrand_words()
}
