//! A file as the unikernel's block device on the unix target.
//!
//! A flush (`fdatasync`, milliseconds on a real disk) runs on a thread of
//! the device's own: the request is in flight while the executor serves
//! other tasks, and completes through an eventfd the reactor watches, which
//! wakes the task that asked. Reads and writes stay on the executor's
//! thread: `pread`/`pwrite` of a few blocks complete from the page cache in
//! microseconds, less than the hop to another thread would cost.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

use oasis_abi::BLOCK_SIZE;

/// A file used whole blocks at a time, like the tenders' `--block:NAME=FILE`.
#[derive(Debug)]
pub struct FileBlock {
    file: Arc<File>,
    info: BlockInfo,
    flusher: Flusher,
}

/// The thread that runs this device's flushes, and how it answers.
#[derive(Debug)]
struct Flusher {
    requests: mpsc::Sender<()>,
    /// The last flush's result, once done.
    done: Arc<Mutex<Option<bool>>>,
    /// Readable once a flush is done.
    signal: Arc<OwnedFd>,
}

impl Flusher {
    fn start(file: Arc<File>) -> std::io::Result<Flusher> {
        // SAFETY: eventfd makes a new descriptor, owned at once below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: eventfd just returned this descriptor; nothing else owns it.
        let signal = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let (requests, incoming) = mpsc::channel::<()>();
        let done = Arc::new(Mutex::new(None));
        let (thread_done, thread_signal) = (done.clone(), signal.clone());
        std::thread::Builder::new().name("oasis-block-flush".into()).spawn(move || {
            // Ends when the device (the sender) is dropped.
            while incoming.recv().is_ok() {
                let ok = file.sync_data().is_ok();
                *thread_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(ok);
                let one = 1u64.to_ne_bytes();
                // SAFETY: writing 8 initialised bytes to our eventfd.
                unsafe { libc::write(thread_signal.as_raw_fd(), one.as_ptr().cast(), one.len()) };
            }
        })?;
        Ok(Flusher { requests, done, signal })
    }

    /// Flushes on the thread; completes when it is done.
    async fn flush(&mut self) -> Result<(), DeviceError> {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.requests.send(()).map_err(|_| DeviceError::Gone)?;
        loop {
            if let Some(ok) = self.done.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let mut count = [0u8; 8];
                // SAFETY: reading the 8-byte counter of our eventfd resets it
                // (nonblocking: EAGAIN if already read).
                unsafe { libc::read(self.signal.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
                return if ok { Ok(()) } else { Err(DeviceError::Io) };
            }
            crate::reactor::readable(self.signal.as_raw_fd()).await;
        }
    }
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
        let file = Arc::new(file);
        let flusher = Flusher::start(file.clone()).map_err(|e| format!("starting its flush thread: {e}"))?;
        Ok(FileBlock { file, info: BlockInfo { capacity, block_size: BLOCK_SIZE as u32 }, flusher })
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
        self.flusher.flush().await
    }
}
