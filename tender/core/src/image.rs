//! Reading an image: a static x86-64 ELF with an Oasis manifest note.
//!
//! Everything here treats the file as hostile: every offset and size is
//! checked before use, arithmetic cannot overflow, and a malformed file is
//! an [`ImageError`], never a panic.

use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE};
use elf::endian::LittleEndian;
use oasis_abi::layout::{KERNEL_BASE, MAX_MEM_SIZE, page_align_up};

use crate::manifest::{Manifest, ManifestError};

/// Most loadable segments an image may have.
const MAX_SEGMENTS: usize = 16;

/// Why an image was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The file is not an ELF file, or its headers are damaged.
    #[error("not a valid ELF file: {0}")]
    Elf(String),
    /// A 32-bit ELF file.
    #[error("a 32-bit ELF file, not a 64-bit x86-64 executable")]
    NotElf64,
    /// Built for another processor.
    #[error("not an x86-64 executable: built for ELF machine {0} (x86-64 is 62)")]
    WrongMachine(u16),
    /// A position-independent executable or a shared object (`ET_DYN`):
    /// the tenders load an image at the addresses it was linked for, so it
    /// must be a static executable.
    #[error(
        "a position-independent executable (ELF type DYN), not a static one: build it with `oasis build` \
         (relocation-model=static and the guest linker script)"
    )]
    PositionIndependent,
    /// Another ELF type (a relocatable object, a core dump).
    #[error("not an executable: ELF type {0} (an image is a static executable, type EXEC)")]
    NotExecutable(u16),
    /// No program headers, or none loadable.
    #[error("the image has no loadable segments")]
    NoSegments,
    /// Too many loadable segments.
    #[error("the image has {0} loadable segments (at most {MAX_SEGMENTS})")]
    TooManySegments(usize),
    /// A segment whose file or memory range is inconsistent.
    #[error("segment {index} is malformed: {why}")]
    BadSegment {
        /// Index among the program headers.
        index: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A segment below `KERNEL_BASE`, over the tender's own structures.
    #[error("segment {index} at {addr:#x} overlaps the tender's area below {KERNEL_BASE:#x}")]
    SegmentTooLow {
        /// Index among the program headers.
        index: usize,
        /// Its start address.
        addr: u64,
    },
    /// Two loadable segments overlap.
    #[error("segments {0} and {1} overlap")]
    Overlap(usize, usize),
    /// A segment both writable and executable.
    #[error("segment {0} is both writable and executable")]
    WritableAndExecutable(usize),
    /// The entry point is not inside an executable segment.
    #[error("entry point {0:#x} is not in an executable segment")]
    BadEntry(u64),
    /// No manifest note, or a malformed one.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// A loadable segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Guest address of its first byte (page-aligned start is not required).
    pub addr: u64,
    /// Bytes in memory; the part past `file_len` is zero.
    pub mem_len: u64,
    /// Offset of its bytes in the file.
    pub file_offset: u64,
    /// Bytes taken from the file.
    pub file_len: u64,
    /// Readable, writable, executable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// A checked image, ready to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments, sorted by address, non-overlapping.
    pub segments: Vec<Segment>,
    /// First page-aligned address above every segment.
    pub kernel_end: u64,
    /// The declared devices.
    pub manifest: Manifest,
}

impl Image {
    /// Parses and checks `bytes`, a whole file, as an Oasis image.
    pub fn parse(bytes: &[u8]) -> Result<Image, ImageError> {
        let (ehdr, phdrs) = headers(bytes)?;
        let mut notes: Vec<&[u8]> = Vec::new();
        for (index, ph) in phdrs.iter().enumerate().filter(|(_, p)| p.p_type == PT_NOTE) {
            notes.push(note_in(bytes, index, ph)?);
        }
        Image::build(&ehdr, &phdrs, &notes, bytes.len() as u64)
    }

