//! The guest's page tables and GDT, built by the tender before boot.
//!
//! Identity mapping of guest memory: 4 KiB pages where permissions differ
//! within a 2 MiB region (page zero and the tender's structures unmapped,
//! boot info read-only, the image's segments W^X, the stack guard
//! unmapped), 2 MiB pages (read-write, no-execute) elsewhere. Nothing past
//! the end of guest memory is mapped. All of it lives below
//! `GUEST_MIN_ADDR`, where no guest mapping reaches.

use oasis_abi::layout::{self, BOOT_INFO_ADDR, BOOT_INFO_END, GUEST_MIN_ADDR, PAGE_SIZE};
use oasis_tender::Image;

/// Top-level table.
pub const PML4_ADDR: u64 = 0x1000;
/// The one page-directory-pointer table (4 GiB).
pub const PDPT_ADDR: u64 = 0x2000;
/// Four page directories, one per GiB.
pub const PD_ADDR: u64 = 0x3000;
/// The GDT.
pub const GDT_ADDR: u64 = 0x7000;
/// Page tables for 2 MiB regions that need 4 KiB pages.
pub const PT_ADDR: u64 = 0x8000;
/// How many such page tables fit below `GUEST_MIN_ADDR`.
pub const MAX_PTS: usize = ((GUEST_MIN_ADDR - PT_ADDR) / PAGE_SIZE) as usize;

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const HUGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;
const REGION: u64 = 2 << 20;

/// GDT entries: null, 64-bit code (selector 0x08), data (selector 0x10),
/// with their accessed bits set so the CPU never writes to the GDT (its
/// page is mapped read-only: the CPU reads it through the guest's page
/// tables whenever an exception loads CS).
pub const GDT: [u64; 3] = [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
/// Code segment selector.
pub const CODE_SELECTOR: u16 = 0x08;
/// Data segment selector.
pub const DATA_SELECTOR: u16 = 0x10;

/// Access a 4 KiB page gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Not mapped.
    None,
    /// Read-only data.
    Read,
    /// Read and execute (code).
    ReadExecute,
    /// Read and write data.
    ReadWrite,
}

impl Access {
    fn bits(self) -> u64 {
        match self {
            Access::None => 0,
            Access::Read => PRESENT | NO_EXECUTE,
            Access::ReadExecute => PRESENT,
            Access::ReadWrite => PRESENT | WRITABLE | NO_EXECUTE,
        }
    }
}

/// The access of the 4 KiB page at `addr`.
pub fn page_access(image: &Image, mem_size: u64, addr: u64) -> Access {
    if addr >= mem_size {
        return Access::None;
    }
    if addr < BOOT_INFO_END {
        return if addr >= BOOT_INFO_ADDR || addr == GDT_ADDR { Access::Read } else { Access::None };
    }
    for s in &image.segments {
        if addr >= s.addr && addr < layout::page_align_up(s.addr + s.mem_len) {
            return match (s.write, s.execute) {
                (true, _) => Access::ReadWrite,
                (false, true) => Access::ReadExecute,
                (false, false) => Access::Read,
            };
        }
    }
    if addr < image.kernel_end {
        // Between boot info and the image, or a gap between segments.
        return Access::None;
    }
    let guard = layout::heap_end(mem_size);
    if addr == guard {
        return Access::None;
    }
    Access::ReadWrite
}

/// Pages to write into guest memory: (address, 512 entries).
pub type Tables = Vec<(u64, Vec<u64>)>;

/// Why page tables could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PagingError {
    /// More 2 MiB regions need fine-grained pages than there are tables.
    #[error("the image spans too many 2 MiB regions ({0}) for hvt's page tables (at most {MAX_PTS})")]
    TooManyRegions(usize),
}

