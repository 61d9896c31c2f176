//! The PVH machine: the same image booted by a VMM (QEMU's `-kernel`,
//! Firecracker) instead of our tenders.
//!
//! The image carries a Xen `PHYS32_ENTRY` ELF note naming a 32-bit entry
//! (`oasis_pvh_start`, below): the VMM loads the image's segments at their
//! physical addresses and enters there in 32-bit protected mode, paging
//! off, with `ebx` holding the address of an `hvm_start_info`. The stub
//! identity-maps the first 4 GiB (2 MiB pages, 4 KiB ones for the first
//! 2 MiB so that page zero can be unmapped once the start info is read),
//! enters long mode with a
//! GDT of its own (the same selectors as hvt: code 0x08, data 0x10, so the
//! exception handlers serve both) and calls [`start_pvh`] on a small boot
//! stack in `.bss`. That reads the start info (memory map, command line),
//! moves to the real stack at the top of the RAM holding the image (the
//! same layout as on the tenders: heap, then a 256 KiB stack) and boots as
//! [`crate::entry`] does for the tenders, with the devices of a PC:
//!
//! - console: the 16550 UART at 0x3f8 ([`uart`]);
//! - clock: the TSC, its frequency from CPUID or measured against the PIT;
//!   wall clock from the CMOS RTC ([`time`]);
//! - entropy: RDRAND/RDSEED, else an `oasis.seed=HEX` boot argument;
//! - waiting: `hlt` until the local APIC's one-shot timer fires ([`lapic`]),
//!   polling the TSC where there is no APIC;
//! - exit: a last line `oasis: exit STATUS`, then QEMU's `isa-debug-exit`
//!   at port 0x501, else a reset through the i8042.
//!
//! No devices yet: an image that declares one is refused when it opens it.

pub(crate) mod io;
pub(crate) mod lapic;
pub(crate) mod time;
pub(crate) mod uart;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use oasis_abi::{cmdline, exit as status, layout};

use crate::{clock, console, exceptions, heap, hypercall, platform};
use uart::Uart;

// The Xen PVH note, the 32-bit entry, its GDT and its page tables.
//
// The note's descriptor is 8 bytes (the 32-bit entry, zero-extended):
// QEMU reads an ELF64 image's PHYS32_ENTRY as a 64-bit value, Firecracker
// reads its first 4 bytes; Linux writes it the same way.
core::arch::global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad oasis_pvh_start
    .popsection

    .pushsection .rodata.oasis_pvh_gdt, "a", @progbits
    .balign 16
oasis_pvh_gdt:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
oasis_pvh_gdt_pointer:
    .word 23
    .long oasis_pvh_gdt
    .popsection

    .pushsection .bss.oasis_pvh, "aw", @nobits
    .balign 4096
oasis_pvh_pml4:
    .skip 4096
oasis_pvh_pdpt:
    .skip 4096
oasis_pvh_pd:
    .skip 4 * 4096
    .global oasis_pvh_pt
oasis_pvh_pt:
    .skip 4096
oasis_pvh_boot_stack:
    .skip {boot_stack}
oasis_pvh_boot_stack_top:
    .popsection

    .pushsection .text.oasis_pvh, "ax", @progbits
    .code32
    .global oasis_pvh_start
oasis_pvh_start:
    cli
    cld
    movl %ebx, %esi
    movl $oasis_pvh_pml4, %edi
    xorl %eax, %eax
    movl $2048, %ecx
    rep stosl
    movl $oasis_pvh_pdpt + 3, oasis_pvh_pml4
    movl $oasis_pvh_pd + 3, %eax
    movl $oasis_pvh_pdpt, %edi
    movl $4, %ecx
1:
    movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    decl %ecx
    jnz 1b
    movl $oasis_pvh_pd, %edi
    movl $0x83, %eax
    movl $2048, %ecx
2:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $0x200000, %eax
    addl $8, %edi
    decl %ecx
    jnz 2b
    movl $oasis_pvh_pt, %edi
    movl $0x3, %eax
    movl $512, %ecx
4:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $4096, %eax
    addl $8, %edi
    decl %ecx
    jnz 4b
    movl $oasis_pvh_pt + 3, oasis_pvh_pd
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $oasis_pvh_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    lgdt oasis_pvh_gdt_pointer
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    ljmpl $0x08, $3f
    .code64
3:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movq $oasis_pvh_boot_stack_top, %rsp
    movl %esi, %edi
    xorl %ebp, %ebp
    call {start}
    ud2
    .popsection
    "#,
    start = sym start_pvh,
    boot_stack = const BOOT_STACK,
    options(att_syntax),
);

/// The boot stack: [`start_pvh`] with its copy of the command line.
const BOOT_STACK: usize = 16 * 1024;

/// `hvm_start_info`'s magic.
const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Memory map entry type of usable RAM.
const RAM: u32 = 1;
/// The longest command line taken.
const CMDLINE_MAX: usize = 4095;
/// The identity map covers the first 4 GiB.
const MAPPED_END: u64 = 1 << 32;

/// Xen's `hvm_start_info` (version 1).
#[repr(C)]
#[derive(Clone, Copy)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// One entry of the start info's memory map.
#[repr(C)]
#[derive(Clone, Copy)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

/// What [`start_pvh`] found, handed to [`main`] on the new stack.
struct Boot {
    tsc_at_boot: u64,
    kernel_end: u64,
    /// The top of the RAM holding the image, page-aligned, below 4 GiB.
    top: u64,
    cmdline: [u8; CMDLINE_MAX],
    cmdline_len: usize,
}

// SAFETY: `_end` is defined by the guest linker script (the page-aligned
// end of the image); only its address is used. `oasis_pvh_pt` is the page
// table of the first 2 MiB, defined in the `global_asm!` above.
unsafe extern "C" {
    static _end: u8;
    static mut oasis_pvh_pt: [u64; 512];
}

/// Unmaps page zero, as the tenders leave it unmapped, so a null
/// dereference faults (the stub mapped it: the VMM's start info may lie
/// there, and it has been copied by now).
fn unmap_page_zero() {
    // SAFETY: entry 0 of the page table the stub built for the first
    // 2 MiB maps page zero, which nothing of ours uses; clearing it and
    // flushing its TLB entry only makes address 0..4K fault.
    unsafe {
        (&raw mut oasis_pvh_pt).cast::<u64>().write_volatile(0);
        core::arch::asm!("invlpg [{}]", in(reg) 0u64, options(nostack, preserves_flags));
    }
}

/// Refuses to boot: a line on the UART and status 255.
fn refuse(args: core::fmt::Arguments<'_>) -> ! {
    let _ = writeln!(Uart, "oasis: refused: {args}");
    leave(status::ABORT)
}

/// Called by the 32-bit stub, in long mode on the boot stack, with the
/// physical address of the start info.
extern "sysv64" fn start_pvh(start_info: u64) -> ! {
    let tsc_at_boot = time::rdtsc();
    uart::init();
    hypercall::init_pvh();
    if start_info == 0 || !start_info.is_multiple_of(8) || start_info >= MAPPED_END {
        refuse(format_args!("no PVH start info (ebx = {start_info:#x})"));
    }
    // SAFETY: the VMM passes the start info's physical address in ebx; it
    // lies below 4 GiB (checked), which the stub identity-mapped, and is
    // plain data, so any bits are a valid value to copy.
    let info = unsafe { core::ptr::read_volatile(start_info as *const StartInfo) };
    if info.magic != START_INFO_MAGIC {
        refuse(format_args!("bad PVH start info magic {:#x}", info.magic));
    }
    let kernel_end = (&raw const _end).addr() as u64;
    let Some(top) = ram_top(&info, kernel_end) else {
        refuse(format_args!("the memory map has no RAM holding the image (version {})", info.version))
    };
    let heap_end = layout::heap_end(top);
    if heap_end < kernel_end + 128 * 1024 {
        refuse(format_args!("not enough memory: {} KiB of RAM above the image", (top - kernel_end) >> 10));
    }
    let mut boot = Boot { tsc_at_boot, kernel_end, top, cmdline: [0; CMDLINE_MAX], cmdline_len: 0 };
    boot.cmdline_len = read_cmdline(info.cmdline_paddr, &mut boot.cmdline);
    // The new stack may overlap what the VMM left in RAM (the start info,
    // the command line): everything needed is copied into `boot`, on the
    // boot stack, which nothing uses after the switch.
    // SAFETY: `top` is the 16-byte-aligned top of RAM (checked above) that
    // nothing else uses: the heap ends a guard page and STACK_SIZE below
    // it. `main` never returns, so nothing runs on the old stack again;
    // `boot` stays valid because the boot stack is never reused.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {main}",
            "ud2",
            top = in(reg) top,
            main = sym main,
            in("rdi") &raw const boot,
            options(noreturn),
        )
    }
}

