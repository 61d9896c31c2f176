//! Helpers shared by the test guests.
//!
//! Each binary in `src/bin` is one behaviour, in the manner of Solo5's
//! `tests/`: the platform conformance suite (`time`, `quiet`, `panic`, …)
//! and the hostile guests that break the ABI on purpose. Some must do what
//! safe Rust cannot (dereference null, make a raw system call, pass a wild
//! pointer to a hypercall); they carry `unsafe` with a `SAFETY:` note
//! saying it is deliberate. Nothing else in the project does.
//!
//! Guest-only binaries (those with hand-made manifests or raw hypercalls)
//! build as stubs for the host that exit with status 2.

#![no_std]

/// Raw hypercalls for the hostile guests.
#[cfg(target_os = "none")]
pub mod hostile {
    pub use oasis::abi::nr;

    /// Makes call `number` with the argument struct `arg`, however wrong
    /// its contents are.
    pub fn call<T>(number: u64, arg: &mut T) {
        call_at(number, (arg as *mut T).addr() as u64);
    }

    /// Makes call `number` naming `addr` as its argument struct.
    pub fn call_at(number: u64, addr: u64) {
        // SAFETY: deliberately breaking the contract is the point: the
        // tender must refuse, and must only ever read or write guest memory.
        unsafe { oasis_platform_tender::hypercall::raw(number, addr) }
    }

    /// Guest memory size the hostile tests run with (`--mem=32M`).
    pub const MEM: u64 = 32 << 20;
}
/// Raw system calls and forged signal frames, for the hostile guests that
/// attack spt's sandbox itself rather than the hypercall ABI: a guest on
/// spt shares the tender's process and can do all of this.
#[cfg(target_os = "none")]
pub mod raw {
    /// System call numbers (x86-64).
    pub mod nr {
        /// `write`.
        pub const WRITE: u64 = 1;
        /// `pwrite64`.
        pub const PWRITE64: u64 = 18;
        /// `rt_sigreturn`.
        pub const RT_SIGRETURN: u64 = 15;
        /// `getpid` (never allowed by the sandbox).
        pub const GETPID: u64 = 39;
    }

    /// Makes system call `nr` with up to six arguments; returns `rax`.
    pub fn syscall(nr: u64, a: [u64; 6]) -> i64 {
        let ret: i64;
        // SAFETY: deliberately raw: the sandbox is what is being tested.
        // The kernel touches only memory the arguments name, which the
        // callers pass as their own buffers (or wild, on purpose).
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") nr as i64 => ret,
                in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            )
        };
        ret
    }

    /// What to do once a forged signal frame has been returned through.
    #[derive(Clone, Copy, Debug)]
    pub enum Then {
        /// Spin forever.
        Spin,
        /// Read address 0.
        NullDeref,
        /// Make a system call the sandbox forbids.
        Forbidden,
        /// Load a wild stack pointer and fault, so no handler can run on it.
        WildStack,
    }

    core::arch::global_asm!(
        r#"
        .text
        .global oasis_hostile_spin
    oasis_hostile_spin:
        jmp oasis_hostile_spin
        .global oasis_hostile_null
    oasis_hostile_null:
        mov rax, [0]
        ud2
        .global oasis_hostile_forbidden
    oasis_hostile_forbidden:
        mov eax, 39
        syscall
        ud2
        .global oasis_hostile_wild_stack
    oasis_hostile_wild_stack:
        mov rsp, 0x8
        mov rax, [0]
        ud2
        "#
    );

    // SAFETY: the labels above, defined once in this image.
    unsafe extern "C" {
        fn oasis_hostile_spin();
        fn oasis_hostile_null();
        fn oasis_hostile_forbidden();
        fn oasis_hostile_wild_stack();
    }

    /// The kernel's `struct ucontext` on x86-64, as `rt_sigreturn` reads it
    /// at the stack pointer: flags, link, the alternate stack, the saved
    /// registers (`struct sigcontext`) and the signal mask.
    #[repr(C, align(16))]
    struct Ucontext {
        flags: u64,
        link: u64,
        ss_sp: u64,
        ss_flags: u64,
        ss_size: u64,
        /// r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip.
        regs: [u64; 17],
        eflags: u64,
        /// cs, gs, fs, ss (16 bits each).
        segments: u64,
        err_trapno_oldmask_cr2: [u64; 4],
        fpstate: u64,
        reserved: [u64; 8],
        sigmask: u64,
    }

    const _: () = assert!(core::mem::size_of::<Ucontext>() == 304);

    /// A stack for whatever runs after the forged return.
    static mut AFTER_STACK: [u64; 1024] = [0; 1024];
    static mut FRAME: Ucontext = Ucontext {
        flags: 0,
        link: 0,
        ss_sp: 0,
        ss_flags: 0,
        ss_size: 0,
        regs: [0; 17],
        eflags: 0,
        segments: 0,
        err_trapno_oldmask_cr2: [0; 4],
        fpstate: 0,
        reserved: [0; 8],
        sigmask: 0,
    };

    /// Returns from a signal that never came, through a frame of our own:
    /// the kernel installs `mask` as the blocked signals (all 64 bits set
    /// blocks everything it lets a process block), disables the alternate
    /// signal stack if asked, and resumes at `then`. Never returns.
    pub fn forge_sigreturn(mask: u64, disable_altstack: bool, then: Then) -> ! {
        let target = match then {
            Then::Spin => oasis_hostile_spin as *const () as u64,
            Then::NullDeref => oasis_hostile_null as *const () as u64,
            Then::Forbidden => oasis_hostile_forbidden as *const () as u64,
            Then::WildStack => oasis_hostile_wild_stack as *const () as u64,
        };
        // SAFETY: single-threaded guest; the statics are only touched here,
        // once, right before the guest gives up control of its registers.
        unsafe {
            let stack = core::ptr::addr_of_mut!(AFTER_STACK);
            let top = (stack as u64 + core::mem::size_of::<[u64; 1024]>() as u64) & !15;
            let frame = core::ptr::addr_of_mut!(FRAME);
            (*frame).ss_flags = if disable_altstack { 2 } else { 0 }; // SS_DISABLE
            (*frame).regs[15] = top - 8; // rsp, as after a call
            (*frame).regs[16] = target; // rip
            (*frame).eflags = 0x202;
            (*frame).segments = 0x33 | (0x2b << 48); // cs, ss
            (*frame).sigmask = mask;
            core::arch::asm!(
                "mov rsp, {frame}",
                "mov eax, 15",
                "syscall",
                "ud2",
                frame = in(reg) frame as u64,
                options(noreturn),
            )
        }
    }
}
