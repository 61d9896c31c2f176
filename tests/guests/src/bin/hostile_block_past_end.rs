//! A block read past the end of the device.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main(block = "storage")]
async fn main(_os: oasis::Os, _disk: impl oasis::block::BlockDevice) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{call, call_at, nr};
    let mut buf = [0u8; 1024];
    let mut arg = BlockIo { handle: 0, offset: 1 << 40, data: buf.as_mut_ptr().addr() as u64, len: 512, result: 0 };
    call(nr::BLOCK_READ, &mut arg);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_block_past_end is a guest-only test image");
    std::process::exit(2);
}
