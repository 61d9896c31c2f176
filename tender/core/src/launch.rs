//! One run sequence for every tender. A tender says how it makes a machine
//! and runs guest code on it ([`Vm`]); everything else — reading and
//! checking the image, binding and opening the devices, loading, boot
//! info, the hypercall server, `--stats`, the sandbox, the final report —
//! happens here, in the same order for all.

use std::convert::Infallible;

use oasis_abi::Tender;
use vm_memory::GuestMemoryMmap;

use crate::hypercall::{Hypercalls, host_monotonic_ns, host_wall_ns};
use crate::image::Image;
use crate::memory::{self, AccessMap, BootParams, LoadError};
use crate::memstat::MemoryStats;
use crate::seccomp::{Policy, SeccompError};
use crate::setup::{self, Prepared, SetupError};
use crate::stop::Stop;
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
    type Error: From<SetupError> + From<LoadError> + From<SeccompError>;

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

    /// The sandbox rules the machine needs, before the devices add theirs.
    fn policy(&self) -> Policy;

    /// Last steps before the sandbox closes: signal handlers, exit kinds
    /// to count (so counting never allocates).
    fn arm(&mut self, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Result<(), Self::Error>;

    /// Runs the guest, inside the sandbox, until it stops.
    fn run(&mut self, image: &Image, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Stop;
}

/// Runs the guest `args` describe on tender `V`, then exits the process
/// with its status. Returns only when the guest cannot be started.
pub fn run<V: Vm>(args: &TenderArgs) -> Result<Infallible, V::Error> {
    let Prepared { file, image, backends } = setup::prepare(args)?;
    let seed = memory::fresh_seed().map_err(setup::host_error("reading the host's getrandom"))?;
    let mut vm = V::create(args, &image)?;
    memory::load_image(vm.memory(), &image, &file)?;
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
    let mut hypercalls = Hypercalls::new(vm.memory().clone(), access, backends, args.timeout, origin_ns);
    let mut memstats = match args.stats {
        true => {
            let (start, len) = vm.host_range()?;
            Some(MemoryStats::open(start, len).map_err(setup::host_error("opening /proc/self/status for --stats"))?)
        }
        false => None,
    };
    let policy = devices::allow(vm.policy(), hypercalls.devices());
    let sandbox = match &memstats {
        Some(m) => m.allow(policy),
        None => policy,
    }
    .compile()?;
    vm.arm(args, &mut hypercalls)?;
    seccompiler::apply_filter(&sandbox).map_err(|e| SeccompError::Install(e.to_string()))?;

    let stop = vm.run(&image, args, &mut hypercalls);

    let memory = memstats.as_mut().map(|m| m.measure());
    if args.stats {
        for (h, counts) in hypercalls.fault_counts() {
            report::eprint(format_args!("net-faults {h}: {counts}\n"));
        }
    }
    let name = match V::TENDER {
        Tender::Hvt => "oasis-hvt",
        Tender::Spt => "oasis-spt",
    };
    report::finish(name, &stop, args.stats.then_some((&hypercalls.stats, V::COUNTS, memory)))
}
