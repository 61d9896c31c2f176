//! RDRAND, where the CPU has it, mixed into the tender's boot seed.

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

/// Four words from RDRAND, or `None` where the tender says the CPU has
/// none (boot info, so the guest need not run `cpuid`, which costs an exit
/// on some hypervisors) or it fails.
pub(crate) fn words(cpu_features: u64) -> Option<[u64; 4]> {
    if cpu_features & oasis_abi::boot::FEATURE_RDRAND == 0 {
        return None;
    }
    Some([rdrand64()?, rdrand64()?, rdrand64()?, rdrand64()?])
}
