//! An argument struct in page zero.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    call_at(nr::CLOCK_MONOTONIC, 0x8);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_page_zero_argument is a guest-only test image");
    std::process::exit(2);
}
