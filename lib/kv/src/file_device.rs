//! A block device over a host file, for host tools (`oasis kv …`) and the
//! unix target: whole blocks with positioned reads and writes, and `flush`
//! as `fdatasync`. A request does its I/O on its future's first poll and
//! completes there, so a store over it runs under
//! [`crate::tools::block_on`].

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

/// A file used as a block device. Its capacity is the file's length
/// rounded down to whole blocks.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    info: BlockInfo,
    error: Option<io::Error>,
}

impl FileDevice {
    /// Opens an existing file (`writable` for read-write).
    pub fn open(path: &Path, block_size: u32, writable: bool) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        Self::from_file(file, block_size)
    }

    /// Creates a new file of `capacity` bytes (it must not exist).
    pub fn create(path: &Path, capacity: u64, block_size: u32) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        file.set_len(capacity)?;
        Self::from_file(file, block_size)
    }

    /// Uses an open file.
    pub fn from_file(file: File, block_size: u32) -> io::Result<Self> {
        if !block_size.is_power_of_two() || block_size < 512 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "block size must be a power of two, at least 512"));
        }
        let len = file.metadata()?.len();
        let capacity = len / u64::from(block_size) * u64::from(block_size);
        if capacity == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the file is smaller than one block"));
        }
        Ok(FileDevice { file, info: BlockInfo { capacity, block_size }, error: None })
    }

    /// The I/O error behind the last [`DeviceError`], for messages.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Gives the file back.
    pub fn into_file(self) -> File {
        self.file
    }

    fn checked(&mut self, offset: u64, len: usize) -> Result<(), DeviceError> {
        let block = u64::from(self.info.block_size);
        let fits = offset.checked_add(len as u64).is_some_and(|end| end <= self.info.capacity);
        let refused = if !offset.is_multiple_of(block) || !(len as u64).is_multiple_of(block) {
            DeviceError::Unaligned
        } else if !fits {
            DeviceError::OutOfRange
        } else {
            return Ok(());
        };
        self.error = Some(io::Error::new(io::ErrorKind::InvalidInput, refused.to_string()));
        Err(refused)
    }

    fn result(&mut self, result: io::Result<()>) -> Result<(), DeviceError> {
        result.map_err(|error| {
            self.error = Some(error);
            DeviceError::Io
        })
    }
}

impl BlockDevice for FileDevice {
    fn info(&self) -> BlockInfo {
        self.info
    }

    async fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.checked(offset, buf.len())?;
        let result = self.file.read_exact_at(buf, offset);
        self.result(result)
    }

    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.checked(offset, data.len())?;
        let result = self.file.write_all_at(data, offset);
        self.result(result)
    }

    async fn flush(&mut self) -> Result<(), DeviceError> {
        let result = self.file.sync_data();
        self.result(result)
    }
}
