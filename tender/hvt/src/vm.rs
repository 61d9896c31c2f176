//! Creating the VM and putting its one vCPU in long mode.

use kvm_bindings::{CpuId, Msrs, kvm_cpuid_entry2, kvm_msr_entry, kvm_segment, kvm_userspace_memory_region};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use oasis_abi::layout::BOOT_INFO_ADDR;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::paging::{self, CODE_SELECTOR, DATA_SELECTOR, GDT, GDT_ADDR, PML4_ADDR};

const CR0_PE: u64 = 1;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;
const MSR_IA32_TSC: u32 = 0x10;

/// A VM with guest memory registered and one vCPU.
pub(crate) struct Machine {
    _vm: VmFd,
    pub(crate) vcpu: VcpuFd,
    pub(crate) mem: GuestMemoryMmap,
    _kvm: Kvm,
    /// KVM refuses the paravirtual MSRs CPUID does not offer.
    pub(crate) pv_enforced: bool,
    /// The guest's TSC started near zero, not at the host's.
    pub(crate) tsc_hidden: bool,
}

/// What went wrong talking to KVM.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct KvmError {
    /// The step.
    pub what: &'static str,
    /// KVM's answer.
    pub source: kvm_ioctls::Error,
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> KvmError {
    move |source| KvmError { what, source }
}

/// The CPUID the guest sees: the host's vendor and signature, and only the
/// features a soft-float long-mode guest needs (KVM checks LM and NX
/// before it accepts the EFER we load) plus RDRAND where the host has it.
///
/// Built here rather than taken from `KVM_GET_SUPPORTED_CPUID`, which
/// costs most of a millisecond per boot on software-emulated KVM, and
/// which would advertise features no Oasis guest uses.
fn guest_cpuid() -> Result<CpuId, KvmError> {
    use core::arch::x86_64::__cpuid;
    const FPU: u32 = 1 << 0;
    const TSC: u32 = 1 << 4;
    const MSR: u32 = 1 << 5;
    const PAE: u32 = 1 << 6;
    const CX8: u32 = 1 << 8;
    const CMOV: u32 = 1 << 15;
    const FXSR: u32 = 1 << 24;
    const SSE: u32 = 1 << 25;
    const SSE2: u32 = 1 << 26;
    const RDRAND: u32 = 1 << 30;
    const NX: u32 = 1 << 20;
    const LM: u32 = 1 << 29;
    let vendor = __cpuid(0);
    let leaf1 = __cpuid(1);
    let ext = __cpuid(0x8000_0001);
    let entry = |function, eax, ebx, ecx, edx| kvm_cpuid_entry2 {
        function,
        index: 0,
        flags: 0,
        eax,
        ebx,
        ecx,
        edx,
        ..Default::default()
    };
    let entries = [
        entry(0, 1, vendor.ebx, vendor.ecx, vendor.edx),
        entry(
            1,
            leaf1.eax,
            0,
            leaf1.ecx & RDRAND,
            leaf1.edx & (FPU | TSC | MSR | PAE | CX8 | CMOV | FXSR | SSE | SSE2),
        ),
        entry(0x8000_0000, 0x8000_0001, 0, 0, 0),
        entry(0x8000_0001, 0, 0, 0, ext.edx & (NX | LM)),
    ];
    CpuId::from_entries(&entries)
        .map_err(|_| KvmError { what: "building CPUID", source: kvm_ioctls::Error::new(libc::EINVAL) })
}

