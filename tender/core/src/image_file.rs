//! Opening an image file without trusting it: the file is judged by what
//! `fstat` says and by its ELF header before anything large is read, and
//! it is never read whole. Only the headers (at most [`MAX_HEADERS`] bytes
//! from the start) are read into memory; the loadable segments go from the
//! file straight to guest memory, and they must fit `--mem`. So a huge
//! sparse file, `/dev/zero` or a FIFO is refused at once and cheaply, not
//! after using gigabytes or waiting forever. (Only the manifest note is
//! read from wherever it lies, at most 64 KiB.)

use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::image::{Image, ImageError};
use crate::memory::LoadError;

/// Bytes from the start of the file within which the ELF header and the
/// program headers must lie.
pub const MAX_HEADERS: u64 = 1 << 20;

/// Bytes read to begin with: enough for the headers of every image Oasis
/// builds.
const FIRST_READ: u64 = 64 << 10;

/// Size of the ELF64 file header.
const EHDR_LEN: usize = 64;

/// Why an image file was refused before its contents were parsed.
#[derive(Debug, thiserror::Error)]
pub enum ImageFileError {
    /// It could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It is not a regular file.
    #[error("not a regular file (it is {0}): give the image file itself")]
    NotRegular(&'static str),
    /// Its headers lie too far into the file.
    #[error("its program headers lie beyond the first {} KiB", MAX_HEADERS >> 10)]
    HeadersTooFar,
    /// Its contents are not an Oasis image.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// An opened, checked image: the parsed headers and the file to load the
/// segments from.
#[derive(Debug)]
pub struct ImageFile {
    /// What the headers say.
    pub image: Image,
    file: File,
}

fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

fn read_at(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// The largest note segment read (the manifest is about 1.3 KiB).
const MAX_NOTE: u64 = 64 << 10;

/// Where the program header table ends, from the ELF header in `head`;
/// `None` when the header is not that of a 64-bit little-endian ELF file
/// (left for the parser to name).
fn table_end(head: &[u8]) -> Option<u64> {
    let u16_at = |i: usize| head.get(i..i + 2).map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])));
    let u64_at = |i: usize| head.get(i..i + 8).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes);
    if head.get(..4) != Some(b"\x7fELF") || head.get(4) != Some(&2) || head.get(5) != Some(&1) {
        return None;
    }
    u64_at(32)?.checked_add(u16_at(54)?.checked_mul(u16_at(56)?)?)
}

impl std::os::fd::AsRawFd for ImageFile {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

impl ImageFile {
    /// Opens `path` and checks it is an Oasis image: a regular file whose
    /// ELF header and program headers lie in its first [`MAX_HEADERS`]
    /// bytes. Reads only those and the manifest note.
    pub fn open(path: &Path) -> Result<ImageFile, ImageFileError> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(ImageFileError::NotRegular(kind(meta.file_type())));
        }
        let len = meta.len();
        if len == 0 {
            return Err(ImageError::Elf("the file is empty".into()).into());
        }
        let mut head = read_at(&file, 0, len.min(FIRST_READ))?;
        if head.len() < EHDR_LEN {
            return Err(ImageError::Elf("shorter than an ELF header".into()).into());
        }
        let Some(end) = table_end(&head) else {
            // Let the parser say what kind of file it is.
            return Err(Image::parse(&head)
                .err()
                .unwrap_or(ImageError::Elf("its program headers cannot be found".into()))
                .into());
        };
        if end > MAX_HEADERS {
            return Err(ImageFileError::HeadersTooFar);
        }
        if end > head.len() as u64 {
            head = read_at(&file, 0, end.min(len))?;
        }
        // The section headers (at the end of the file) are not needed: let
        // the parser not look for them in the bytes read.
        head[0x28..0x30].fill(0); // e_shoff
        head[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
        let (ehdr, phdrs) = crate::image::headers(&head)?;
        // The notes (the manifest) may lie anywhere: after megabytes of
        // data, in a big image. Each is read on its own, bounded.
        let mut notes = Vec::new();
        for (index, ph) in phdrs.iter().enumerate().filter(|(_, p)| p.p_type == elf::abi::PT_NOTE) {
            let outside = || ImageError::BadSegment { index, why: "note lies outside the file" };
            if ph.p_filesz > MAX_NOTE {
                return Err(ImageError::BadSegment { index, why: "note larger than 64 KiB" }.into());
            }
            if ph.p_offset.checked_add(ph.p_filesz).is_none_or(|e| e > len) {
                return Err(outside().into());
            }
            notes.push(read_at(&file, ph.p_offset, ph.p_filesz)?);
        }
        let notes: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
        let image = Image::build(&ehdr, &phdrs, &notes, len)?;
        Ok(ImageFile { image, file })
    }

    /// Copies the segments from the file into guest memory (which must be
    /// zeroed: the parts of segments past their file data stay zero).
    pub fn load(&self, mem: &GuestMemoryMmap) -> Result<(), LoadError> {
        let mut chunk = vec![0u8; 256 << 10];
        for s in &self.image.segments {
            let mut done = 0u64;
            while done < s.file_len {
                let n = (s.file_len - done).min(chunk.len() as u64) as usize;
                self.file.read_exact_at(&mut chunk[..n], s.file_offset + done).map_err(|_| LoadError::Write(s.addr))?;
                mem.write_slice(&chunk[..n], GuestAddress(s.addr + done)).map_err(|_| LoadError::Write(s.addr))?;
                done += n as u64;
            }
        }
        Ok(())
    }
}
