//! A console write whose address plus length wraps around.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) -> Result<(), &'static str> {
    #[allow(unused_imports)]
    use oasis::abi::*;
    #[allow(unused_imports)]
    use oasis_test_guests::hostile::{self, MEM, call, call_at, nr};
    let mut arg = ConsoleWrite { data: u64::MAX - 0xfff, len: 0x2000 };
    call(nr::CONSOLE_WRITE, &mut arg);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_length_overflow is a guest-only test image");
    std::process::exit(2);
}
