//! What the tender tells the guest at entry.
//!
//! At entry `rsp` is the top of guest memory (16-byte aligned) and `rdi` is
//! [`crate::layout::BOOT_INFO_ADDR`], where this structure lies. Memory
//! that no segment's file data covers is zero.

/// `b"OASISBI\0"` read as a little-endian `u64`.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"OASISBI\0");

/// Which tender runs the guest; selects how hypercalls are made.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tender {
    /// KVM: hypercalls are `out` instructions.
    Hvt = 1,
    /// Seccomp process: hypercalls are calls to `spt_hypercall`.
    Spt = 2,
}

impl Tender {
    /// The tender with this number, if any.
    pub const fn from_u32(v: u32) -> Option<Tender> {
        match v {
            1 => Some(Tender::Hvt),
            2 => Some(Tender::Spt),
            _ => None,
        }
    }
}

/// Boot information, written by the tender at
/// [`BOOT_INFO_ADDR`](crate::layout::BOOT_INFO_ADDR).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// [`BOOT_MAGIC`].
    pub magic: u64,
    /// [`crate::ABI_VERSION`] of the tender. A guest seeing another value
    /// MUST NOT make any call (their numbers may differ); it executes `ud2`,
    /// which every tender reports as a fault.
    pub abi_version: u32,
    /// A [`Tender`] number.
    pub tender: u32,
    /// Size of guest memory; addresses `GUEST_MIN_ADDR..mem_size` are RAM.
    pub mem_size: u64,
    /// First page-aligned address above every loaded segment.
    pub kernel_end: u64,
    /// Number of arguments.
    pub argc: u64,
    /// Address of the arguments: `argc` NUL-terminated UTF-8 strings, back
    /// to back, inside the boot-info area.
    pub argv: u64,
    /// Total length of the argument strings, NULs included.
    pub args_len: u64,
    /// hvt: TSC ticks per second; 0 where the guest must use the clock calls.
    pub tsc_hz: u64,
    /// hvt: the guest's TSC at monotonic time zero.
    pub tsc_at_boot: u64,
    /// Wall-clock time, ns since the Unix epoch, at monotonic time zero.
    pub wall_ns_at_boot: u64,
    /// spt: address of the tender's hypercall entry; 0 on hvt.
    pub spt_hypercall: u64,
    /// 32 bytes from the host's `getrandom`, fresh for every boot.
    pub seed: [u8; 32],
    /// CPU features the guest may use without asking the CPU (`cpuid`
    /// costs an exit on some hypervisors): [`FEATURE_RDRAND`].
    pub cpu_features: u64,
}

/// `BootInfo::cpu_features`: the `rdrand` instruction works.
pub const FEATURE_RDRAND: u64 = 1 << 0;

const _: () = assert!(core::mem::size_of::<BootInfo>() == 128);
const _: () = assert!(core::mem::align_of::<BootInfo>() == 8);
const _: () =
    assert!(crate::layout::BOOT_INFO_ADDR + core::mem::size_of::<BootInfo>() as u64 <= crate::layout::BOOT_INFO_END);
