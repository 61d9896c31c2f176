//! An exit status above 255.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    let mut arg = Exit { status: 256 };
    call(nr::EXIT, &mut arg);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_exit_status is a guest-only test image");
    std::process::exit(2);
}
