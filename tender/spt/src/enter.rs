//! Switching between the tender and the guest.
//!
//! `oasis_spt_enter` saves the tender's callee-saved registers and stack
//! pointer, then jumps to the guest entry on the guest's stack. Three ways
//! lead back out through `oasis_spt_leave`, which restores them and returns
//! an [`Outcome`] code from `enter`: a hypercall whose handler says stop, a
//! signal handler that redirected the guest there, or the guest returning
//! from its entry function.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Why `enter` returned.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A hypercall handler stopped the guest; the `Stop` is in the run state.
    Stopped = 1,
    /// A signal handler stopped the guest; details in `signals`.
    Signalled = 2,
    /// The guest returned from its entry function.
    Returned = 3,
}

impl Outcome {
    pub(crate) fn from_code(code: u64) -> Outcome {
        match code {
            1 => Outcome::Stopped,
            2 => Outcome::Signalled,
            _ => Outcome::Returned,
        }
    }
}

/// The tender's stack pointer while the guest runs (points at the saved
/// registers). Hypercall handlers run on the stack below it.
// SAFETY: the only symbol of this name; the assembly below reads and
// writes it as the atomic it is.
#[unsafe(no_mangle)]
pub(crate) static OASIS_SPT_TENDER_RSP: AtomicU64 = AtomicU64::new(0);

/// The tender's FS base (its TLS), restored on every way back in, because
/// a guest may change FS with `wrfsbase` and libc's `errno` lives there.
// SAFETY: the only symbol of this name; the assembly below reads and
// writes it as the atomic it is.
#[unsafe(no_mangle)]
pub(crate) static OASIS_SPT_TENDER_FS: AtomicU64 = AtomicU64::new(0);

/// 1 when the CPU and kernel allow `rdfsbase`/`wrfsbase` in user mode.
// SAFETY: the only symbol of this name; the assembly below reads and
// writes it as the atomic it is.
#[unsafe(no_mangle)]
pub(crate) static OASIS_SPT_HAVE_FSGSBASE: AtomicU8 = AtomicU8::new(0);

core::arch::global_asm!(
    r#"
    .text
    .balign 16
    .global oasis_spt_enter
    // rdi = entry, rsi = guest stack top, rdx = boot info; returns rax = Outcome.
    oasis_spt_enter:
        push rbx
        push rbp
        push r12
        push r13
        push r14
        push r15
        mov [rip + OASIS_SPT_TENDER_RSP], rsp
        cmp byte ptr [rip + OASIS_SPT_HAVE_FSGSBASE], 0
        je 2f
        rdfsbase rax
        mov [rip + OASIS_SPT_TENDER_FS], rax
    2:
        mov rax, rdi
        mov rdi, rdx
        mov rsp, rsi
        lea r11, [rip + oasis_spt_guest_returned]
        push r11
        xor ebx, ebx
        xor ebp, ebp
        xor r12d, r12d
        xor r13d, r13d
        xor r14d, r14d
        xor r15d, r15d
        xor esi, esi
        xor edx, edx
        xor ecx, ecx
        xor r8d, r8d
        xor r9d, r9d
        xor r10d, r10d
        xor r11d, r11d
        jmp rax

    .global oasis_spt_guest_returned
    oasis_spt_guest_returned:
        mov eax, 3
        jmp oasis_spt_leave

    // Signal handlers point the interrupted context here.
    .global oasis_spt_signalled
    oasis_spt_signalled:
        mov eax, 2
        jmp oasis_spt_leave

    // rax = outcome code.
    .global oasis_spt_leave
    oasis_spt_leave:
        mov rsp, [rip + OASIS_SPT_TENDER_RSP]
        cmp byte ptr [rip + OASIS_SPT_HAVE_FSGSBASE], 0
        je 3f
        mov rcx, [rip + OASIS_SPT_TENDER_FS]
        wrfsbase rcx
    3:
        pop r15
        pop r14
        pop r13
        pop r12
        pop rbp
        pop rbx
        ret

    // The guest's hypercall entry: rdi = number, rsi = argument address.
    .global oasis_spt_hypercall
    oasis_spt_hypercall:
        cld
        mov rax, rsp
        mov rsp, [rip + OASIS_SPT_TENDER_RSP]
        and rsp, -16
        sub rsp, 16
        mov [rsp], rax
        cmp byte ptr [rip + OASIS_SPT_HAVE_FSGSBASE], 0
        je 4f
        mov rcx, [rip + OASIS_SPT_TENDER_FS]
        wrfsbase rcx
    4:
        call {handle}
        test rax, rax
        jnz oasis_spt_leave
        mov rsp, [rsp]
        ret
    "#,
    handle = sym crate::run::handle_hypercall,
);

// SAFETY: these are the labels of the `global_asm!` above, with these
// signatures (System V, callee-saved registers preserved).
unsafe extern "sysv64" {
    fn oasis_spt_enter(entry: u64, stack_top: u64, boot_info: u64) -> u64;
    /// The guest's hypercall entry (its address goes in boot info).
    pub(crate) fn oasis_spt_hypercall(number: u64, arg: u64);
    /// Where signal handlers send a guest they stop.
    pub(crate) fn oasis_spt_signalled();
}

/// Runs the guest until it stops.
///
/// # Safety
/// Guest memory must be mapped at its guest addresses with the image
/// loaded, boot info written at `boot_info`, `stack_top` inside writable
/// guest memory, the hypercall state installed, and the signal handlers in
/// place: from here the guest's code runs on this thread.
pub(crate) unsafe fn enter(entry: u64, stack_top: u64, boot_info: u64) -> Outcome {
    // SAFETY: the caller upholds the contract above; `oasis_spt_enter`
    // preserves the System V callee-saved registers and returns normally.
    Outcome::from_code(unsafe { oasis_spt_enter(entry, stack_top, boot_info) })
}

/// Whether user-mode `rdfsbase`/`wrfsbase` work here (the kernel says so in
/// `AT_HWCAP2`).
pub(crate) fn detect_fsgsbase() {
    const HWCAP2_FSGSBASE: u64 = 1 << 1;
    // SAFETY: getauxval only reads the auxiliary vector.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    OASIS_SPT_HAVE_FSGSBASE.store(u8::from(hwcap2 & HWCAP2_FSGSBASE != 0), Ordering::Relaxed);
}
