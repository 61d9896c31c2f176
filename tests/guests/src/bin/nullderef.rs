//! Reads address 0: page zero is unmapped on every target, so this must be
//! reported as a fault with the instruction pointer, not hang.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[oasis::main]
async fn main(_os: oasis::Os) {
    let null = core::hint::black_box(0usize) as *const u64;
    // SAFETY: deliberately invalid: the test expects the platform to stop
    // this program with a page fault at address 0.
    let v = unsafe { core::ptr::read_volatile(null) };
    core::hint::black_box(v);
}
