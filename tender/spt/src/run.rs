//! Setting up a guest in this process and running it to the end.

use std::sync::atomic::{AtomicPtr, Ordering};

use oasis_abi::Tender;
use oasis_abi::layout::{self, BOOT_INFO_ADDR, BOOT_INFO_END, GUEST_MIN_ADDR, KERNEL_BASE, PAGE_SIZE};
use oasis_tender::launch::{Vm, VmBoot};
use oasis_tender::memory;
use oasis_tender::seccomp::Policy;
use oasis_tender::setup::{SetupError, host_error as host};
use oasis_tender::{Hypercalls, Image, Stop, TenderArgs};
use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

use crate::enter::{self, Outcome, oasis_spt_hypercall};
use crate::signals;

/// Why a guest could not be started: the errors every tender shares.
pub type SptError = SetupError;

struct RunState {
    /// The server, which `run` lends for as long as the guest runs.
    hypercalls: *mut Hypercalls,
    stop: Option<Stop>,
}

/// The running guest's state, for the hypercall entry. Set once before the
/// guest starts; only this thread uses it.
static STATE: AtomicPtr<RunState> = AtomicPtr::new(std::ptr::null_mut());

/// Called (through `oasis_spt_hypercall`) for every guest hypercall.
/// Returns 0 to resume the guest, else an [`Outcome`] code.
pub(crate) extern "sysv64" fn handle_hypercall(number: u64, arg: u64) -> u64 {
    let ptr = STATE.load(Ordering::Relaxed);
    if ptr.is_null() {
        return Outcome::Stopped as u64;
    }
    // SAFETY: `run` points STATE at its RunState, and the RunState at its
    // exclusively borrowed server, before entering the guest, and touches
    // neither while the guest runs; hypercalls cannot nest (the guest is
    // not running while one is served), so these are the only references.
    let state = unsafe { &mut *ptr };
    // SAFETY: as above.
    let hypercalls = unsafe { &mut *state.hypercalls };
    match hypercalls.handle(number, arg) {
        Ok(()) => 0,
        Err(stop) => {
            state.stop = Some(stop);
            Outcome::Stopped as u64
        }
    }
}

