//! A network call on a device handle the image never declared.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    let mut arg = NetInfo { handle: 5, ..Default::default() };
    call(nr::NET_INFO, &mut arg);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_undeclared_handle is a guest-only test image");
    std::process::exit(2);
}