    /// Checks an image from its parts, read separately: the ELF header, the
    /// program headers, the contents of its `PT_NOTE` segments (in order)
    /// and the length of the file the segments lie in.
    pub fn build(
        ehdr: &elf::file::FileHeader<LittleEndian>,
        phdrs: &[elf::segment::ProgramHeader],
        notes: &[&[u8]],
        file_len: u64,
    ) -> Result<Image, ImageError> {
        if ehdr.class != elf::file::Class::ELF64 {
            return Err(ImageError::NotElf64);
        }
        if ehdr.e_machine != EM_X86_64 {
            return Err(ImageError::WrongMachine(ehdr.e_machine));
        }
        match ehdr.e_type {
            ET_EXEC => {}
            ET_DYN => return Err(ImageError::PositionIndependent),
            other => return Err(ImageError::NotExecutable(other)),
        }
        let mut segments: Vec<(usize, Segment)> = Vec::new();
        for (index, ph) in phdrs.iter().enumerate() {
            if ph.p_type == PT_LOAD {
                if segments.len() == MAX_SEGMENTS {
                    return Err(ImageError::TooManySegments(phdrs.iter().filter(|p| p.p_type == PT_LOAD).count()));
                }
                segments.push((index, check_segment(index, ph, file_len)?));
            }
        }
        if segments.is_empty() {
            return Err(ImageError::NoSegments);
        }
        segments.sort_by_key(|(_, s)| s.addr);
        for pair in segments.windows(2) {
            let (ia, a) = &pair[0];
            let (ib, b) = &pair[1];
            if page_align_up(a.addr + a.mem_len) > b.addr {
                return Err(ImageError::Overlap(*ia, *ib));
            }
        }
        let entry = ehdr.e_entry;
        if !segments.iter().any(|(_, s)| s.execute && entry >= s.addr && entry < s.addr + s.mem_len) {
            return Err(ImageError::BadEntry(entry));
        }
        let top = segments.iter().map(|(_, s)| s.addr + s.mem_len).max().unwrap_or(KERNEL_BASE);
        let manifest = Manifest::from_notes(notes)?;
        Ok(Image {
            entry,
            segments: segments.into_iter().map(|(_, s)| s).collect(),
            kernel_end: page_align_up(top),
            manifest,
        })
    }
}

/// The ELF header and program headers of `bytes` (which must hold at least
/// the headers and the program header table).
pub fn headers(
    bytes: &[u8],
) -> Result<(elf::file::FileHeader<LittleEndian>, Vec<elf::segment::ProgramHeader>), ImageError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(|e| ImageError::Elf(e.to_string()))?;
    let phdrs = file.segments().ok_or(ImageError::NoSegments)?.iter().collect();
    Ok((file.ehdr, phdrs))
}

/// The contents of note segment `ph` (program header `index`) in `bytes`.
fn note_in<'a>(bytes: &'a [u8], index: usize, ph: &elf::segment::ProgramHeader) -> Result<&'a [u8], ImageError> {
    usize::try_from(ph.p_offset)
        .ok()
        .zip(usize::try_from(ph.p_filesz).ok())
        .and_then(|(s, l)| bytes.get(s..s.checked_add(l)?))
        .ok_or(ImageError::BadSegment { index, why: "note lies outside the file" })
}

/// The device manifest of any ELF program with one: an Oasis image, or a
/// unikernel built for the unix target (which keeps the same note).
pub fn program_manifest(bytes: &[u8]) -> Result<Manifest, ImageError> {
    let (_, phdrs) = headers(bytes)?;
    let mut notes: Vec<&[u8]> = Vec::new();
    for (index, ph) in phdrs.iter().enumerate().filter(|(_, p)| p.p_type == PT_NOTE) {
        notes.push(note_in(bytes, index, ph)?);
    }
    Ok(Manifest::from_notes(&notes)?)
}

fn check_segment(index: usize, ph: &elf::segment::ProgramHeader, file_len: u64) -> Result<Segment, ImageError> {
    let bad = |why| ImageError::BadSegment { index, why };
    if ph.p_vaddr != ph.p_paddr {
        return Err(bad("virtual and physical addresses differ"));
    }
    if ph.p_filesz > ph.p_memsz {
        return Err(bad("file size exceeds memory size"));
    }
    if ph.p_offset.checked_add(ph.p_filesz).is_none_or(|end| end > file_len) {
        return Err(bad("file range lies outside the file"));
    }
    if ph.p_memsz == 0 {
        return Err(bad("empty in memory"));
    }
    // Each segment gets its own page protections, so none may share a page.
    if !ph.p_vaddr.is_multiple_of(oasis_abi::layout::PAGE_SIZE) {
        return Err(bad("does not start on a page boundary"));
    }
    if ph.p_vaddr < KERNEL_BASE {
        return Err(ImageError::SegmentTooLow { index, addr: ph.p_vaddr });
    }
    if ph.p_vaddr.checked_add(ph.p_memsz).is_none_or(|end| end > MAX_MEM_SIZE) {
        return Err(bad("extends past the largest guest memory"));
    }
    let (read, write, execute) = (ph.p_flags & PF_R != 0, ph.p_flags & PF_W != 0, ph.p_flags & PF_X != 0);
    if write && execute {
        return Err(ImageError::WritableAndExecutable(index));
    }
    Ok(Segment {
        addr: ph.p_vaddr,
        mem_len: ph.p_memsz,
        file_offset: ph.p_offset,
        file_len: ph.p_filesz,
        read,
        write,
        execute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(matches!(Image::parse(b""), Err(ImageError::Elf(_))));
        assert!(matches!(Image::parse(b"\x7fELF garbage garbage garbage"), Err(ImageError::Elf(_))));
        assert!(matches!(Image::parse(&[0u8; 4096]), Err(ImageError::Elf(_))));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = Image::parse(&bytes);
        }

        #[test]
        fn elf_header_prefix_with_random_tail_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)) {
            let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0".to_vec();
            bytes.extend(tail);
            let _ = Image::parse(&bytes);
        }
    }
}
