//! A manifest declaring the name `service` twice: the tender must refuse
//! to boot it. Built by hand, since `#[oasis::main]` refuses it at compile
//! time.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod image {
    use oasis::abi::{ABI_VERSION, DeviceEntry, DeviceKind, ManifestNote};

    #[used]
    #[unsafe(link_section = ".note.oasis")]
    static MANIFEST: ManifestNote<2> = ManifestNote::new_unchecked(
        ABI_VERSION,
        [DeviceEntry::new(DeviceKind::Net, "service"), DeviceEntry::new(DeviceKind::Block, "service")],
    );

    #[unsafe(no_mangle)]
    pub fn __oasis_main() -> u8 {
        0
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("manifest_duplicate is a guest-only test image");
    std::process::exit(2);
}
