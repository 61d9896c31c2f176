//! Copies the top of the address space, where the tender's initial stack
//! (its command line and environment) lies, to the console with raw
//! `write` calls — the kernel reads any mapped memory of the process and
//! skips unmapped ranges with EFAULT, so this never faults. On spt the
//! tender must have cleared what is secret before the guest runs.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) -> Result<(), &'static str> {
    use oasis_test_guests::raw::{nr, syscall};
    os.console().flush();
    const STEP: u64 = 64 << 10;
    let mut at: u64 = 0x7ff0_0000_0000;
    let mut dumped = 0u64;
    while at < 0x8000_0000_0000 {
        let ret = syscall(nr::WRITE, [1, at, STEP, 0, 0, 0]);
        if ret > 0 {
            dumped += ret as u64;
        }
        at += STEP;
    }
    oasis::log::info!("dumped {dumped} bytes");
    Ok(())
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_dump_stack is a guest-only test image");
    std::process::exit(2);
}