/// The page-aligned top of the RAM that holds the image (merging adjacent
/// RAM entries, skipping empty ones), capped at 4 GiB.
fn ram_top(info: &StartInfo, kernel_end: u64) -> Option<u64> {
    if info.version < 1 || info.memmap_paddr == 0 || info.memmap_entries == 0 {
        return None;
    }
    let count = info.memmap_entries.min(128) as u64;
    let size = core::mem::size_of::<MemmapEntry>() as u64;
    if !info.memmap_paddr.is_multiple_of(8) || info.memmap_paddr.checked_add(count * size)? > MAPPED_END {
        return None;
    }
    let entry = |i: u64| {
        // SAFETY: the table lies below 4 GiB (checked), identity-mapped;
        // entries are plain data.
        unsafe { core::ptr::read_volatile((info.memmap_paddr + i * size) as *const MemmapEntry) }
    };
    let base = layout::KERNEL_BASE;
    let mut end = None;
    for i in 0..count {
        let e = entry(i);
        let e_end = e.addr.saturating_add(e.size);
        if e.kind == RAM && e.size != 0 && e.addr <= base && e_end >= kernel_end {
            end = Some(e_end);
        }
    }
    let mut end = end?;
    // RAM entries that continue it (a VMM may split RAM).
    let mut grown = true;
    while grown && end < MAPPED_END {
        grown = false;
        for i in 0..count {
            let e = entry(i);
            let e_end = e.addr.saturating_add(e.size);
            if e.kind == RAM && e.size != 0 && e.addr <= end && e_end > end {
                end = e_end;
                grown = true;
            }
        }
    }
    Some(end.min(MAPPED_END) & !(layout::PAGE_SIZE - 1))
}

/// Copies the NUL-terminated command line at `paddr` into `out`; returns
/// its length.
fn read_cmdline(paddr: u64, out: &mut [u8; CMDLINE_MAX]) -> usize {
    if paddr == 0 {
        return 0;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let at = paddr + i as u64;
        if at >= MAPPED_END {
            refuse(format_args!("the command line runs past 4 GiB"));
        }
        // SAFETY: below 4 GiB, identity-mapped; the VMM wrote the command
        // line there; reading bytes has no side effects.
        let b = unsafe { core::ptr::read_volatile(at as *const u8) };
        if b == 0 {
            return i;
        }
        *slot = b;
    }
    refuse(format_args!("the command line is longer than {CMDLINE_MAX} bytes"))
}

/// The platform's own tokens of the command line.
pub(crate) static VIRTIO_MMIO_DEVICES: spin::Mutex<Vec<&'static str>> = spin::Mutex::new(Vec::new());

extern "sysv64" fn main(boot: *const Boot) -> ! {
    // SAFETY: `start_pvh` passes a pointer to its `Boot`, on the boot
    // stack, which nothing writes after the switch.
    let boot = unsafe { &*boot };
    let (hz, _source) = time::tsc_hz().unwrap_or_else(|| refuse(format_args!("cannot tell the TSC frequency")));
    let wall = time::rtc_seconds().map_or(0, |s| s.saturating_mul(1_000_000_000));
    clock::init_tsc(hz, boot.tsc_at_boot, wall);
    if !heap::init(boot.kernel_end, layout::heap_end(boot.top)) {
        refuse(format_args!("not enough memory for a heap"));
    }
    exceptions::install();
    unmap_page_zero();
    lapic::init(hz);
    let line = match core::str::from_utf8(&boot.cmdline[..boot.cmdline_len]) {
        Ok(s) => String::from(s).leak(),
        Err(_) => refuse(format_args!("the command line is not UTF-8")),
    };
    let mut args = Vec::new();
    let mut seed_arg = None;
    for token in cmdline::split(line) {
        if let Some(hex) = token.strip_prefix(cmdline::SEED_PREFIX) {
            seed_arg = Some(
                parse_seed(hex)
                    .unwrap_or_else(|| refuse(format_args!("{}: 64 hex digits expected", cmdline::SEED_PREFIX))),
            );
        } else if token.starts_with(cmdline::VIRTIO_MMIO_PREFIX) {
            VIRTIO_MMIO_DEVICES.lock().push(token);
        } else {
            args.push(token);
        }
    }
    let seed = match (hardware_seed(), seed_arg) {
        (Some(words), Some(mut seed)) => {
            oasis_runtime::random::mix_seed(&mut seed, &words);
            seed
        }
        (Some(words), None) => {
            let mut seed = [0u8; 32];
            oasis_runtime::random::mix_seed(&mut seed, &words);
            seed
        }
        (None, Some(seed)) => seed,
        (None, None) => refuse(format_args!(
            "no entropy: this CPU has neither RDRAND nor RDSEED; pass {}<64 hex digits> on the command line",
            cmdline::SEED_PREFIX
        )),
    };
    platform::set_boot_state(args, seed);
    let status = crate::entry::run_main();
    platform::exit(status)
}

