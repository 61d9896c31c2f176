//! Putting an image, boot info and arguments into guest memory.
//!
//! Guest memory is only ever reached through `vm-memory`'s checked
//! accessors keyed by [`GuestAddress`]; no Rust slice is built over it.

use oasis_abi::layout::{self, BOOT_INFO_ADDR, BOOT_INFO_END, PAGE_SIZE, STACK_SIZE};
use oasis_abi::{ABI_VERSION, BootInfo, boot::BOOT_MAGIC};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::image::Image;

/// The smallest heap a guest is given room for.
pub const MIN_HEAP: u64 = 128 * 1024;

/// Why the guest could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// The image plus heap and stack do not fit `--mem`.
    #[error("the image needs at least {needed_mib} MiB of guest memory but --mem is {mem_mib} MiB")]
    TooLarge {
        /// Memory needed, MiB, rounded up.
        needed_mib: u64,
        /// Memory given, MiB.
        mem_mib: u64,
    },
    /// The arguments do not fit the boot-info area.
    #[error("guest arguments take {len} bytes; at most {max} fit")]
    ArgsTooLong {
        /// Their size with NULs.
        len: usize,
        /// The room there is.
        max: usize,
    },
    /// An argument containing NUL.
    #[error("guest argument {0} contains a NUL byte")]
    ArgHasNul(usize),
    /// Guest memory refused a write (a bug: everything was checked).
    #[error("could not write guest memory at {0:#x}")]
    Write(u64),
}

/// Checks that `image` fits in `mem_size` bytes with a heap and a stack.
pub fn check_fits(image: &Image, mem_size: u64) -> Result<(), LoadError> {
    let needed = image.kernel_end.saturating_add(MIN_HEAP).saturating_add(PAGE_SIZE).saturating_add(STACK_SIZE);
    if needed > mem_size {
        const MIB: u64 = 1 << 20;
        return Err(LoadError::TooLarge { needed_mib: needed.div_ceil(MIB), mem_mib: mem_size / MIB });
    }
    Ok(())
}

/// Where the argument strings start: right after boot info.
pub const ARGS_ADDR: u64 = BOOT_INFO_ADDR + core::mem::size_of::<BootInfo>() as u64;

/// Lays the arguments out as NUL-terminated strings. Returns the bytes.
pub fn encode_args(args: &[String]) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a.as_bytes().contains(&0) {
            return Err(LoadError::ArgHasNul(i + 1));
        }
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    let max = (BOOT_INFO_END - ARGS_ADDR) as usize;
    if out.len() > max {
        return Err(LoadError::ArgsTooLong { len: out.len(), max });
    }
    Ok(out)
}

/// What varies per boot in [`BootInfo`].
#[derive(Clone, Copy, Debug)]
pub struct BootParams {
    /// Which tender.
    pub tender: oasis_abi::Tender,
    /// Guest memory size.
    pub mem_size: u64,
    /// TSC frequency (hvt), else 0.
    pub tsc_hz: u64,
    /// Guest TSC at monotonic zero (hvt), else 0.
    pub tsc_at_boot: u64,
    /// Wall clock at monotonic zero.
    pub wall_ns_at_boot: u64,
    /// spt: the hypercall entry, else 0.
    pub spt_hypercall: u64,
    /// Fresh random bytes.
    pub seed: [u8; 32],
    /// `BootInfo::cpu_features`.
    pub cpu_features: u64,
}

