//! A manifest with 33 devices, one more than allowed: the tender must
//! refuse to boot it. Built by hand, since `#[oasis::main]` refuses it at
//! compile time.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod image {
    use oasis::abi::{ABI_VERSION, DeviceEntry, DeviceKind, ManifestNote};

    const fn entries() -> [DeviceEntry; 33] {
        let names = [
            "d00", "d01", "d02", "d03", "d04", "d05", "d06", "d07", "d08", "d09", "d10", "d11", "d12", "d13", "d14",
            "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", "d27", "d28", "d29",
            "d30", "d31", "d32",
        ];
        let mut out = [DeviceEntry::new(DeviceKind::Net, "d00"); 33];
        let mut i = 0;
        while i < 33 {
            out[i] = DeviceEntry::new(DeviceKind::Net, names[i]);
            i += 1;
        }
        out
    }

    #[used]
    #[unsafe(link_section = ".note.oasis")]
    static MANIFEST: ManifestNote<33> = ManifestNote::new_unchecked(ABI_VERSION, entries());

    #[unsafe(no_mangle)]
    pub fn __oasis_main() -> u8 {
        0
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("manifest_too_many is a guest-only test image");
    std::process::exit(2);
}
