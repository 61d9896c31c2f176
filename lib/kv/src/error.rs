//! What can go wrong, as one small error type shared by every store and
//! operation (the stores are small enough that one enum reads better than
//! one per call), each variant with a message a person can act on.

use alloc::string::String;
use core::fmt;

/// Why a key is not a valid path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The key is empty (only a prefix may be: `""` is the root).
    Empty,
    /// The key is longer than the store allows.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The store's limit.
        max: usize,
    },
    /// A segment is empty: a leading, trailing or doubled `/`.
    EmptySegment,
    /// A segment is `.` or `..`, which would mean something else as a path.
    DotSegment,
    /// The key contains a NUL byte.
    Nul,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("the key is empty"),
            KeyError::TooLong { len, max } => write!(f, "the key is {len} bytes long, more than the limit of {max}"),
            KeyError::EmptySegment => f.write_str("the key has an empty segment (a leading, trailing or doubled '/')"),
            KeyError::DotSegment => f.write_str("the key has a '.' or '..' segment"),
            KeyError::Nul => f.write_str("the key contains a NUL byte"),
        }
    }
}

impl core::error::Error for KeyError {}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    /// Nothing is stored at this key.
    NotFound(String),
    /// A value sits where a dictionary is needed: a parent of the key, or
    /// the prefix given to `list`.
    NotADictionary(String),
    /// A dictionary sits where a value is needed.
    NotAValue(String),
    /// The key is not a valid path.
    BadKey {
        /// The key as given (cut short in messages).
        key: String,
        /// What is wrong with it.
        reason: KeyError,
    },
    /// `rename` was asked to move a dictionary into itself.
    RenameIntoItself {
        /// The source.
        from: String,
        /// The destination, inside the source.
        to: String,
    },
    /// A value, key, batch or record is larger than the store allows.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size in bytes (or count, for batches).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The live data would no longer fit on the device, even after
    /// compaction.
    NoSpace,
    /// Stored bytes failed their checksum or do not parse: the store
    /// reports this rather than serve them.
    Corrupt {
        /// Byte offset on the device where the damage was found.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
        /// The key concerned, when known.
        key: Option<String>,
    },
    /// The device does not hold a store (no superblock). Nothing was
    /// written to it.
    NotAStore,
    /// The store was written by a newer version of the on-disk format.
    UnsupportedVersion {
        /// The version on the device.
        found: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// The device does not fit the store or the options asked for.
    Geometry(&'static str),
    /// The store was opened read-only.
    ReadOnly,
    /// The device failed, for this reason. A store that saw a device error
    /// takes no more writes (reopen it to recover what is durable).
    Device(oasis_devices::DeviceError),
}

impl KvError {
    pub(crate) fn bad_key(key: &str, reason: KeyError) -> Self {
        KvError::BadKey { key: String::from(key), reason }
    }

    pub(crate) fn corrupt(offset: u64, reason: &'static str) -> Self {
        KvError::Corrupt { offset, reason, key: None }
    }
}

impl From<oasis_devices::DeviceError> for KvError {
    fn from(cause: oasis_devices::DeviceError) -> Self {
        KvError::Device(cause)
    }
}

/// A key for a message: quoted, and cut short when long.
pub(crate) struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 80;
        if self.0.len() <= MAX {
            return write!(f, "{:?}", self.0);
        }
        let mut end = MAX;
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{:?}… ({} bytes)", &self.0[..end], self.0.len())
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NotFound(key) => write!(f, "no value or dictionary at {}", Shown(key)),
            KvError::NotADictionary(key) => write!(f, "{} is a value, not a dictionary", Shown(key)),
            KvError::NotAValue(key) => write!(f, "{} is a dictionary, not a value", Shown(key)),
            KvError::BadKey { key, reason } => write!(f, "bad key {}: {reason}", Shown(key)),
            KvError::RenameIntoItself { from, to } => {
                write!(f, "cannot rename {} to {}, which lies inside it", Shown(from), Shown(to))
            }
            KvError::TooLarge { what, len, max } => write!(f, "{what} too large: {len}, the limit is {max}"),
            KvError::NoSpace => f.write_str("no space left in the store for its live data"),
            KvError::Corrupt { offset, reason, key: Some(key) } => {
                write!(f, "store corrupt at device offset {offset} (key {}): {reason}", Shown(key))
            }
            KvError::Corrupt { offset, reason, key: None } => {
                write!(f, "store corrupt at device offset {offset}: {reason}")
            }
            KvError::NotAStore => f.write_str("the device does not hold an Oasis key-value store (format it first)"),
            KvError::UnsupportedVersion { found, supported } => {
                write!(f, "the store has on-disk format version {found}; this program reads versions up to {supported}")
            }
            KvError::Geometry(why) => write!(f, "device and store do not fit: {why}"),
            KvError::ReadOnly => f.write_str("the store is open read-only"),
            KvError::Device(cause) => write!(f, "the block device failed: {cause} (reopen the store to recover)"),
        }
    }
}

impl core::error::Error for KvError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            KvError::Device(cause) => Some(cause),
            KvError::BadKey { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