fn parse_seed(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    for (byte, pair) in seed.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *byte = (hi * 16 + lo) as u8;
    }
    Some(seed)
}

/// Four words from RDSEED or RDRAND where CPUID says the CPU has one.
fn hardware_seed() -> Option<[u64; 4]> {
    let (_, _, features, _) = io::cpuid(1, 0);
    let (max_leaf, ..) = io::cpuid(0, 0);
    let rdseed = max_leaf >= 7 && io::cpuid(7, 0).1 & (1 << 18) != 0;
    if rdseed && let Some(words) = crate::rdrand::rdseed_words() {
        return Some(words);
    }
    if features & (1 << 30) != 0 {
        return crate::rdrand::rdrand_words();
    }
    None
}

/// Sleeps until monotonic time `deadline_ns`: `hlt` until the local
/// APIC's timer fires, or polling the TSC where it cannot; with no
/// deadline, halts for good (nothing can wake a guest without devices).
pub(crate) fn wait(deadline_ns: Option<u64>) {
    match deadline_ns {
        Some(deadline) => loop {
            let now = clock::monotonic_ns();
            if now >= deadline {
                break;
            }
            if !lapic::sleep(deadline - now) {
                io::pause();
            }
        },
        None => loop {
            // SAFETY: ring 0; with interrupts off `hlt` stops this vCPU
            // until the VMM ends it (the runner's --timeout); an NMI
            // returns to the loop.
            unsafe { core::arch::asm!("hlt", options(nomem, nostack, preserves_flags)) }
        },
    }
}

/// Ends the run with `code` (the console already flushed): a last line
/// `oasis: exit CODE`, then QEMU's `isa-debug-exit`, which ends QEMU with
/// `(code << 1) | 1`; where it is absent (Firecracker), a reset through
/// the i8042 ends the VMM. The line is what a runner reads where there is
/// no debug exit, and where the exit code is ambiguous: it keeps only 7
/// bits of the status, and QEMU exits 1 on its own errors too.
pub(crate) fn leave(code: u8) -> ! {
    let _ = writeln!(Uart, "oasis: exit {code}");
    io::outb(0x501, code);
    io::outb(0x64, 0xfe);
    // No i8042 either: a triple fault resets the machine.
    let null = [0u16; 5];
    // SAFETY: loading an empty IDT and raising an exception triple-faults
    // the vCPU, which every VMM turns into a reset (QEMU under
    // `-no-reboot`: an exit); we never run again.
    unsafe { core::arch::asm!("lidt [{}]", "int3", "2: hlt", "jmp 2b", in(reg) &null, options(noreturn)) }
}

/// Ends the run after an abort: the message, then status 255.
pub(crate) fn abort(message: &str) -> ! {
    console::flush_for_exit();
    let _ = writeln!(Uart, "oasis: guest aborted: {message}");
    leave(status::ABORT)
}

/// Ends the run after a CPU exception: what and where, then status 254.
pub(crate) fn fault(vector: u64, error_code: u64, rip: u64, address: u64) -> ! {
    console::flush_for_exit();
    let _ = writeln!(
        Uart,
        "oasis: guest fault: vector {vector}, error code {error_code:#x}, rip {rip:#x}, address {address:#x}"
    );
    leave(status::STOPPED)
}
