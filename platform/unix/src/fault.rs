//! CPU faults reported like the tenders report them: a one-line message
//! naming the signal, the faulting address and the instruction pointer,
//! then exit status [`oasis_abi::exit::STOPPED`].

use std::sync::Once;

const ALT_STACK_SIZE: usize = 64 * 1024;

fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGSEGV => "page fault (SIGSEGV)",
        libc::SIGBUS => "bus error (SIGBUS)",
        libc::SIGILL => "invalid opcode (SIGILL)",
        libc::SIGFPE => "arithmetic fault (SIGFPE)",
        _ => "fault",
    }
}

extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    // SAFETY: with SA_SIGINFO the third argument is the interrupted
    // context, a ucontext_t.
    let rip = unsafe { (*(context as *const libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RIP as usize] } as u64;
    oasis_sys::eprint(format_args!(
        "oasis-unix: stopped: guest fault: {} at address {address:#x}, rip {rip:#x}\n",
        signal_name(signal)
    ));
    // SAFETY: _exit(2) is async-signal-safe.
    unsafe { libc::_exit(i32::from(oasis_abi::exit::STOPPED)) }
}

/// Installs the fault handlers (once) on an alternate stack, so a stack
/// overflow is reported too.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let stack = Box::leak(vec![0u8; ALT_STACK_SIZE].into_boxed_slice());
        let ss = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
        // SAFETY: `ss` describes a leaked buffer that lives for the rest of
        // the process; the sigaction struct is zeroed then filled with a
        // handler of the SA_SIGINFO signature.
        unsafe {
            libc::sigaltstack(&ss, std::ptr::null_mut());
            for signal in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE] {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}
