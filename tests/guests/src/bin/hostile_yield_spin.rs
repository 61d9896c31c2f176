//! Spins on yield with a zero deadline: the tender must stay responsive to
//! signals and `--timeout`.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(_os: oasis::Os) {
    use oasis::abi::{Yield, nr};
    loop {
        let mut arg = Yield { deadline_ns: 0, ready: 0 };
        oasis_test_guests::hostile::call(nr::YIELD, &mut arg);
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_yield_spin is a guest-only test image");
    std::process::exit(2);
}
