//! Signals that end a guest: CPU faults and forbidden system calls
//! (seccomp traps with `SIGSYS`). (`--timeout` is the supervisor's: it kills
//! this process from outside, whatever the guest did to its signals.)
//!
//! A handler that finds the thread in guest code records what happened and
//! rewrites the interrupted context to resume at `oasis_spt_signalled`,
//! which leaves the guest like any other stop. In tender code a fault is a
//! tender bug (or a guest that jumped into it): the handler prints one line
//! and exits, since the tender's own state can no longer be trusted.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};

use oasis_abi::exit;
use oasis_tender::stop::{Fault, FaultKind, Stop, signal_name, syscall_name};

use crate::enter::{OASIS_SPT_TENDER_RSP, oasis_spt_signalled};

static GUEST_LOW: AtomicU64 = AtomicU64::new(0);
static GUEST_HIGH: AtomicU64 = AtomicU64::new(0);
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static RIP: AtomicU64 = AtomicU64::new(0);
static ADDRESS: AtomicU64 = AtomicU64::new(0);
static SYSCALL: AtomicI64 = AtomicI64::new(0);

const ALT_STACK_SIZE: usize = 64 * 1024;

/// The handlers' alternate stack. A static, so it lies in `.bss`: its
/// pages are only made when a signal is delivered on them (a zeroed heap
/// buffer cost a 64 KiB memset at every boot).
#[repr(C, align(16))]
struct AltStack(std::cell::UnsafeCell<[u8; ALT_STACK_SIZE]>);

// SAFETY: Rust code never reads or writes the stack; only the kernel
// does, when it delivers a signal on it.
unsafe impl Sync for AltStack {}

static ALT_STACK: AltStack = AltStack(std::cell::UnsafeCell::new([0; ALT_STACK_SIZE]));
const HANDLED: [libc::c_int; 6] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGTRAP, libc::SIGSYS];

fn die_in_tender(what: std::fmt::Arguments<'_>) -> ! {
    oasis_sys::eprint(format_args!("oasis-spt: stopped: {what}\n"));
    // SAFETY: _exit(2) is async-signal-safe and allowed by the sandbox.
    unsafe { libc::_exit(i32::from(exit::STOPPED)) }
}

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let uc = context.cast::<libc::ucontext_t>();
    // SAFETY: with SA_SIGINFO the kernel passes the interrupted context.
    let rip = unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] } as u64;
    let in_guest = rip >= GUEST_LOW.load(Ordering::Relaxed) && rip < GUEST_HIGH.load(Ordering::Relaxed);
    match signal {
        libc::SIGSYS => {
            // SAFETY: this is the SIGSYS handler's own siginfo_t.
            let (_, number) = unsafe { oasis_sys::sigsys_fields(info) };
            if !in_guest {
                die_in_tender(format_args!(
                    "forbidden system call {} ({number}) at rip {rip:#x}, outside the guest image",
                    syscall_name(number)
                ));
            }
            SYSCALL.store(number, Ordering::Relaxed);
        }
        _ => {
            if !in_guest {
                die_in_tender(format_args!("{} in the tender at rip {rip:#x} (tender bug)", signal_name(signal)));
            }
            // SAFETY: the kernel passes a valid siginfo_t; si_addr is the
            // faulting address for the fault signals handled here.
            ADDRESS.store(unsafe { (*info).si_addr() } as u64, Ordering::Relaxed);
        }
    }
    SIGNAL.store(signal, Ordering::Relaxed);
    RIP.store(rip, Ordering::Relaxed);
    // SAFETY: rewriting the saved context is how a handler changes where
    // the thread resumes; `oasis_spt_signalled` needs no particular stack
    // (it loads the tender's stack pointer first).
    unsafe {
        (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] = oasis_spt_signalled as *const () as i64;
        (*uc).uc_mcontext.gregs[libc::REG_RSP as usize] = OASIS_SPT_TENDER_RSP.load(Ordering::Relaxed) as i64;
    }
}

/// Installs the handlers on an alternate stack (so a guest with a wild
/// stack pointer is still caught) and notes the guest's address range.
pub(crate) fn install(guest_low: u64, guest_high: u64) -> std::io::Result<()> {
    GUEST_LOW.store(guest_low, Ordering::Relaxed);
    GUEST_HIGH.store(guest_high, Ordering::Relaxed);
    let ss = libc::stack_t { ss_sp: ALT_STACK.0.get().cast(), ss_flags: 0, ss_size: ALT_STACK_SIZE };
    // SAFETY: `ss` describes a static buffer, which lives as long as the
    // process and which nothing else uses.
    if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    for signal in HANDLED {
        // SAFETY: a zeroed sigaction is valid; we fill in an SA_SIGINFO
        // handler and a full mask so handlers never nest.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigfillset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop a signal handler recorded.
pub(crate) fn recorded_stop() -> Stop {
    let signal = SIGNAL.load(Ordering::Relaxed);
    let rip = RIP.load(Ordering::Relaxed);
    match signal {
        libc::SIGSYS => Stop::ForbiddenSyscall { number: SYSCALL.load(Ordering::Relaxed), rip },
        s => Stop::Fault(Fault {
            kind: FaultKind::Signal(s),
            rip,
            address: matches!(s, libc::SIGSEGV | libc::SIGBUS).then(|| ADDRESS.load(Ordering::Relaxed)),
        }),
    }
}