/// Builds the page tables for `image` in `mem_size` bytes.
pub fn build(image: &Image, mem_size: u64) -> Result<Tables, PagingError> {
    let regions = mem_size.div_ceil(REGION);
    // Which 2 MiB regions are not uniformly read-write.
    let mut fine: Vec<u64> = Vec::new();
    for r in 0..regions {
        let base = r * REGION;
        let uniform =
            (0..REGION / PAGE_SIZE).all(|i| page_access(image, mem_size, base + i * PAGE_SIZE) == Access::ReadWrite);
        if !uniform {
            fine.push(r);
        }
    }
    if fine.len() > MAX_PTS {
        return Err(PagingError::TooManyRegions(fine.len()));
    }
    let mut tables: Tables = Vec::new();
    let mut pml4 = vec![0u64; 512];
    pml4[0] = PDPT_ADDR | PRESENT | WRITABLE;
    tables.push((PML4_ADDR, pml4));
    let gibs = mem_size.div_ceil(1 << 30);
    let mut pdpt = vec![0u64; 512];
    for (g, e) in pdpt.iter_mut().enumerate().take(gibs as usize) {
        *e = (PD_ADDR + g as u64 * PAGE_SIZE) | PRESENT | WRITABLE;
    }
    tables.push((PDPT_ADDR, pdpt));
    let mut pds = vec![vec![0u64; 512]; gibs as usize];
    for r in 0..regions {
        let base = r * REGION;
        let entry = match fine.iter().position(|&f| f == r) {
            Some(i) => {
                let pt_addr = PT_ADDR + i as u64 * PAGE_SIZE;
                let pt: Vec<u64> = (0..512)
                    .map(|p| base + p * PAGE_SIZE)
                    .map(|a| match page_access(image, mem_size, a) {
                        Access::None => 0,
                        access => a | access.bits(),
                    })
                    .collect();
                tables.push((pt_addr, pt));
                pt_addr | PRESENT | WRITABLE
            }
            None => base | HUGE | Access::ReadWrite.bits(),
        };
        pds[(r / 512) as usize][(r % 512) as usize] = entry;
    }
    for (g, pd) in pds.into_iter().enumerate() {
        tables.push((PD_ADDR + g as u64 * PAGE_SIZE, pd));
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_tender::image::Segment;

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
                seg(0x10_0000, 0x3000, false, true),
                seg(0x10_3000, 0x1000, false, false),
                seg(0x10_4000, 0x2000, true, false),
            ],
            kernel_end: 0x10_6000,
            manifest: Default::default(),
        }
    }

    fn lookup(tables: &Tables, addr: u64) -> Option<u64> {
        let find = |table: u64| tables.iter().find(|(a, _)| *a == table).map(|(_, e)| e.clone());
        let pml4 = find(PML4_ADDR)?;
        let pdpt = find(pml4[((addr >> 39) & 511) as usize] & 0x000f_ffff_ffff_f000)?;
        let pdpte = pdpt[((addr >> 30) & 511) as usize];
        if pdpte & PRESENT == 0 {
            return None;
        }
        let pd = find(pdpte & 0x000f_ffff_ffff_f000)?;
        let pde = pd[((addr >> 21) & 511) as usize];
        if pde & PRESENT == 0 {
            return None;
        }
        if pde & HUGE != 0 {
            return Some(pde);
        }
        let pt = find(pde & 0x000f_ffff_ffff_f000)?;
        let pte = pt[((addr >> 12) & 511) as usize];
        (pte & PRESENT != 0).then_some(pte)
    }

    #[test]
    fn layout_of_a_small_guest() {
        let mem = 32 << 20;
        let t = build(&image(), mem).unwrap();
        assert_eq!(lookup(&t, 0), None, "page zero");
        assert_eq!(lookup(&t, PML4_ADDR), None, "the tender's tables");
        let gdt = lookup(&t, GDT_ADDR).unwrap();
        assert_eq!(gdt & (WRITABLE | NO_EXECUTE), NO_EXECUTE, "the GDT is readable, for exception delivery");
        let boot = lookup(&t, BOOT_INFO_ADDR).unwrap();
        assert_eq!(boot & WRITABLE, 0);
        let code = lookup(&t, 0x10_1000).unwrap();
        assert_eq!((code & WRITABLE, code & NO_EXECUTE), (0, 0), "code is read-execute");
        let rodata = lookup(&t, 0x10_3000).unwrap();
        assert_eq!((rodata & WRITABLE, rodata & NO_EXECUTE), (0, NO_EXECUTE));
        let data = lookup(&t, 0x10_5000).unwrap();
        assert_eq!((data & WRITABLE, data & NO_EXECUTE), (WRITABLE, NO_EXECUTE));
        let heap = lookup(&t, 4 << 20).unwrap();
        assert_eq!(heap & (HUGE | WRITABLE | NO_EXECUTE), HUGE | WRITABLE | NO_EXECUTE);
        assert_eq!(lookup(&t, layout::heap_end(mem)), None, "stack guard");
        assert!(lookup(&t, mem - 8).is_some(), "stack top");
        assert_eq!(lookup(&t, mem), None, "past the end");
    }

    #[test]
    fn odd_sizes_map_nothing_past_the_end() {
        let mem = (3 << 20) + (12 << 10);
        let t = build(&image(), mem).unwrap();
        assert!(lookup(&t, mem - PAGE_SIZE).is_some());
        assert_eq!(lookup(&t, mem), None);
        assert_eq!(lookup(&t, 4 << 20), None);
    }

    #[test]
    fn four_gibibytes_fit() {
        let t = build(&image(), 1 << 32).unwrap();
        assert!(lookup(&t, (1 << 32) - 8).is_some());
    }
}
