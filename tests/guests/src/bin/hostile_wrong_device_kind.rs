//! A network call on a block device's handle.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main(block = "storage")]
async fn main(_os: oasis::Os, _disk: impl oasis::block::BlockDevice) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{call, call_at, nr};
    let mut buf = [0u8; 1024];
    let mut arg = NetInfo { handle: 0, ..Default::default() };
    call(nr::NET_INFO, &mut arg);
    core::hint::black_box(&mut buf);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_wrong_device_kind is a guest-only test image");
    std::process::exit(2);
}
