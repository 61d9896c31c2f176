//! An argument struct at an odd address.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    let mut words = [0u64; 4];
    let addr = (words.as_mut_ptr().addr() as u64) + 3;
    call_at(nr::CLOCK_MONOTONIC, addr);
    core::hint::black_box(&mut words);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_misaligned_argument is a guest-only test image");
    std::process::exit(2);
}
