//! Executes `ud2`: reported as an invalid-opcode fault with its address.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[oasis::main]
async fn main(_os: oasis::Os) {
    // SAFETY: deliberately invalid: `ud2` raises #UD, which the platform
    // must report and stop.
    unsafe { core::arch::asm!("ud2") };
}
