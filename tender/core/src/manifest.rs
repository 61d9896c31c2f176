//! The device manifest, read from the image's notes and checked.

use oasis_abi::ABI_VERSION;
use oasis_abi::manifest::{DeviceEntry, DeviceKind, MAX_DEVICES, NOTE_NAME, NOTE_NAMESZ, NOTE_TYPE, valid_name};

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// No note of the Oasis manifest type.
    #[error("not an Oasis image: it has no device manifest (ELF note 'Oasis')")]
    Missing,
    /// More than one manifest note.
    #[error("the image has more than one device manifest")]
    Repeated,
    /// The notes do not parse.
    #[error("malformed manifest: {0}")]
    Malformed(&'static str),
    /// Built for another ABI.
    #[error("the image was built for ABI version {image}, this tender speaks version {tender}")]
    AbiMismatch {
        /// Version in the image.
        image: u32,
        /// This tender's version.
        tender: u32,
    },
    /// More than `MAX_DEVICES` entries.
    #[error("the manifest declares {0} devices (at most {MAX_DEVICES})")]
    TooManyDevices(u32),
    /// An entry of an unknown kind.
    #[error("manifest entry {index} has unknown device kind {kind}")]
    UnknownKind {
        /// Entry index.
        index: usize,
        /// The kind number found.
        kind: u32,
    },
    /// An entry whose name breaks the rules.
    #[error("manifest entry {index} has an invalid name (1 to 31 of [a-z0-9_-], starting with a letter)")]
    BadName {
        /// Entry index.
        index: usize,
    },
    /// Two entries with one name.
    #[error("the manifest declares device '{0}' twice")]
    DuplicateName(String),
}

/// A declared device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its kind.
    pub kind: DeviceKind,
    /// Its name.
    pub name: String,
    /// Its flags ([`oasis_abi::manifest::NET_OFFLOAD`] for a net device).
    pub flags: u32,
}

/// The checked manifest; a device's handle is its index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Declared devices, in handle order.
    pub devices: Vec<Device>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

impl Manifest {
    /// Finds and checks the one Oasis manifest among the contents of the
    /// image's `PT_NOTE` segments.
    pub fn from_notes(segments: &[&[u8]]) -> Result<Manifest, ManifestError> {
        let mut found = None;
        for data in segments {
            let mut at = 0usize;
            while at < data.len() {
                let malformed = ManifestError::Malformed("a note runs past its segment");
                let namesz = u32_at(data, at).ok_or(ManifestError::Malformed("truncated note header"))? as usize;
                let descsz = u32_at(data, at + 4).ok_or(ManifestError::Malformed("truncated note header"))? as usize;
                let note_type = u32_at(data, at + 8).ok_or(ManifestError::Malformed("truncated note header"))?;
                let name_at = at + 12;
                let desc_at = name_at
                    .checked_add(align4(namesz).ok_or(ManifestError::Malformed("note too large"))?)
                    .ok_or(ManifestError::Malformed("note too large"))?;
                let end = desc_at
                    .checked_add(align4(descsz).ok_or(ManifestError::Malformed("note too large"))?)
                    .ok_or(ManifestError::Malformed("note too large"))?;
                let name = data
                    .get(name_at..name_at + namesz)
                    .ok_or(ManifestError::Malformed("a note runs past its segment"))?;
                let desc = data.get(desc_at..desc_at + descsz).ok_or(malformed)?;
                if namesz == NOTE_NAMESZ as usize && name == &NOTE_NAME[..namesz] && note_type == NOTE_TYPE {
                    if found.is_some() {
                        return Err(ManifestError::Repeated);
                    }
                    found = Some(desc);
                }
                at = end;
            }
        }
        Manifest::parse(found.ok_or(ManifestError::Missing)?)
    }

    /// Checks a manifest note's descriptor.
    pub fn parse(desc: &[u8]) -> Result<Manifest, ManifestError> {
        let version = u32_at(desc, 0).ok_or(ManifestError::Malformed("descriptor shorter than its header"))?;
        let count = u32_at(desc, 4).ok_or(ManifestError::Malformed("descriptor shorter than its header"))?;
        if version != ABI_VERSION {
            return Err(ManifestError::AbiMismatch { image: version, tender: ABI_VERSION });
        }
        if count as usize > MAX_DEVICES {
            return Err(ManifestError::TooManyDevices(count));
        }
        let entry_size = core::mem::size_of::<DeviceEntry>();
        if desc.len() != 8 + count as usize * entry_size {
            return Err(ManifestError::Malformed("descriptor size does not match its device count"));
        }
        let mut devices: Vec<Device> = Vec::with_capacity(count as usize);
        for (index, entry) in desc[8..].chunks_exact(entry_size).enumerate() {
            let kind_number = u32_at(entry, 0).ok_or(ManifestError::Malformed("truncated entry"))?;
            let kind =
                DeviceKind::from_u32(kind_number).ok_or(ManifestError::UnknownKind { index, kind: kind_number })?;
            let flags = u32_at(entry, 4).ok_or(ManifestError::Malformed("truncated entry"))?;
            let allowed = match kind {
                DeviceKind::Net => oasis_abi::manifest::NET_OFFLOAD,
                DeviceKind::Block => 0,
            };
            if flags & !allowed != 0 {
                return Err(ManifestError::Malformed("reserved entry flags are not zero"));
            }
            let field = &entry[8..];
            let len = field.iter().position(|&b| b == 0).ok_or(ManifestError::BadName { index })?;
            let (name, padding) = field.split_at(len);
            if !valid_name(name) || padding.iter().any(|&b| b != 0) {
                return Err(ManifestError::BadName { index });
            }
            // valid_name admits ASCII only.
            let name = String::from_utf8_lossy(name).into_owned();
            if devices.iter().any(|d| d.name == name) {
                return Err(ManifestError::DuplicateName(name));
            }
            devices.push(Device { kind, name, flags });
        }
        Ok(Manifest { devices })
    }

