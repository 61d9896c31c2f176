//! One run sequence for every tender. A tender says how it makes a machine
//! and runs guest code on it ([`Vm`]); everything else — reading and
//! checking the image, binding and opening the devices, the supervisor,
//! loading, boot info, the hypercall server, `--stats`, the sandbox, the
//! final report — happens here, in the same order for all.
//!
//! The image is checked and the devices opened in this process, so a
//! refusal costs nothing more; then [`supervise::run`] forks the guest's
//! process, which does the rest and runs the guest, while this process
//! watches it from outside.

use std::convert::Infallible;
use std::os::fd::AsRawFd;

use oasis_abi::Tender;
use vm_memory::GuestMemoryMmap;

use crate::devices::Backend;
use crate::hypercall::{Hypercalls, host_monotonic_ns, host_wall_ns};
use crate::image::Image;
use crate::memory::{self, AccessMap, BootParams, LoadError};
use crate::memstat::MemoryStats;
use crate::seccomp::{Policy, SeccompError};
use crate::setup::{self, Prepared, SetupError};
use crate::stop::Stop;
use crate::supervise::{self, Limits};
use crate::{TenderArgs, devices, report};

/// What boot info says that only the tender knows.
#[derive(Clone, Copy, Debug, Default)]
pub struct VmBoot {
    /// TSC ticks per second, where the guest may read the TSC.
    pub tsc_hz: u64,
    /// The guest's TSC at monotonic time zero.
    pub tsc_at_boot: u64,
    /// spt: the tender's hypercall entry.
    pub spt_hypercall: u64,
}

/// A tender's own part: a machine with guest memory, and a way to run
/// guest code on it until it stops.
pub trait Vm: Sized {
    /// Which tender; also names it in messages (`oasis-spt: …`).
    const TENDER: Tender;
    /// What `--stats` counts (`hypercalls`, `vm-exits`).
    const COUNTS: &'static str;
    /// Why it could not start a guest.
    type Error: From<SetupError> + From<LoadError> + From<SeccompError> + std::fmt::Display;

    /// Something to say about the host before the run (once, on stderr).
    fn host_note() -> Option<&'static str> {
        None
    }

    /// Makes the machine and its guest memory for `image` (checked to fit
    /// `args.mem`).
    fn create(args: &TenderArgs, image: &Image) -> Result<Self, Self::Error>;

    /// Guest memory.
    fn memory(&self) -> &GuestMemoryMmap;

    /// Where guest memory lies in this process, for `--stats`.
    fn host_range(&self) -> Result<(usize, usize), Self::Error>;

    /// With the image loaded: gets the machine ready to start at its entry
    /// point, and says what boot info needs from the tender. Called at
    /// monotonic time zero.
    fn boot(&mut self, args: &TenderArgs, image: &Image) -> Result<VmBoot, Self::Error>;

    /// With boot info written: last changes to guest memory (protections).
    fn seal(&mut self, _args: &TenderArgs, _image: &Image) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The sandbox: `base` (what every tender needs) with the rules the
    /// machine needs; the devices add theirs after.
    fn policy(&self, base: Policy) -> Policy;

    /// Last steps before the sandbox closes: signal handlers, exit kinds
    /// to count (so counting never allocates).
    fn arm(&mut self, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Result<(), Self::Error>;

    /// Runs the guest, inside the sandbox, until it stops.
    fn run(&mut self, image: &Image, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Stop;
}

fn name(tender: Tender) -> &'static str {
    match tender {
        Tender::Hvt => "oasis-hvt",
        Tender::Spt => "oasis-spt",
    }
}

/// Runs the guest `args` describe on tender `V`, under a supervisor, then
/// exits the process with its status. Returns only when the guest cannot
/// be started.
pub fn run<V: Vm>(args: &TenderArgs) -> Result<Infallible, V::Error> {
    let prepared = setup::prepare(args)?;
    if let Some(note) = V::host_note() {
        report::eprint(format_args!("{}: note: {note}\n", name(V::TENDER)));
    }
    let limits =
        Limits { name: name(V::TENDER), timeout: args.timeout, console_limit: args.console_limit, stats: args.stats };
    Ok(supervise::run(limits, || match guest_process::<V>(args, prepared) {})?)
}

