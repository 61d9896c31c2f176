//! Writes with a raw `pwrite64` on the block device's descriptor, past the
//! device's end (`--fd N [--at end|far]`): on spt the sandbox must stop the
//! call before the kernel runs it, so the backing file never grows.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main(block = "storage")]
async fn main(os: oasis::Os, disk: impl oasis::block::BlockDevice) -> Result<(), oasis::ArgError> {
    use oasis_test_guests::raw::{nr, syscall};
    let mut args = os.args().parser();
    let fd: u64 = args.value("--fd")?.unwrap_or(4);
    let at: oasis::alloc::string::String = args.value("--at")?.unwrap_or_else(|| "end".into());
    args.finish()?;
    let capacity = disk.info().capacity;
    let offset = if at == "far" { 1 << 40 } else { capacity };
    let block = [0x5au8; 512];
    let ret = syscall(nr::PWRITE64, [fd, block.as_ptr() as u64, 512, offset, 0, 0]);
    oasis::log::error!("pwrite64 past the end returned {ret}: the sandbox let it through");
    Ok(())
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_raw_pwrite is a guest-only test image");
    std::process::exit(2);
}
