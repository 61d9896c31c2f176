//! CPU exceptions on hvt (and on a PVH boot, whose GDT has the same
//! selectors; there the report goes to the UART): an IDT whose handlers report the fault to the
//! tender (vector, error code, instruction pointer, faulting address), so a
//! null dereference is named instead of ending in a bare triple fault.
//!
//! spt needs none of this: there the host kernel turns faults into signals
//! and the tender reports them.

use oasis_abi::{Fault, op};

use crate::hypercall;

core::arch::global_asm!(
    r#"
    .section .text.oasis_exceptions,"ax",@progbits
    .global oasis_exception_stubs
    oasis_exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .balign 16
        .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        .else
        push 0
        .endif
        push \v
        jmp oasis_exception_common
    .endr
        // Vector 32, a PVH boot's local APIC timer (pvh/lapic.rs): it only
        // wakes `hlt`; acknowledge it (EOI) and return. 15 bytes.
        .balign 16
        push rax
        mov eax, 0xfee000b0
        mov dword ptr [rax], 0
        pop rax
        iretq
        // Vector 33, the local APIC's spurious vector: no EOI.
        .balign 16
        iretq
    oasis_exception_common:
        mov rdi, rsp
        and rsp, -16
        call {report}
        ud2
    "#,
    report = sym report,
);

// SAFETY: `oasis_exception_stubs` is the label of the `global_asm!` above;
// only its address is used, never its contents.
unsafe extern "C" {
    /// The first stub; stub `v` is at `+16 * v` (the APIC's two after the
    /// 32 exceptions').
    static oasis_exception_stubs: u8;
}

/// Where the linker script puts the stubs.
const STUBS_ADDR: u64 = oasis_abi::layout::KERNEL_BASE + 0x200;
/// Stubs are 16 bytes apart.
const STUB_SIZE: u64 = 16;
/// hvt's code segment selector (see `docs/abi.md`).
const CODE_SELECTOR: u16 = 0x08;

/// What the stubs and the CPU leave on the stack.
#[repr(C)]
struct Frame {
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

#[repr(C, packed)]
struct IdtPointer {
    limit: u16,
    base: u64,
}

extern "sysv64" fn report(frame: *const Frame) -> ! {
    // SAFETY: the common stub passes the stack pointer, where the stub and
    // the CPU just pushed exactly a `Frame`.
    let frame = unsafe { &*frame };
    let mut address = 0u64;
    if frame.vector == 14 {
        // SAFETY: reading CR2 is allowed in ring 0, where hvt and PVH guests run,
        // and has no side effects.
        unsafe { core::arch::asm!("mov {}, cr2", out(reg) address, options(nomem, nostack, preserves_flags)) };
    }
    if hypercall::is_pvh() {
        crate::pvh::fault(frame.vector, frame.error_code, frame.rip, address);
    }
    let mut arg = Fault { vector: frame.vector, error_code: frame.error_code, rip: frame.rip, address };
    hypercall::call::<op::Fault>(&mut arg);
    // The tender never resumes a guest after FAULT.
    // SAFETY: `ud2` raises #UD; we cannot continue.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

const fn gate(vector: u64) -> Gate {
    let handler = STUBS_ADDR + STUB_SIZE * vector;
    Gate {
        offset_low: handler as u16,
        selector: CODE_SELECTOR,
        ist: 0,
        type_attr: 0x8e, // present, DPL 0, 64-bit interrupt gate
        offset_mid: (handler >> 16) as u16,
        offset_high: (handler >> 32) as u32,
        reserved: 0,
    }
}

/// The IDT, a constant: the stubs' addresses are fixed at link time, so
/// booting costs one `lidt`, not a loop (every guest instruction counts on
/// software-emulated KVM).
static IDT: [Gate; VECTORS] = {
    let mut table = [gate(0); VECTORS];
    let mut v = 0;
    while v < VECTORS {
        table[v] = gate(v as u64);
        v += 1;
    }
    table
};

/// The 32 architectural exceptions, then a PVH boot's local APIC timer
/// ([`APIC_TIMER_VECTOR`]) and spurious vector.
const VECTORS: usize = 34;

/// The vector of a PVH boot's local APIC timer.
pub(crate) const APIC_TIMER_VECTOR: u8 = 32;

/// The local APIC's spurious-interrupt vector.
pub(crate) const APIC_SPURIOUS_VECTOR: u8 = 33;

/// Loads the IDT covering the 32 architectural exceptions and the APIC's
/// two vectors.
pub(crate) fn install() {
    // A linker script that moved the stubs would make every gate wrong.
    if (&raw const oasis_exception_stubs).addr() as u64 != STUBS_ADDR {
        // SAFETY: `ud2` raises #UD, reported by the tender as a fault.
        unsafe { core::arch::asm!("ud2", options(noreturn)) };
    }
    let pointer = IdtPointer { limit: (core::mem::size_of::<[Gate; VECTORS]>() - 1) as u16, base: IDT.as_ptr() as u64 };
    // SAFETY: `pointer` describes the static IDT whose gates all point at
    // the stubs above; we run in ring 0 on hvt and on a PVH boot.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) };
}
