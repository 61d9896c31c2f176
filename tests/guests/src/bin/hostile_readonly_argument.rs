//! An argument struct in the image's read-only code, where the tender would have to write its answer.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    let code = hostile::call_at as *const () as usize as u64;
    call_at(nr::CLOCK_MONOTONIC, code & !7);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_readonly_argument is a guest-only test image");
    std::process::exit(2);
}
