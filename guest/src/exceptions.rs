//! CPU exceptions on hvt: an IDT whose handlers report the fault to the
//! tender (vector, error code, instruction pointer, faulting address), so a
//! null dereference is named instead of ending in a bare triple fault.
//!
//! spt needs none of this: there the host kernel turns faults into signals
//! and the tender reports them.

use alloc::boxed::Box;

use oasis_abi::{Fault, nr};

use crate::hypercall;

core::arch::global_asm!(
    r#"
    .section .text.oasis_exceptions,"ax",@progbits
    .macro oasis_stub_noerr v
    oasis_exception_\v:
        push 0
        push \v
        jmp oasis_exception_common
    .endm
    .macro oasis_stub_err v
    oasis_exception_\v:
        push \v
        jmp oasis_exception_common
    .endm
    .irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
        oasis_stub_noerr \v
    .endr
    .irp v, 8,10,11,12,13,14,17,21,29,30
        oasis_stub_err \v
    .endr
    oasis_exception_common:
        mov rdi, rsp
        and rsp, -16
        call {report}
        ud2

    .section .rodata.oasis_exceptions,"a",@progbits
    .balign 8
    .global oasis_exception_stubs
    oasis_exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad oasis_exception_\v
    .endr
    "#,
    report = sym report,
);

unsafe extern "C" {
    static oasis_exception_stubs: [u64; 32];
}

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
        // SAFETY: reading CR2 is allowed in ring 0, where hvt guests run,
        // and has no side effects.
        unsafe { core::arch::asm!("mov {}, cr2", out(reg) address, options(nomem, nostack, preserves_flags)) };
    }
    let mut arg = Fault { vector: frame.vector, error_code: frame.error_code, rip: frame.rip, address };
    hypercall::call(nr::FAULT, &mut arg);
    // The tender never resumes a guest after FAULT.
    // SAFETY: `ud2` raises #UD; we cannot continue.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

/// Loads an IDT covering the 32 architectural exceptions.
pub(crate) fn install() {
    let cs: u16;
    // SAFETY: reading CS has no side effects.
    unsafe { core::arch::asm!("mov {0:x}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    let mut gates = Box::new([Gate::default(); 32]);
    for (gate, &handler) in gates.iter_mut().zip(
        // SAFETY: the table is defined above in .rodata, 32 addresses, and
        // never written.
        unsafe { &oasis_exception_stubs },
    ) {
        *gate = Gate {
            offset_low: handler as u16,
            selector: cs,
            ist: 0,
            type_attr: 0x8e, // present, DPL 0, 64-bit interrupt gate
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        };
    }
    let gates: &'static [Gate; 32] = Box::leak(gates);
    let pointer = IdtPointer {
        limit: (core::mem::size_of::<[Gate; 32]>() - 1) as u16,
        base: (gates as *const _ as usize) as u64,
    };
    // SAFETY: `pointer` describes a leaked, never-freed IDT whose gates all
    // point at the handlers above; we run in ring 0 on hvt.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) };
}
