//! hvt: drops its IDT, then faults, so the CPU cannot deliver the
//! exception and shuts down (a triple fault). The tender must report it
//! with the instruction pointer. (On spt `lidt` is privileged, so this is
//! a plain fault there.)

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let empty = Pointer { limit: 0, base: 0 };
    // SAFETY: deliberately fatal: an empty IDT, then a null read; nothing
    // can handle the fault and the vCPU shuts down.
    unsafe {
        core::arch::asm!("lidt [{}]", in(reg) &empty);
        core::ptr::read_volatile(core::hint::black_box(0usize) as *const u64);
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("triple_fault is a guest-only test image");
    std::process::exit(2);
}
