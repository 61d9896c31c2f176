//! Writes to its own code: pages are W^X on both tenders, so this faults.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[oasis::main]
async fn main(_os: oasis::Os) {
    let code = core::hint::black_box(__oasis_user_main as *const () as usize) as *mut u8;
    // SAFETY: deliberately invalid: code is mapped read-execute, and the
    // platform must stop this write with a fault.
    unsafe { core::ptr::write_volatile(code, 0xcc) };
}
