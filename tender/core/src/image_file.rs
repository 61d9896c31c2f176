//! Opening an image file without trusting it: the file is judged by what
//! `fstat` says and by its ELF header before anything large is read, and
//! it is never read whole. Only the headers (at most [`MAX_HEADERS`] bytes
//! from the start) are read into memory; the loadable segments go from the
//! file straight to guest memory, and they must fit `--mem`. So a huge
//! sparse file, `/dev/zero` or a FIFO is refused at once and cheaply, not
//! after using gigabytes or waiting forever. (Only the manifest note is
//! read from wherever it lies, at most 64 KiB.)

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::image::{Image, ImageError};
use crate::memory::LoadError;

/// Bytes from the start of the file within which the ELF header and the
/// program headers must lie.
pub const MAX_HEADERS: u64 = 1 << 20;

/// Bytes read to begin with: enough for the ELF header and program
/// headers of every image Oasis builds (under 1 KiB), without reading the
/// image's data twice (the segments are read straight into guest memory).
const FIRST_READ: u64 = 4 << 10;

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

/// `len` bytes at `offset`, read straight into a fresh buffer (not zeroed
/// first: at every boot that zeroing cost as much as the read).
fn read_at(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let len = len as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        let want = len - buf.len();
        let spare = &mut buf.spare_capacity_mut()[..want];
        let n = pread(file, spare.as_mut_ptr().cast(), want, at)?;
        // SAFETY: pread wrote the first `n` bytes of the spare capacity
        // (`n` is at most its length), so they are initialised.
        unsafe { buf.set_len(buf.len() + n) };
    }
    Ok(buf)
}

/// One `pread` of at most `len` bytes at `offset` into `to`, retried on
/// EINTR; end of file before any byte is an error (the file was checked
/// to be long enough: it shrank).
fn pread(file: &File, to: *mut u8, len: usize, offset: u64) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let offset = libc::off_t::try_from(offset).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    loop {
        // SAFETY: every caller passes `to` valid for writes of `len` bytes
        // that no reference covers meanwhile; the kernel writes at most
        // `len` bytes there.
        let n = unsafe { libc::pread(file.as_raw_fd(), to.cast(), len, offset) };
        match n {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n if n > 0 => return Ok(n as usize),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
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
        // Straight from the file into guest memory: no buffer to allocate,
        // zero and copy from.
        for s in &self.image.segments {
            let fail = |_| LoadError::Write(s.addr);
            let mut offset = s.file_offset;
            let len = usize::try_from(s.file_len).map_err(|_| LoadError::Write(s.addr))?;
            for slice in GuestMemoryBackend::get_slices(mem, GuestAddress(s.addr), len) {
                let slice = slice.map_err(|_| LoadError::Write(s.addr))?;
                let guard = slice.ptr_guard_mut();
                let mut done = 0;
                while done < slice.len() {
                    // SAFETY: `guard` points at `slice.len()` bytes of guest
                    // memory, mapped and writable; nothing runs in the guest
                    // yet and no reference covers those bytes.
                    let to = unsafe { guard.as_ptr().add(done) };
                    let n = pread(&self.file, to, slice.len() - done, offset).map_err(fail)?;
                    done += n;
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}
