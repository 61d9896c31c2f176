//! The guest memory layout, identical on every tender.
//!
//! Guest addresses are the same numbers on hvt (guest-physical, identity
//! mapped) and on spt (host-virtual, the tender maps guest memory at these
//! very addresses), so one image runs on either tender unchanged.
//!
//! ```text
//! 0x0000_0000 ─ 0x0000_ffff  never guest-addressable (page zero is unmapped;
//!                            hvt keeps its page tables and GDT here)
//! 0x0001_0000 ─ 0x0001_ffff  boot info, then the argument strings
//! 0x0010_0000 ─ kernel_end   the image's PT_LOAD segments
//! kernel_end  ─ heap_end     free for the guest (its heap)
//! heap_end    ─ heap_end+4K  guard page (unmapped where the tender can)
//! stack_base  ─ mem_size     the stack, STACK_SIZE bytes, growing down
//! ```

/// Lowest address a guest may name in a hypercall. Everything below is the
/// tender's (and page zero is unmapped, so a null dereference faults).
pub const GUEST_MIN_ADDR: u64 = 0x1_0000;

/// Where the tender writes [`crate::BootInfo`]; its address is also passed
/// in `rdi` at entry.
pub const BOOT_INFO_ADDR: u64 = 0x1_0000;

/// End (exclusive) of the boot-info area: boot info plus argument strings
/// must fit below it.
pub const BOOT_INFO_END: u64 = 0x2_0000;

/// Lowest address a loadable segment may occupy. Segments below it would
/// overlap the tender's structures and are refused.
pub const KERNEL_BASE: u64 = 0x10_0000;

/// Size of the stack at the top of guest memory.
pub const STACK_SIZE: u64 = 256 * 1024;

/// One page, the granularity of every region above.
pub const PAGE_SIZE: u64 = 4096;

/// Smallest guest memory a tender accepts.
pub const MIN_MEM_SIZE: u64 = 2 * 1024 * 1024;

/// Largest guest memory: every guest address fits in 32 bits, which is what
/// an hvt hypercall (`out` of a 32-bit value) can carry.
pub const MAX_MEM_SIZE: u64 = 1 << 32;

/// Default guest memory.
pub const DEFAULT_MEM_SIZE: u64 = 32 * 1024 * 1024;

/// Stack bounds for a guest of `mem_size` bytes: `(base, top)`.
pub const fn stack_region(mem_size: u64) -> (u64, u64) {
    (mem_size - STACK_SIZE, mem_size)
}

/// First byte above the free region (where the guard page starts).
pub const fn heap_end(mem_size: u64) -> u64 {
    mem_size - STACK_SIZE - PAGE_SIZE
}

/// Round `x` up to a page boundary (saturating).
pub const fn page_align_up(x: u64) -> u64 {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => v & !(PAGE_SIZE - 1),
        None => !(PAGE_SIZE - 1),
    }
}

const _: () = assert!(BOOT_INFO_ADDR >= GUEST_MIN_ADDR);
const _: () = assert!(BOOT_INFO_END <= KERNEL_BASE);
const _: () = assert!(heap_end(MIN_MEM_SIZE) > KERNEL_BASE);
