//! Prints nothing and exits 0.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[oasis::main]
async fn main(_os: oasis::Os) {}
