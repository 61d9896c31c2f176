//! [`oasis_runtime::Platform`] for hvt and spt.

use alloc::vec::Vec;
use core::future::Future;

use oasis_abi::{ABORT_MESSAGE_MAX, Abort, Exit, Tender, Yield, op};
use oasis_runtime::Termination;

use crate::{clock, console, hypercall};

struct BootState {
    args: Vec<&'static str>,
    seed: [u8; 32],
}

static BOOT_STATE: spin::Mutex<Option<BootState>> = spin::Mutex::new(None);

pub(crate) fn set_boot_state(_tender: Tender, args: Vec<&'static str>, seed: [u8; 32]) {
    *BOOT_STATE.lock() = Some(BootState { args, seed });
}

/// The guest side of every tender.
struct Guest;

static GUEST: Guest = Guest;

pub(crate) fn exit(status: u8) -> ! {
    console::flush_for_exit();
    let mut arg = Exit { status: u64::from(status) };
    hypercall::call::<op::Exit>(&mut arg);
    // SAFETY: the tender never resumes a guest after EXIT; `ud2` makes sure.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

pub(crate) fn abort_message(message: &str) -> ! {
    console::flush_for_exit();
    let len = message.len().min(ABORT_MESSAGE_MAX as usize);
    let mut arg = Abort { message: message.as_ptr().addr() as u64, len: len as u64 };
    hypercall::call::<op::Abort>(&mut arg);
    // SAFETY: the tender never resumes a guest after ABORT; `ud2` makes sure.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

impl oasis_runtime::Platform for Guest {
    fn name(&self) -> &'static str {
        match hypercall::tender() {
            Tender::Hvt => "hvt",
            Tender::Spt => "spt",
        }
    }

    fn monotonic_ns(&self) -> u64 {
        clock::monotonic_ns()
    }

    fn wall_ns(&self) -> u64 {
        clock::wall_ns()
    }

    fn console_write(&self, bytes: &[u8]) {
        console::write(bytes);
    }

    fn console_flush(&self) {
        console::flush();
    }

    fn wait(&self, deadline_ns: Option<u64>) -> u64 {
        crate::net::flush_all();
        console::flush();
        let mut arg = Yield { deadline_ns: deadline_ns.unwrap_or(u64::MAX), ready: 0 };
        hypercall::call::<op::Yield>(&mut arg);
        crate::net::note_ready(arg.ready);
        arg.ready
    }

    fn exit(&self, status: u8) -> ! {
        exit(status)
    }

    fn abort(&self, message: &str) -> ! {
        abort_message(message)
    }
}

/// Runs the application's `main` on the runtime; called by the code
/// `#[oasis::main]` generates. `setup` takes the devices' boot arguments
/// (see `oasis_runtime::start`). Returns the exit status.
pub fn run<S, P, F, Fut, T>(setup: S, main: F) -> u8
where
    S: FnOnce(&mut Vec<&'static str>) -> Result<P, oasis_runtime::ArgError>,
    F: FnOnce(oasis_runtime::Os, P) -> Fut,
    Fut: Future<Output = T> + 'static,
    T: Termination,
{
    let Some(state) = BOOT_STATE.lock().take() else { abort_message("oasis_platform_tender::run called twice") };
    oasis_runtime::start(&GUEST, state.args, state.seed, setup, main)
}
