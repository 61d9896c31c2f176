//! [`Platform`] for the guest side of hvt and spt.

use alloc::vec::Vec;
use core::future::Future;

use oasis_abi::{ABORT_MESSAGE_MAX, Abort, Exit, Tender, Yield, op};
use oasis_net::{NetConfig, SmolStack};
use oasis_platform::{ArgError, Declared, DeviceSetupError, Machine, Os, Platform, Termination};

use crate::block::GuestBlock;
use crate::hypercall::Kind;
use crate::net::GuestNet;
use crate::{clock, console, hypercall, news};

struct BootState {
    args: Vec<&'static str>,
    seed: [u8; 32],
}

static BOOT_STATE: spin::Mutex<Option<BootState>> = spin::Mutex::new(None);

pub(crate) fn set_boot_state(args: Vec<&'static str>, seed: [u8; 32]) {
    *BOOT_STATE.lock() = Some(BootState { args, seed });
}

/// The guest side of the tenders: hypercalls for everything.
#[derive(Debug)]
pub struct Guest;

static GUEST: Guest = Guest;

pub(crate) fn exit(status: u8) -> ! {
    console::flush_for_exit();
    if hypercall::is_pvh() {
        crate::pvh::leave(status);
    }
    let mut arg = Exit { status: u64::from(status) };
    hypercall::call::<op::Exit>(&mut arg);
    // SAFETY: the tender never resumes a guest after EXIT; `ud2` makes sure.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

pub(crate) fn abort_message(message: &str) -> ! {
    if hypercall::is_pvh() {
        crate::pvh::abort(message);
    }
    console::flush_for_exit();
    let len = message.len().min(ABORT_MESSAGE_MAX as usize);
    let mut arg = Abort { message: message.as_ptr().addr() as u64, len: len as u64 };
    hypercall::call::<op::Abort>(&mut arg);
    // SAFETY: the tender never resumes a guest after ABORT; `ud2` makes sure.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

/// A PVH boot has no devices yet (virtio comes later): a unikernel that
/// declares one stops here, naming it.
fn refuse_devices_on_pvh(device: Declared) {
    if hypercall::is_pvh() {
        let message =
            alloc::format!("device '{}': no devices on a PVH boot yet (virtio is not supported)", device.name);
        crate::pvh::abort(&message);
    }
}

impl Machine for Guest {
    fn name(&self) -> &'static str {
        match hypercall::kind() {
            Kind::Tender(Tender::Hvt) => "hvt",
            Kind::Tender(Tender::Spt) => "spt",
            Kind::Pvh => "pvh",
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

    fn wait(&self, deadline_ns: Option<u64>) {
        console::flush();
        if hypercall::is_pvh() {
            return crate::pvh::wait(deadline_ns);
        }
        let mut arg = Yield { deadline_ns: deadline_ns.unwrap_or(u64::MAX), ready: 0 };
        hypercall::call::<op::Yield>(&mut arg);
        news::deliver(arg.ready);
    }

    fn has_wakeable_devices(&self) -> bool {
        news::anyone_waiting()
    }

    fn exit(&self, status: u8) -> ! {
        exit(status)
    }

    fn abort(&self, message: &str) -> ! {
        abort_message(message)
    }
}

impl Platform for Guest {
    type Net = SmolStack<GuestNet>;
    type Block = GuestBlock;
    type NetSetup = (u32, NetConfig);
    type BlockSetup = u32;

    fn instance() -> &'static Guest {
        &GUEST
    }

    fn take_net_args(device: Declared, args: &mut Vec<&'static str>) -> Result<(u32, NetConfig), ArgError> {
        refuse_devices_on_pvh(device);
        Ok((device.handle, NetConfig::take_from_args(args)?))
    }

    fn open_net(&'static self, os: &Os, (handle, config): (u32, NetConfig)) -> Result<Self::Net, DeviceSetupError> {
        Ok(SmolStack::new(os, GuestNet::open(handle), config))
    }

    fn take_block_args(device: Declared, _args: &mut Vec<&'static str>) -> Result<u32, ArgError> {
        refuse_devices_on_pvh(device);
        Ok(device.handle)
    }

    fn open_block(&'static self, _os: &Os, handle: u32) -> Result<GuestBlock, DeviceSetupError> {
        Ok(GuestBlock::open(handle))
    }

    fn boot<S, P, F, Fut, T>(setup: S, main: F) -> u8
    where
        S: FnOnce(&mut Vec<&'static str>) -> Result<P, ArgError>,
        F: FnOnce(Os, P) -> Fut,
        Fut: Future<Output = T> + 'static,
        T: Termination,
    {
        let Some(state) = BOOT_STATE.lock().take() else { abort_message("the guest booted twice") };
        oasis_runtime::start(&GUEST, state.args, state.seed, setup, main)
    }
}

/// The entry `#[oasis::main]` gives an image for the tenders: the
/// `__oasis_main` the boot code calls, returning the exit status.
#[macro_export]
#[doc(hidden)]
macro_rules! entry {
    ($run:expr) => {
        // SAFETY: the tender platform's boot code declares `__oasis_main` as
        // a safe `fn() -> u8`; this is its one definition in the image.
        #[unsafe(no_mangle)]
        pub fn __oasis_main() -> u8 {
            $run
        }
    };
}
