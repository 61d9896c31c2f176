//! Puts the guest linker script where the linker finds it: the image is
//! linked with `-Toasis-guest.ld` (see `.cargo/config.toml`).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("oasis-guest.ld"), include_str!("oasis-guest.ld")).expect("write linker script");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=oasis-guest.ld");
}
