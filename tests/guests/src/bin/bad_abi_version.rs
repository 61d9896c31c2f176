//! A manifest claiming another ABI version: refused before boot, naming
//! both versions.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod image {
    use oasis::abi::{ABI_VERSION, ManifestNote};

    #[used]
    #[unsafe(link_section = ".note.oasis")]
    static MANIFEST: ManifestNote<0> = ManifestNote::new_unchecked(ABI_VERSION + 1, []);

    #[unsafe(no_mangle)]
    pub fn __oasis_main() -> u8 {
        0
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("bad_abi_version is a guest-only test image");
    std::process::exit(2);
}