/// Writes boot info and the arguments.
pub fn write_boot_info(
    mem: &GuestMemoryMmap,
    image: &Image,
    params: &BootParams,
    args: &[String],
) -> Result<(), LoadError> {
    let encoded = encode_args(args)?;
    let info = BootInfo {
        magic: BOOT_MAGIC,
        abi_version: ABI_VERSION,
        tender: params.tender as u32,
        mem_size: params.mem_size,
        kernel_end: image.kernel_end,
        argc: args.len() as u64,
        argv: ARGS_ADDR,
        args_len: encoded.len() as u64,
        tsc_hz: params.tsc_hz,
        tsc_at_boot: params.tsc_at_boot,
        wall_ns_at_boot: params.wall_ns_at_boot,
        spt_hypercall: params.spt_hypercall,
        seed: params.seed,
        cpu_features: params.cpu_features,
    };
    mem.write_slice(&boot_info_bytes(&info), GuestAddress(BOOT_INFO_ADDR))
        .map_err(|_| LoadError::Write(BOOT_INFO_ADDR))?;
    mem.write_slice(&encoded, GuestAddress(ARGS_ADDR)).map_err(|_| LoadError::Write(ARGS_ADDR))?;
    Ok(())
}

/// `BootInfo` as the little-endian bytes of its `repr(C)` layout.
pub fn boot_info_bytes(info: &BootInfo) -> Vec<u8> {
    let mut v = Vec::with_capacity(core::mem::size_of::<BootInfo>());
    v.extend(info.magic.to_le_bytes());
    v.extend(info.abi_version.to_le_bytes());
    v.extend(info.tender.to_le_bytes());
    for word in [
        info.mem_size,
        info.kernel_end,
        info.argc,
        info.argv,
        info.args_len,
        info.tsc_hz,
        info.tsc_at_boot,
        info.wall_ns_at_boot,
        info.spt_hypercall,
    ] {
        v.extend(word.to_le_bytes());
    }
    v.extend(info.seed);
    v.extend(info.cpu_features.to_le_bytes());
    debug_assert_eq!(v.len(), core::mem::size_of::<BootInfo>());
    v
}

/// The `BootInfo::cpu_features` of this host's CPU.
pub fn host_cpu_features() -> u64 {
    // CPUID leaf 1, ECX bit 30: RDRAND.
    let leaf1 = core::arch::x86_64::__cpuid(1);
    if leaf1.ecx & (1 << 30) != 0 { oasis_abi::boot::FEATURE_RDRAND } else { 0 }
}

/// 32 bytes from the host's `getrandom`.
pub fn fresh_seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    let mut filled = 0;
    while filled < seed.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `seed`.
        let n = unsafe { libc::getrandom(seed[filled..].as_mut_ptr().cast(), seed.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(seed)
}

/// The stack top the guest starts with.
pub fn stack_top(mem_size: u64) -> u64 {
    layout::stack_region(mem_size).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_info_layout_matches_repr_c() {
        let info = BootInfo {
            magic: 1,
            abi_version: 2,
            tender: 3,
            mem_size: 4,
            kernel_end: 5,
            argc: 6,
            argv: 7,
            args_len: 8,
            tsc_hz: 9,
            tsc_at_boot: 10,
            wall_ns_at_boot: 11,
            spt_hypercall: 12,
            seed: [13; 32],
            cpu_features: 14,
        };
        let b = boot_info_bytes(&info);
        assert_eq!(b.len(), 128);
        assert_eq!(b[core::mem::offset_of!(BootInfo, cpu_features)], 14);
        assert_eq!(b[core::mem::offset_of!(BootInfo, tender)], 3);
        assert_eq!(b[core::mem::offset_of!(BootInfo, spt_hypercall)], 12);
        assert_eq!(b[core::mem::offset_of!(BootInfo, seed)], 13);
    }

    #[test]
    fn argument_limits() {
        assert_eq!(encode_args(&["ab".into(), "c".into()]).unwrap(), b"ab\0c\0");
        assert_eq!(encode_args(&["a\0b".into()]), Err(LoadError::ArgHasNul(1)));
        assert!(matches!(encode_args(&["x".repeat(70_000)]), Err(LoadError::ArgsTooLong { .. })));
    }
}

/// Which guest addresses a hypercall may name, for reading and for
/// writing. On spt parts of guest memory are read-only or unmapped (code,
/// boot info, the stack guard), and the tender must refuse a buffer there
/// rather than fault on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessMap {
    readable: Vec<(u64, u64)>,
    writable: Vec<(u64, u64)>,
}

fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|(s, e)| s < e);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn covers(ranges: &[(u64, u64)], addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    ranges.iter().any(|&(s, e)| addr >= s && end <= e && (len > 0 || addr < e))
}

impl AccessMap {
    /// All of `GUEST_MIN_ADDR..mem_size` readable and writable (hvt).
    pub fn flat(mem_size: u64) -> AccessMap {
        let all = vec![(layout::GUEST_MIN_ADDR, mem_size)];
        AccessMap { readable: all.clone(), writable: all }
    }

    /// The spt layout of `image` in `mem_size` bytes: boot info and code
    /// read-only, data, heap and stack writable, the stack guard neither.
    pub fn for_image(image: &Image, mem_size: u64) -> AccessMap {
        let heap_end = layout::heap_end(mem_size);
        let (stack_base, stack_top) = layout::stack_region(mem_size);
        let mut readable = vec![(layout::GUEST_MIN_ADDR, BOOT_INFO_END)];
        let mut writable = Vec::new();
        for s in &image.segments {
            let range = (s.addr & !(PAGE_SIZE - 1), layout::page_align_up(s.addr + s.mem_len));
            if s.read || s.write || s.execute {
                readable.push(range);
            }
            if s.write {
                writable.push(range);
            }
        }
        for r in [(image.kernel_end, heap_end), (stack_base, stack_top)] {
            readable.push(r);
            writable.push(r);
        }
        AccessMap { readable: merge(readable), writable: merge(writable) }
    }

    /// Whether `len` bytes at `addr` may be read.
    pub fn can_read(&self, addr: u64, len: u64) -> bool {
        covers(&self.readable, addr, len)
    }

    /// Whether `len` bytes at `addr` may be written.
    pub fn can_write(&self, addr: u64, len: u64) -> bool {
        covers(&self.writable, addr, len)
    }

    /// The writable ranges, merged and sorted.
    pub fn writable(&self) -> &[(u64, u64)] {
        &self.writable
    }
}

#[cfg(test)]
mod access_tests {
    use super::*;
    use crate::image::Segment;

    fn image() -> Image {
        let seg = |addr, mem_len, write, execute| Segment {
            addr,
            mem_len,
            file_offset: 0,
            file_len: 0,
            read: true,
            write,
            execute,
        };
        Image {
            entry: 0x10_0000,
            segments: vec![
                seg(0x10_0000, 0x2000, false, true),
                seg(0x10_2000, 0x100, false, false),
                seg(0x10_3000, 0x800, true, false),
            ],
            kernel_end: 0x10_4000,
            manifest: Default::default(),
        }
    }

    #[test]
    fn spt_layout() {
        let mem = 32 << 20;
        let m = AccessMap::for_image(&image(), mem);
        assert!(m.can_read(0x10_0000, 0x10));
        assert!(!m.can_write(0x10_0000, 0x10), "code is read-only");
        assert!(m.can_write(0x10_3000, 0x1000 + 64), "data runs into the heap");
        assert!(!m.can_read(0x2_0000, 1), "a gap below the image");
        let guard = layout::heap_end(mem);
        assert!(!m.can_read(guard, 1));
        assert!(!m.can_write(guard - 8, 16), "straddles the guard page");
        assert!(m.can_write(mem - 16, 16));
        assert!(!m.can_write(mem - 8, 16), "straddles the end");
        assert!(!m.can_read(u64::MAX - 1, 4), "wraps");
        assert!(!m.can_read(0, 1));
    }

    #[test]
    fn flat_layout() {
        let m = AccessMap::flat(4 << 20);
        assert!(m.can_write(layout::GUEST_MIN_ADDR, 8));
        assert!(!m.can_write(layout::GUEST_MIN_ADDR - 8, 8));
        assert!(m.can_read((4 << 20) - 1, 1));
        assert!(!m.can_read(4 << 20, 1));
        assert!(!m.can_read(4 << 20, 0), "an empty buffer must still point inside");
    }
}
