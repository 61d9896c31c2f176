//! Making a hypercall: `out` on hvt, a call into the tender on spt.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use oasis_abi::{HVT_PORT_BASE, Hypercall, Tender};

static TENDER: AtomicU8 = AtomicU8::new(0);
static SPT_ENTRY: AtomicU64 = AtomicU64::new(0);

/// Chooses the hypercall path. Called once at boot, before any call.
pub(crate) fn init(tender: Tender, spt_entry: u64) {
    SPT_ENTRY.store(spt_entry, Ordering::Relaxed);
    TENDER.store(tender as u8, Ordering::Relaxed);
}

/// The machine kind of a PVH boot (not a tender: no hypercalls).
const PVH: u8 = 3;

/// Marks this boot as a PVH boot: no hypercall is made from now on.
pub(crate) fn init_pvh() {
    TENDER.store(PVH, Ordering::Relaxed);
}

/// What runs us.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A tender: hvt or spt.
    Tender(Tender),
    /// A VMM that entered through the PVH note (QEMU, Firecracker).
    Pvh,
}

/// What runs us.
pub(crate) fn kind() -> Kind {
    match TENDER.load(Ordering::Relaxed) {
        1 => Kind::Tender(Tender::Hvt),
        PVH => Kind::Pvh,
        _ => Kind::Tender(Tender::Spt),
    }
}

/// Whether this is a PVH boot.
pub(crate) fn is_pvh() -> bool {
    TENDER.load(Ordering::Relaxed) == PVH
}

/// Makes call `H` with its argument struct `arg`; the tender reads and
/// writes `*arg` before this returns.
pub(crate) fn call<H: Hypercall>(arg: &mut H::Arg) {
    // SAFETY: `arg` is a live, exclusive reference to call `H`'s own
    // argument struct in guest memory, which is what the ABI asks for; the
    // tender touches nothing else of ours.
    unsafe { raw(H::NR, (arg as *mut H::Arg).addr() as u64) }
}

/// Makes call `nr` with any argument address.
///
/// # Safety
/// The tender reads and writes the memory `arg_addr` names as the call's
/// argument struct, and the buffers it names. Test images that break the
/// contract on purpose call this with bad values and expect to be stopped.
pub unsafe fn raw(nr: u64, arg_addr: u64) {
    match TENDER.load(Ordering::Relaxed) {
        1 => {
            let port = HVT_PORT_BASE.wrapping_add(nr as u16);
            // SAFETY: an `out` is how hvt hypercalls are made; the tender
            // handles the exit and resumes us after the instruction. Guest
            // addresses fit 32 bits (MAX_MEM_SIZE). Memory may be written by
            // the tender, so no `nomem`.
            unsafe {
                core::arch::asm!("out dx, eax", in("dx") port, in("eax") arg_addr as u32, options(nostack, preserves_flags));
            }
        }
        PVH => crate::pvh::abort("a hypercall on a PVH boot (no tender runs this guest)"),
        _ => {
            let entry = SPT_ENTRY.load(Ordering::Relaxed);
            // SAFETY: on spt, boot info hands us the tender's hypercall entry,
            // an `extern "sysv64" fn(nr, arg)`; it was stored at boot before
            // any call and is not zero there.
            let f: extern "sysv64" fn(u64, u64) = unsafe { core::mem::transmute(entry as usize) };
            f(nr, arg_addr);
        }
    }
}
