//! Prints what the CPU tells the guest (`cpuid` leaves 0, 1, 7, 0xd,
//! 0x40000000, 0x80000001) and the TSC at start, so a test can check the
//! guest sees only what the tender set — not the host's features, not the
//! host's uptime — and then writes a KVM paravirtual MSR (kvmclock), which
//! must fault: the tender offers no paravirtual feature.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) {
    use core::arch::x86_64::{__cpuid_count, _rdtsc};
    // SAFETY: rdtsc reads the time-stamp counter; nothing else.
    let tsc = unsafe { _rdtsc() };
    os.print(format_args!("tsc {tsc}\n"));
    for leaf in [0u32, 1, 7, 0xd, 0x4000_0000, 0x8000_0001] {
        let r = __cpuid_count(leaf, 0);
        os.print(format_args!("cpuid {leaf:#x} {:#x} {:#x} {:#x} {:#x}\n", r.eax, r.ebx, r.ecx, r.edx));
    }
    os.console().flush();
    let mode: &str = os.args().as_slice().first().copied().unwrap_or("msr");
    if mode == "msr" {
        // MSR_KVM_SYSTEM_TIME_NEW: kvmclock's page.
        // SAFETY: deliberately touching a paravirtual MSR the tender did
        // not offer; it must fault before anything happens.
        unsafe { core::arch::asm!("wrmsr", in("ecx") 0x4b56_4d01u32, in("eax") 0x1001u32, in("edx") 0u32) };
        os.print(format_args!("wrmsr kvmclock went through\n"));
    } else if mode == "hlt" {
        // SAFETY: deliberately halting with interrupts on: no interrupt will
        // ever come, and the tender must say so.
        unsafe { core::arch::asm!("sti", "hlt") };
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_cpuid is a guest-only test image");
    std::process::exit(2);
}
