//! What can go wrong with a store, as the server reports it (`-ERR …` to
//! a client, or a message at boot).

use core::fmt;

use oasis::alloc::string::String;
use oasis::block::DeviceError;
use oasis_kv::KvError;

/// A store failure.
#[derive(Debug)]
pub enum StoreError {
    /// A read or write of the disk store failed.
    Kv(KvError),
    /// Reading the device, to see whether it is blank, failed at this
    /// offset.
    Probe {
        /// Device byte offset.
        at: u64,
        /// Why.
        cause: DeviceError,
    },
    /// The device holds something other than a store: it is left alone.
    Foreign,
    /// Formatting the blank device failed.
    Format(KvError),
    /// Opening the store failed.
    Open(KvError),
    /// Opening the store just formatted failed.
    OpenFormatted(KvError),
    /// A time to live on the device could not be read when opening.
    ReadTtl {
        /// Its path in the store.
        path: String,
        /// Why.
        cause: KvError,
    },
    /// A stray time to live could not be removed when opening.
    RemoveTtl {
        /// Its path in the store.
        path: String,
        /// Why.
        cause: KvError,
    },
}

impl From<KvError> for StoreError {
    fn from(error: KvError) -> Self {
        StoreError::Kv(error)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Kv(e) => write!(f, "{e}"),
            StoreError::Probe { at, cause } => write!(f, "reading the device at {at}: {cause}"),
            StoreError::Foreign => f.write_str(
                "the storage device holds something that is not an Oasis store; refusing to format over it (give \
                 a blank device, or format one with `oasis kv format`)",
            ),
            StoreError::Format(e) => write!(f, "formatting: {e}"),
            StoreError::Open(e) => write!(f, "opening the store: {e}"),
            StoreError::OpenFormatted(e) => write!(f, "opening after format: {e}"),
            StoreError::ReadTtl { path, cause } => write!(f, "reading {path}: {cause}"),
            StoreError::RemoveTtl { path, cause } => write!(f, "removing {path}: {cause}"),
        }
    }
}

impl core::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StoreError::Kv(e)
            | StoreError::Format(e)
            | StoreError::Open(e)
            | StoreError::OpenFormatted(e)
            | StoreError::ReadTtl { cause: e, .. }
            | StoreError::RemoveTtl { cause: e, .. } => Some(e),
            StoreError::Probe { cause, .. } => Some(cause),
            StoreError::Foreign => None,
        }
    }
}
