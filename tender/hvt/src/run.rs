//! Setting up the VM and running the vCPU loop.

use kvm_ioctls::VcpuExit;
use oasis_abi::{HVT_PORT_BASE, Tender};
use oasis_tender::launch::{Vm, VmBoot};
use oasis_tender::memory;
use oasis_tender::seccomp::{Policy, SeccompError};
use oasis_tender::setup::SetupError;
use oasis_tender::stop::{Fault, FaultKind};
use oasis_tender::{Hypercalls, Image, LoadError, Stop, TenderArgs, Violation, report};
use vm_memory::GuestMemoryMmap;

use crate::paging::{self, PagingError};
use crate::vm::{KvmError, Machine};

/// Why a guest could not be started; the tender exits with
/// `oasis_abi::exit::REFUSED` after printing it.
#[derive(Debug, thiserror::Error)]
pub enum HvtError {
    /// What every tender can fail at.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// KVM refused something.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// The page tables could not be built.
    #[error(transparent)]
    Paging(#[from] PagingError),
}

impl From<LoadError> for HvtError {
    fn from(e: LoadError) -> HvtError {
        HvtError::Setup(e.into())
    }
}

impl From<SeccompError> for HvtError {
    fn from(e: SeccompError) -> HvtError {
        HvtError::Setup(e.into())
    }
}

extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: this is the SIGSYS handler's own siginfo_t.
    let (_, number) = unsafe { oasis_sys::sigsys_fields(info) };
    report::eprint(format_args!("oasis-hvt: stopped: the tender made a forbidden system call {number} (tender bug)\n"));
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(i32::from(oasis_abi::exit::STOPPED)) };
}

fn install_signals() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction filled with a handler of the right
    // signature.
    unsafe {
        let mut sys: libc::sigaction = std::mem::zeroed();
        sys.sa_sigaction = on_sigsys as *const () as usize;
        sys.sa_flags = libc::SA_SIGINFO;
        libc::sigfillset(&mut sys.sa_mask);
        if libc::sigaction(libc::SIGSYS, &sys, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

const fn ioctl_read(nr: u64, size: u64) -> u64 {
    (2 << 30) | (size << 16) | (0xae << 8) | nr
}
const KVM_RUN: u64 = 0xae80;
const KVM_GET_REGS: u64 = ioctl_read(0x81, size_of::<kvm_bindings::kvm_regs>() as u64);
const KVM_GET_SREGS: u64 = ioctl_read(0x83, size_of::<kvm_bindings::kvm_sregs>() as u64);

/// The sandbox of the vCPU loop: the base policy plus `KVM_RUN` and the two
/// register reads (for fault reports) on the vCPU descriptor only.
pub fn policy(base: Policy, vcpu_fd: i32) -> Policy {
    let fd = vcpu_fd as u64;
    base.allow_when(libc::SYS_ioctl, "ioctl", &[(0, fd), (1, KVM_RUN)], "KVM_RUN: run the vCPU")
        .allow_when(libc::SYS_ioctl, "ioctl", &[(0, fd), (1, KVM_GET_REGS)], "read registers to report a fault")
        .allow_when(libc::SYS_ioctl, "ioctl", &[(0, fd), (1, KVM_GET_SREGS)], "read CR2 to report a fault")
}

/// Exit kinds counted besides hypercalls, registered before the sandbox so
/// counting never allocates.
const EXIT_KINDS: &[&str] = &["io-other", "hlt", "shutdown", "mmio", "intr", "internal-error", "fail-entry", "other"];

/// What one VM exit means, copied out of the vCPU's run structure.
enum Exit {
    Hypercall(u64, u64),
    BadPort(u16),
    Halt,
    Shutdown,
    Mmio(u64),
    Interrupted,
    InternalError,
    FailEntry,
    Other,
}

fn classify(exit: Result<VcpuExit<'_>, kvm_ioctls::Error>) -> Exit {
    match exit {
        Ok(VcpuExit::IoOut(port, data)) => {
            // Ports 0x500..0x600 are hypercalls; the server refuses numbers
            // that name no call.
            let number = port.wrapping_sub(HVT_PORT_BASE);
            match <[u8; 4]>::try_from(data) {
                Ok(bytes) if port >= HVT_PORT_BASE && number < 0x100 => {
                    Exit::Hypercall(u64::from(number), u64::from(u32::from_le_bytes(bytes)))
                }
                _ => Exit::BadPort(port),
            }
        }
        Ok(VcpuExit::IoIn(port, _)) => Exit::BadPort(port),
        Ok(VcpuExit::Hlt) => Exit::Halt,
        Ok(VcpuExit::Shutdown) => Exit::Shutdown,
        Ok(VcpuExit::MmioRead(addr, _) | VcpuExit::MmioWrite(addr, _)) => Exit::Mmio(addr),
        Ok(VcpuExit::Intr) => Exit::Interrupted,
        Ok(VcpuExit::InternalError) => Exit::InternalError,
        Ok(VcpuExit::FailEntry(..)) => Exit::FailEntry,
        Ok(_) => Exit::Other,
        Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Interrupted,
        Err(_) => Exit::Other,
    }
}

fn fault(machine: &Machine, kind: FaultKind, address: Option<u64>) -> Stop {
    let rip = machine.vcpu.get_regs().map(|r| r.rip).unwrap_or(0);
    Stop::Fault(Fault { kind, rip, address })
}

fn vcpu_loop(machine: &mut Machine, hypercalls: &mut Hypercalls) -> Stop {
    loop {
        let exit = classify(machine.vcpu.run());
        let outcome = match exit {
            Exit::Hypercall(number, arg) => hypercalls.handle(number, arg),
            Exit::BadPort(port) => {
                hypercalls.stats.other("io-other");
                Err(Violation::UnknownPort { port }.into())
            }
            Exit::Halt => {
                hypercalls.stats.other("hlt");
                let interrupts_on = machine.vcpu.get_regs().is_ok_and(|r| r.rflags & (1 << 9) != 0);
                Err(fault(machine, FaultKind::Halt { interrupts_on }, None))
            }
            Exit::Shutdown => {
                hypercalls.stats.other("shutdown");
                Err(fault(machine, FaultKind::TripleFault, None))
            }
            Exit::Mmio(addr) => {
                hypercalls.stats.other("mmio");
                Err(fault(machine, FaultKind::Mmio, Some(addr)))
            }
            Exit::Interrupted => {
                hypercalls.stats.other("intr");
                if oasis_tender::supervise::stop_asked() { Err(Stop::Asked) } else { Ok(()) }
            }
            Exit::InternalError => {
                hypercalls.stats.other("internal-error");
                // SAFETY: the last exit was KVM_EXIT_INTERNAL_ERROR, so the
                // `internal` member of the union is the one KVM filled.
                let sub = unsafe { machine.vcpu.get_kvm_run().__bindgen_anon_1.internal.suberror };
                Err(fault(machine, FaultKind::KvmInternal(sub), None))
            }
            Exit::FailEntry => {
                hypercalls.stats.other("fail-entry");
                Err(Stop::Internal("KVM could not enter the guest"))
            }
            Exit::Other => {
                hypercalls.stats.other("other");
                Err(Stop::Internal("an unexpected VM exit"))
            }
        };
        if let Err(stop) = outcome {
            return stop;
        }
    }
}

fn host_err(what: &'static str) -> impl FnOnce(std::io::Error) -> HvtError {
    move |source| SetupError::Host { what, source }.into()
}

/// The hvt tender: a KVM virtual machine with one vCPU.
pub struct Hvt {
    machine: Machine,
    mem_size: u64,
}

impl std::fmt::Debug for Hvt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hvt").field("mem_size", &self.mem_size).finish()
    }
}