/// Maps `GUEST_MIN_ADDR..mem` at those very addresses.
fn map_guest_memory(mem: u64) -> Result<GuestMemoryMmap, SptError> {
    let len = (mem - GUEST_MIN_ADDR) as usize;
    // SAFETY: a fresh anonymous private mapping at a fixed low address;
    // MAP_FIXED_NOREPLACE fails instead of replacing anything there.
    let addr = unsafe {
        libc::mmap(
            GUEST_MIN_ADDR as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(SptError::Host { what: "mapping guest memory", source: std::io::Error::last_os_error() });
    }
    if addr as u64 != GUEST_MIN_ADDR {
        return Err(SptError::Host {
            what: "mapping guest memory",
            source: std::io::Error::other("the kernel placed it elsewhere (no MAP_FIXED_NOREPLACE?)"),
        });
    }
    // SAFETY: `addr..addr+len` is the mapping just made, never unmapped
    // (the region is not owned, so dropping it will not unmap it either).
    let region = unsafe {
        MmapRegion::build_raw(
            addr.cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        )
    }
    .map_err(|e| SptError::Host { what: "describing guest memory", source: std::io::Error::other(e.to_string()) })?;
    let region = GuestRegionMmap::new(region, GuestAddress(GUEST_MIN_ADDR))
        .ok_or_else(|| SptError::Host { what: "describing guest memory", source: std::io::Error::other("overflow") })?;
    GuestMemoryMmap::from_regions(vec![region])
        .map_err(|e| SptError::Host { what: "describing guest memory", source: std::io::Error::other(e.to_string()) })
}

fn protect(start: u64, end: u64, prot: libc::c_int) -> Result<(), SptError> {
    if end <= start {
        return Ok(());
    }
    // SAFETY: the range is page-aligned and inside the guest mapping made
    // by `map_guest_memory`; changing its protection affects only the guest.
    if unsafe { libc::mprotect(start as *mut libc::c_void, (end - start) as usize, prot) } != 0 {
        return Err(SptError::Host { what: "protecting guest memory", source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// W^X for the image, read-only boot info, and the stack guard.
fn protect_layout(image: &Image, mem: u64) -> Result<(), SptError> {
    protect(BOOT_INFO_ADDR, BOOT_INFO_END, libc::PROT_READ)?;
    protect(BOOT_INFO_END, KERNEL_BASE, libc::PROT_NONE)?;
    let mut next = KERNEL_BASE;
    for s in &image.segments {
        protect(next, s.addr, libc::PROT_NONE)?;
        let end = layout::page_align_up(s.addr + s.mem_len);
        let mut prot = 0;
        if s.read {
            prot |= libc::PROT_READ;
        }
        if s.write {
            prot |= libc::PROT_WRITE;
        }
        if s.execute {
            prot |= libc::PROT_EXEC;
        }
        protect(s.addr, end, prot)?;
        next = end;
    }
    let guard = layout::heap_end(mem);
    protect(guard, guard + PAGE_SIZE, libc::PROT_NONE)
}

/// The spt tender: guest memory mapped at its own addresses in this
/// process, and the guest entered by a jump.
#[derive(Debug)]
pub struct Spt {
    mem: GuestMemoryMmap,
    mem_size: u64,
}

impl Vm for Spt {
    const TENDER: Tender = Tender::Spt;
    const COUNTS: &'static str = "hypercalls";
    type Error = SptError;

    fn create(args: &TenderArgs, _image: &Image) -> Result<Spt, SptError> {
        Ok(Spt { mem: map_guest_memory(args.mem)?, mem_size: args.mem })
    }

    fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    fn host_range(&self) -> Result<(usize, usize), SptError> {
        Ok((GUEST_MIN_ADDR as usize, (self.mem_size - GUEST_MIN_ADDR) as usize))
    }

    fn boot(&mut self, _args: &TenderArgs, _image: &Image) -> Result<VmBoot, SptError> {
        Ok(VmBoot { spt_hypercall: oasis_spt_hypercall as *const () as u64, ..VmBoot::default() })
    }

    fn seal(&mut self, args: &TenderArgs, image: &Image) -> Result<(), SptError> {
        protect_layout(image, args.mem)
    }

    fn policy(&self, base: Policy) -> Policy {
        base
    }

    fn arm(&mut self, args: &TenderArgs, _hypercalls: &mut Hypercalls) -> Result<(), SptError> {
        enter::detect_fsgsbase();
        signals::install(GUEST_MIN_ADDR, args.mem).map_err(host("installing signal handlers"))
    }

    fn run(&mut self, image: &Image, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Stop {
        let mut state = RunState { hypercalls, stop: None };
        STATE.store(&mut state, Ordering::Relaxed);
        // SAFETY: memory is mapped and loaded, boot info written, STATE set,
        // handlers installed: everything `enter` requires.
        let outcome = unsafe { enter::enter(image.entry, memory::stack_top(args.mem), BOOT_INFO_ADDR) };
        STATE.store(std::ptr::null_mut(), Ordering::Relaxed);
        match outcome {
            Outcome::Stopped => state.stop.take().unwrap_or(Stop::Internal("stopped without a reason")),
            Outcome::Signalled => signals::recorded_stop(),
            Outcome::Returned => Stop::Internal("the guest returned from its entry point"),
        }
    }
}

/// Runs the guest the arguments describe, then exits the process with its
/// status. Returns only when the guest cannot be started.
pub fn run(args: &TenderArgs) -> Result<std::convert::Infallible, SptError> {
    oasis_tender::launch::run::<Spt>(args)
}
