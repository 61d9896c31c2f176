//! A file as the unikernel's block device on the unix target. Requests
//! are done synchronously inside their futures, so a flush (`fdatasync`)
//! still holds up the executor while it runs.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

use oasis_abi::BLOCK_SIZE;

/// A file used whole blocks at a time, like the tenders' `--block:NAME=FILE`.
#[derive(Debug)]
pub struct FileBlock {
    file: File,
    info: BlockInfo,
}

impl FileBlock {
    /// Opens `path` for reading and writing; its size, rounded down to
    /// whole blocks, is the capacity.
    pub fn open(path: &str) -> Result<FileBlock, String> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| e.to_string())?;
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        // As the tenders do: one process at a time may use a block file.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err("in use by another process (a running unikernel or `oasis kv`) or bound to another device too; stop it first".into());
            }
            // A file system that cannot lock: go on, as the tenders do.
            Err(std::fs::TryLockError::Error(e)) => {
                eprintln!("warning: {path}: cannot lock it ({e}); nothing keeps other processes out");
            }
        }
        let capacity = meta.len() / BLOCK_SIZE * BLOCK_SIZE;
        if capacity == 0 {
            return Err(format!("the file is smaller than one {BLOCK_SIZE}-byte block"));
        }
        Ok(FileBlock { file, info: BlockInfo { capacity, block_size: BLOCK_SIZE as u32 } })
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), DeviceError> {
        let whole = offset.is_multiple_of(BLOCK_SIZE) && (len as u64).is_multiple_of(BLOCK_SIZE) && len > 0;
        let inside = offset.checked_add(len as u64).is_some_and(|end| end <= self.info.capacity);
        // The tenders stop a guest for this; a unix program gets an error.
        match (whole, inside) {
            (false, _) => Err(DeviceError::Unaligned),
            (true, false) => Err(DeviceError::OutOfRange),
            (true, true) => Ok(()),
        }
    }
}

impl BlockDevice for FileBlock {
    fn info(&self) -> BlockInfo {
        self.info
    }

    async fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.check(offset, buf.len())?;
        self.file.read_exact_at(buf, offset).map_err(|_| DeviceError::Io)
    }

    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.check(offset, data.len())?;
        self.file.write_all_at(data, offset).map_err(|_| DeviceError::Io)
    }

    async fn flush(&mut self) -> Result<(), DeviceError> {
        self.file.sync_data().map_err(|_| DeviceError::Io)
    }
}