/// The guest's process: sets the guest up and runs it; a failure to set
/// it up is reported (to the supervisor) as a refusal.
fn guest_process<V: Vm>(args: &TenderArgs, prepared: Prepared) -> Infallible {
    match guest::<V>(args, prepared) {
        Ok(never) => never,
        Err(e) => {
            report::eprint(format_args!("{}: refused: {e}\n", name(V::TENDER)));
            // SAFETY: _exit ends the process; nothing is left to clean up.
            unsafe { libc::_exit(i32::from(oasis_abi::exit::REFUSED)) }
        }
    }
}

fn guest<V: Vm>(args: &TenderArgs, Prepared { file, image, backends }: Prepared) -> Result<Infallible, V::Error> {
    // Nothing of the host but the devices, the console and the report
    // pipe stays open for the guest.
    let mut keep: Vec<i32> = vec![0, 1, 2, file.as_raw_fd()];
    keep.extend(backends.iter().map(Backend::fd));
    oasis_sys::close_other_fds(&keep).map_err(setup::host_error("closing other descriptors"))?;
    let seed = memory::fresh_seed().map_err(setup::host_error("reading the host's getrandom"))?;
    let mut vm = V::create(args, &image)?;
    file.load(vm.memory())?;
    drop(file);

    // Monotonic zero: the tender's clock origin, the wall clock and (on
    // hvt) the guest's TSC, taken together.
    let origin_ns = host_monotonic_ns();
    let wall_ns_at_boot = host_wall_ns();
    let own = vm.boot(args, &image)?;
    let params = BootParams {
        tender: V::TENDER,
        mem_size: args.mem,
        tsc_hz: own.tsc_hz,
        tsc_at_boot: own.tsc_at_boot,
        wall_ns_at_boot,
        spt_hypercall: own.spt_hypercall,
        seed,
        cpu_features: memory::host_cpu_features(),
    };
    memory::write_boot_info(vm.memory(), &image, &params, &args.guest_args)?;
    vm.seal(args, &image)?;

    let access = AccessMap::for_image(&image, args.mem);
    let mut hypercalls = Hypercalls::new(vm.memory().clone(), access, backends, origin_ns);
    let mut memstats = match args.stats {
        true => {
            let (start, len) = vm.host_range()?;
            Some(MemoryStats::open(start, len).map_err(setup::host_error("opening /proc/self/status for --stats"))?)
        }
        false => None,
    };
    let policy = devices::allow(vm.policy(Policy::base(hypercalls.poll_count())), hypercalls.devices());
    let policy = match &memstats {
        Some(m) => m.allow(policy),
        None => policy,
    };
    if args.print_filter {
        print!("{policy}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // SAFETY: _exit ends the process; stdout is flushed.
        unsafe { libc::_exit(0) }
    }
    let sandbox = policy.compile()?;
    vm.arm(args, &mut hypercalls)?;
    if args.stats {
        // So a run the supervisor ends still reports its counts.
        supervise::honour_stop_requests().map_err(setup::host_error("installing the stop-request handler"))?;
    }
    // What the guest must not read: the environment and the command line.
    oasis_sys::scrub_process_strings().map_err(setup::host_error("clearing the environment"))?;
    seccompiler::apply_filter(&sandbox).map_err(|e| SeccompError::Install(e.to_string()))?;

    let stop = vm.run(&image, args, &mut hypercalls);

    let memory = memstats.as_mut().map(|m| m.measure());
    if args.stats {
        for (h, counts) in hypercalls.fault_counts() {
            report::eprint(format_args!("net-faults {h}: {counts}\n"));
        }
    }
    report::finish(name(V::TENDER), &stop, args.stats.then_some((&hypercalls.stats, V::COUNTS, memory)))
}
