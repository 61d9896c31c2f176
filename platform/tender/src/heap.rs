//! The heap: `talc` over the free memory between the image and the stack.

use talc::TalcLock;
use talc::source::Manual;

#[global_allocator]
static HEAP: TalcLock<spin::Mutex<()>, Manual> = TalcLock::new(Manual);

/// Hands `start..end` to the allocator. Returns false when the region is
/// too small to hold a heap.
pub(crate) fn init(start: u64, end: u64) -> bool {
    if end <= start {
        return false;
    }
    // SAFETY: `start..end` is the free region of guest memory between the
    // loaded image and the stack guard (from boot info); nothing else uses it
    // and it is claimed once, before any allocation.
    unsafe { HEAP.lock().claim(start as *mut u8, (end - start) as usize).is_some() }
}