impl Vm for Hvt {
    const TENDER: Tender = Tender::Hvt;
    const COUNTS: &'static str = "vm-exits";
    type Error = HvtError;

    fn create(args: &TenderArgs, _image: &Image) -> Result<Hvt, HvtError> {
        Ok(Hvt { machine: Machine::new(args.mem)?, mem_size: args.mem })
    }

    fn memory(&self) -> &GuestMemoryMmap {
        &self.machine.mem
    }

    fn host_range(&self) -> Result<(usize, usize), HvtError> {
        let host = vm_memory::GuestMemoryBackend::get_host_address(&self.machine.mem, vm_memory::GuestAddress(0))
            .map_err(|_| host_err("finding guest memory")(std::io::Error::other("unmapped")))?;
        Ok((host as usize, self.mem_size as usize))
    }

    fn boot(&mut self, args: &TenderArgs, image: &Image) -> Result<VmBoot, HvtError> {
        // First, so it is read at monotonic zero.
        let tsc_at_boot = self.machine.read_tsc()?;
        let tables = paging::build(image, args.mem)?;
        self.machine.setup_long_mode(&tables, image.entry, memory::stack_top(args.mem))?;
        Ok(VmBoot { tsc_hz: self.machine.tsc_hz()?, tsc_at_boot, spt_hypercall: 0 })
    }

    fn host_note() -> Option<&'static str> {
        std::path::Path::new("/sys/module/kvm_pvm").exists().then_some(
            "KVM here is software-emulated (kvm_pvm): the guest runs about 10^4 times slower than on hardware",
        )
    }

    fn policy(&self, base: Policy) -> Policy {
        use std::os::fd::AsRawFd;
        policy(base, self.machine.vcpu.as_raw_fd())
    }

    fn arm(&mut self, args: &TenderArgs, hypercalls: &mut Hypercalls) -> Result<(), HvtError> {
        if args.stats {
            // What this KVM let the tender hide from the guest (software-
            // emulated KVM takes neither; docs/tenders.md).
            report::eprint(format_args!(
                "tsc-hidden: {}\npv-features-refused: {}\n",
                self.machine.tsc_hidden, self.machine.pv_enforced
            ));
        }
        hypercalls.stats.prepare(EXIT_KINDS);
        install_signals().map_err(host_err("installing signal handlers"))
    }

    fn run(&mut self, _image: &Image, _args: &TenderArgs, hypercalls: &mut Hypercalls) -> Stop {
        vcpu_loop(&mut self.machine, hypercalls)
    }
}

/// Runs the guest the arguments describe, then exits the process with its
/// status. Returns only when the guest cannot be started.
pub fn run(args: &TenderArgs) -> Result<std::convert::Infallible, HvtError> {
    oasis_tender::launch::run::<Hvt>(args)
}
