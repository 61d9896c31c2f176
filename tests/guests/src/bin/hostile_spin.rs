//! Never yields: only `--timeout` (or a signal) can stop it.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[oasis::main]
async fn main(_os: oasis::Os) {
    let mut n = 0u64;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}