    /// The handle of the device `name`, if declared.
    pub fn handle(&self, name: &str) -> Option<u32> {
        self.devices.iter().position(|d| d.name == name).map(|i| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_abi::ManifestNote;

    fn note_bytes<const N: usize>(note: &ManifestNote<N>) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(note.namesz.to_le_bytes());
        v.extend(note.descsz.to_le_bytes());
        v.extend(note.note_type.to_le_bytes());
        v.extend(note.name);
        v.extend(note.header.abi_version.to_le_bytes());
        v.extend(note.header.device_count.to_le_bytes());
        for d in &note.devices {
            v.extend(d.kind.to_le_bytes());
            v.extend(d.flags.to_le_bytes());
            v.extend(d.name);
        }
        v
    }

    #[test]
    fn reads_what_the_guest_writes() {
        let note = ManifestNote::new([
            DeviceEntry::new(DeviceKind::Net, "service"),
            DeviceEntry::new(DeviceKind::Block, "storage"),
        ]);
        let m = Manifest::from_notes(&[&note_bytes(&note)]).unwrap();
        assert_eq!(m.devices.len(), 2);
        assert_eq!(m.devices[1], Device { kind: DeviceKind::Block, name: "storage".into(), flags: 0 });
        assert_eq!(m.handle("storage"), Some(1));
        assert_eq!(m.handle("nope"), None);
    }

    #[test]
    fn refusals() {
        let dup = ManifestNote::new_unchecked(
            ABI_VERSION,
            [DeviceEntry::new(DeviceKind::Net, "a"), DeviceEntry::new(DeviceKind::Net, "a")],
        );
        assert_eq!(Manifest::from_notes(&[&note_bytes(&dup)]), Err(ManifestError::DuplicateName("a".into())));
        let old = ManifestNote::new_unchecked(0, []);
        assert_eq!(
            Manifest::from_notes(&[&note_bytes(&old)]),
            Err(ManifestError::AbiMismatch { image: 0, tender: ABI_VERSION })
        );
        let many = ManifestNote::new_unchecked(ABI_VERSION, [DeviceEntry::new(DeviceKind::Net, "x"); 33]);
        assert_eq!(Manifest::from_notes(&[&note_bytes(&many)]), Err(ManifestError::TooManyDevices(33)));
        assert_eq!(Manifest::from_notes(&[]), Err(ManifestError::Missing));
        let ok = note_bytes(&ManifestNote::new([]));
        assert_eq!(Manifest::from_notes(&[&ok, &ok]), Err(ManifestError::Repeated));
        let mut bad_kind = note_bytes(&ManifestNote::new([DeviceEntry::new(DeviceKind::Net, "x")]));
        bad_kind[28] = 9;
        assert_eq!(Manifest::from_notes(&[&bad_kind]), Err(ManifestError::UnknownKind { index: 0, kind: 9 }));
        let mut bad_name = note_bytes(&ManifestNote::new([DeviceEntry::new(DeviceKind::Net, "x")]));
        bad_name[36] = b'X';
        assert_eq!(Manifest::from_notes(&[&bad_name]), Err(ManifestError::BadName { index: 0 }));
    }

    #[test]
    fn only_net_devices_may_ask_for_offload() {
        use oasis_abi::manifest::NET_OFFLOAD;
        let net = ManifestNote::new([DeviceEntry::new(DeviceKind::Net, "n").with_flags(NET_OFFLOAD)]);
        assert_eq!(Manifest::from_notes(&[&note_bytes(&net)]).unwrap().devices[0].flags, NET_OFFLOAD);
        let reserved = ManifestNote::new([DeviceEntry::new(DeviceKind::Net, "n").with_flags(2)]);
        let block = ManifestNote::new([DeviceEntry::new(DeviceKind::Block, "b").with_flags(NET_OFFLOAD)]);
        for refused in [note_bytes(&reserved), note_bytes(&block)] {
            assert_eq!(
                Manifest::from_notes(&[&refused]),
                Err(ManifestError::Malformed("reserved entry flags are not zero"))
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn random_notes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Manifest::from_notes(&[&bytes]);
            let _ = Manifest::parse(&bytes);
        }
    }
}
