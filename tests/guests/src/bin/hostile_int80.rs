//! Makes a 32-bit system call with `int 0x80`, which the 64-bit sandbox's
//! architecture check must refuse.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) -> Result<(), &'static str> {
    os.console().flush();
    // SAFETY: deliberately outside the 64-bit ABI: getpid (20) by the
    // 32-bit entry; harmless if it ever ran.
    unsafe { core::arch::asm!("int 0x80", inlateout("eax") 20u32 => _, options(nostack)) };
    Err("int 0x80 returned")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_int80 is a guest-only test image");
    std::process::exit(2);
}
