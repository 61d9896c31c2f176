//! The device manifest: which devices a unikernel uses, by kind and name.
//!
//! The manifest is an ELF note (owner [`NOTE_NAME`], type
//! [`NOTE_TYPE`]) in a `PT_NOTE` segment of the image. The tender reads it
//! before boot and binds a host resource to every entry by name
//! (`--net:service=tap0`); an entry left unbound, a binding naming no entry,
//! a bad name, a duplicate name, an unknown kind, more than
//! [`MAX_DEVICES`] entries or another [`ABI_VERSION`](crate::ABI_VERSION)
//! refuses the boot. A device's *handle* in hypercalls is its index here.
//!
//! Layout of the note's descriptor: a [`ManifestHeader`] followed by
//! `device_count` [`DeviceEntry`]s, nothing else.

/// The note's owner name, NUL-padded to a multiple of 4.
pub const NOTE_NAME: [u8; 8] = *b"Oasis\0\0\0";
/// `namesz` of the note: `"Oasis"` and its NUL.
pub const NOTE_NAMESZ: u32 = 6;
/// The note's type.
pub const NOTE_TYPE: u32 = 0x4f41_0001;
/// The ELF section the guest puts the note in.
pub const NOTE_SECTION: &str = ".note.oasis";

/// Most devices one unikernel may declare (yield's ready set is a `u64`).
pub const MAX_DEVICES: usize = 32;
/// Longest device name, in bytes.
pub const MAX_NAME_LEN: usize = 31;

/// Kinds of device.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// An Ethernet device (`NET_*` calls).
    Net = 1,
    /// A block device (`BLOCK_*` calls).
    Block = 2,
}

impl DeviceKind {
    /// The kind with this number, if any.
    pub const fn from_u32(v: u32) -> Option<DeviceKind> {
        match v {
            1 => Some(DeviceKind::Net),
            2 => Some(DeviceKind::Block),
            _ => None,
        }
    }

    /// `"net"` or `"block"`, as in `--net:NAME=…`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Net => "net",
            DeviceKind::Block => "block",
        }
    }
}

/// The descriptor's header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestHeader {
    /// The [`ABI_VERSION`](crate::ABI_VERSION) the image was built for.
    pub abi_version: u32,
    /// Number of [`DeviceEntry`]s that follow.
    pub device_count: u32,
}

/// Flag of a net [`DeviceEntry`]: the guest can move offloaded frames
/// ([`crate::net_offload`]); the tender sets them up where the host
/// allows, and says in `NET_INFO` whether it did.
pub const NET_OFFLOAD: u32 = 1;

/// One declared device.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    /// A [`DeviceKind`] number.
    pub kind: u32,
    /// [`NET_OFFLOAD`] for a net device; every other bit, and every bit of
    /// a block device's, zero.
    pub flags: u32,
    /// The name, NUL-padded: 1 to [`MAX_NAME_LEN`] bytes of `[a-z0-9_-]`
    /// starting with a letter.
    pub name: [u8; MAX_NAME_LEN + 1],
}

impl DeviceEntry {
    /// An entry for `name`; panics (at compile time, in a `const`) when the
    /// name is invalid.
    pub const fn new(kind: DeviceKind, name: &str) -> DeviceEntry {
        assert!(valid_name(name.as_bytes()), "invalid device name");
        let bytes = name.as_bytes();
        let mut out = [0u8; MAX_NAME_LEN + 1];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        DeviceEntry { kind: kind as u32, flags: 0, name: out }
    }

    /// The entry with `flags`.
    pub const fn with_flags(self, flags: u32) -> DeviceEntry {
        DeviceEntry { flags, ..self }
    }

    /// The name's bytes up to the first NUL.
    pub fn name_bytes(&self) -> &[u8] {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        &self.name[..end]
    }
}

/// Whether `name` is a valid device name: 1 to [`MAX_NAME_LEN`] bytes of
/// `[a-z0-9_-]`, starting with a lowercase letter.
pub const fn valid_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let c = name[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The whole ELF note, as the guest places it in [`NOTE_SECTION`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ManifestNote<const N: usize> {
    /// ELF note `n_namesz`: [`NOTE_NAMESZ`].
    pub namesz: u32,
    /// ELF note `n_descsz`: header plus entries.
    pub descsz: u32,
    /// ELF note `n_type`: [`NOTE_TYPE`].
    pub note_type: u32,
    /// [`NOTE_NAME`].
    pub name: [u8; 8],
    /// The descriptor's header.
    pub header: ManifestHeader,
    /// The devices.
    pub devices: [DeviceEntry; N],
}

impl<const N: usize> ManifestNote<N> {
    /// A manifest declaring `devices`, for the current ABI version. Checks
    /// at compile time (when used in a `static`) that there are at most
    /// [`MAX_DEVICES`] and that names are distinct.
    pub const fn new(devices: [DeviceEntry; N]) -> Self {
        assert!(N <= MAX_DEVICES, "too many devices");
        let mut i = 0;
        while i < N {
            let mut j = i + 1;
            while j < N {
                assert!(!same_name(&devices[i].name, &devices[j].name), "duplicate device name");
                j += 1;
            }
            i += 1;
        }
        Self::new_unchecked(crate::ABI_VERSION, devices)
    }

    /// A manifest with no checks and any version: for tests that must build
    /// images the tender refuses.
    pub const fn new_unchecked(abi_version: u32, devices: [DeviceEntry; N]) -> Self {
        ManifestNote {
            namesz: NOTE_NAMESZ,
            descsz: (core::mem::size_of::<ManifestHeader>() + N * core::mem::size_of::<DeviceEntry>()) as u32,
            note_type: NOTE_TYPE,
            name: NOTE_NAME,
            header: ManifestHeader { abi_version, device_count: N as u32 },
            devices,
        }
    }
}

const fn same_name(a: &[u8; MAX_NAME_LEN + 1], b: &[u8; MAX_NAME_LEN + 1]) -> bool {
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = assert!(core::mem::size_of::<ManifestHeader>() == 8);
const _: () = assert!(core::mem::size_of::<DeviceEntry>() == 40);
const _: () = assert!(core::mem::size_of::<ManifestNote<0>>() == 28);
const _: () = assert!(core::mem::align_of::<ManifestNote<1>>() == 4);