impl Machine {
    /// Opens `/dev/kvm`, creates a VM with `mem_size` bytes of zeroed guest
    /// memory at address 0, and one vCPU.
    pub(crate) fn new(mem_size: u64) -> Result<Machine, KvmError> {
        let kvm_fd = Kvm::new().map_err(kvm("opening /dev/kvm"))?;
        let vm = kvm_fd.create_vm().map_err(kvm("creating a VM"))?;
        let mem: GuestMemoryMmap = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), mem_size as usize)])
            .map_err(|_| KvmError { what: "allocating guest memory", source: kvm_ioctls::Error::new(libc::ENOMEM) })?;
        for (slot, region) in mem.iter().enumerate() {
            let host = region
                .get_host_address(vm_memory::MemoryRegionAddress(0))
                .map_err(|_| KvmError { what: "mapping guest memory", source: kvm_ioctls::Error::new(libc::EFAULT) })?;
            let r = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: region.start_addr().0,
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: the region is a live mapping owned by `mem`, which the
            // Machine keeps for as long as the VM exists.
            unsafe { vm.set_user_memory_region(r) }.map_err(kvm("registering guest memory"))?;
        }
        let vcpu = vm.create_vcpu(0).map_err(kvm("creating the vCPU"))?;
        vcpu.set_cpuid2(&guest_cpuid()?).map_err(kvm("setting CPUID"))?;
        // KVM's paravirtual MSRs (kvmclock, steal time, PV EOI…) answer
        // only what CPUID offers, and it offers nothing: they #GP.
        let enforce = kvm_bindings::kvm_enable_cap {
            cap: kvm_bindings::KVM_CAP_ENFORCE_PV_FEATURE_CPUID,
            args: [1, 0, 0, 0],
            ..Default::default()
        };
        let pv_enforced = kvm_fd.check_extension_raw(u64::from(kvm_bindings::KVM_CAP_ENFORCE_PV_FEATURE_CPUID)) > 0
            && vcpu.enable_cap(&enforce).is_ok();
        let machine = Machine { _vm: vm, vcpu, mem, _kvm: kvm_fd, pv_enforced, tsc_hidden: false };
        Ok(machine.hide_host_tsc())
    }

    /// Starts the guest's TSC near zero, so it cannot read how long the
    /// host has been up: a TSC offset (`KVM_VCPU_TSC_OFFSET`), or failing
    /// that a write of the TSC MSR; says whether either took.
    fn hide_host_tsc(mut self) -> Machine {
        // Well below any host's uptime in ticks (at 1 GHz, 100 s).
        const HIDDEN: u64 = 100_000_000_000;
        let Ok(now) = self.read_tsc() else { return self };
        if now < HIDDEN {
            self.tsc_hidden = true;
            return self;
        }
        let offset: u64 = 0u64.wrapping_sub(now);
        let attr = kvm_bindings::kvm_device_attr {
            group: kvm_bindings::KVM_VCPU_TSC_CTRL,
            attr: u64::from(kvm_bindings::KVM_VCPU_TSC_OFFSET),
            addr: &offset as *const u64 as u64,
            flags: 0,
        };
        // kvm-ioctls offers KVM_SET_DEVICE_ATTR on vCPUs only for aarch64.
        const KVM_SET_DEVICE_ATTR: u64 =
            (1 << 30) | ((size_of::<kvm_bindings::kvm_device_attr>() as u64) << 16) | (0xae << 8) | 0xe1;
        // SAFETY: the ioctl reads one kvm_device_attr (`attr`, live for the
        // call), whose `addr` points at `offset`, also live; the vCPU fd is
        // ours.
        let set = unsafe {
            libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&self.vcpu), KVM_SET_DEVICE_ATTR as _, &attr as *const _)
        };
        if set != 0 {
            let zero = Msrs::from_entries(&[kvm_msr_entry { index: MSR_IA32_TSC, data: 0, ..Default::default() }]);
            if let Ok(m) = zero {
                let _ = self.vcpu.set_msrs(&m);
            }
        }
        self.tsc_hidden = self.read_tsc().is_ok_and(|t| t < HIDDEN);
        self
    }

    /// Writes page tables and the GDT, and loads long-mode state with the
    /// vCPU at `entry`, the stack at `stack_top`, boot info in `rdi`.
    pub(crate) fn setup_long_mode(&self, tables: &paging::Tables, entry: u64, stack_top: u64) -> Result<(), KvmError> {
        let write_failed = || KvmError { what: "writing page tables", source: kvm_ioctls::Error::new(libc::EFAULT) };
        for (addr, entries) in tables {
            for (i, e) in entries.iter().enumerate() {
                self.mem.write_obj(*e, GuestAddress(addr + 8 * i as u64)).map_err(|_| write_failed())?;
            }
        }
        for (i, e) in GDT.iter().enumerate() {
            self.mem.write_obj(*e, GuestAddress(GDT_ADDR + 8 * i as u64)).map_err(|_| write_failed())?;
        }
        let mut sregs = self.vcpu.get_sregs().map_err(kvm("reading special registers"))?;
        let code = kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector: CODE_SELECTOR,
            type_: 0xb,
            present: 1,
            dpl: 0,
            db: 0,
            s: 1,
            l: 1,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        let data = kvm_segment { selector: DATA_SELECTOR, type_: 0x3, db: 1, l: 0, ..code };
        sregs.cs = code;
        sregs.ds = data;
        sregs.es = data;
        sregs.fs = data;
        sregs.gs = data;
        sregs.ss = data;
        sregs.tr = kvm_segment { base: 0, limit: 0x67, selector: 0, type_: 0xb, s: 0, db: 0, l: 0, g: 0, ..code };
        sregs.gdt.base = GDT_ADDR;
        sregs.gdt.limit = (GDT.len() * 8 - 1) as u16;
        sregs.idt.base = 0;
        sregs.idt.limit = 0;
        sregs.cr3 = PML4_ADDR;
        sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
        self.vcpu.set_sregs(&sregs).map_err(kvm("loading long mode"))?;
        let regs = kvm_bindings::kvm_regs {
            rip: entry,
            rsp: stack_top,
            rdi: BOOT_INFO_ADDR,
            rflags: 0x2,
            ..Default::default()
        };
        self.vcpu.set_regs(&regs).map_err(kvm("loading registers"))?;
        Ok(())
    }

    /// The vCPU's TSC frequency in Hz.
    pub(crate) fn tsc_hz(&self) -> Result<u64, KvmError> {
        Ok(u64::from(self.vcpu.get_tsc_khz().map_err(kvm("reading the TSC frequency"))?) * 1000)
    }

    /// The guest's TSC now. (Writing it is not reliable on every KVM —
    /// software-emulated KVM ignores the write — so the tender reads it and
    /// tells the guest where monotonic zero is.)
    pub(crate) fn read_tsc(&self) -> Result<u64, KvmError> {
        let mut msrs = Msrs::from_entries(&[kvm_msr_entry { index: MSR_IA32_TSC, ..Default::default() }])
            .map_err(|_| KvmError { what: "reading the TSC", source: kvm_ioctls::Error::new(libc::EINVAL) })?;
        let n = self.vcpu.get_msrs(&mut msrs).map_err(kvm("reading the TSC"))?;
        match msrs.as_slice().first() {
            Some(e) if n == 1 => Ok(e.data),
            _ => Err(KvmError { what: "reading the TSC", source: kvm_ioctls::Error::new(libc::EIO) }),
        }
    }
}
