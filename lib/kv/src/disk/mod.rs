//! The read-write store on a block device: [`DiskKv`].
//!
//! An append-only, checksummed, circular log of records behind a
//! double superblock, an in-memory index of live keys, recovery on open,
//! compaction, and `check`. `docs/kv-format.md` specifies the format and
//! argues its crash safety; the files here follow it:
//! `format.rs` (records), `superblock.rs`, `log.rs` (geometry and I/O),
//! `limits.rs` (the sizes the format implies), `store.rs` (write path),
//! `recover.rs`, `compact.rs`, `index.rs`, `plan.rs` (write-time checks),
//! `check.rs`.

mod check;
mod compact;
mod format;
mod index;
pub mod limits;
mod log;
mod plan;
mod recover;
mod store;
mod superblock;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use oasis_devices::BlockDevice;
use oasis_sync::Mutex;
use sha2::{Digest, Sha256};

pub use check::{CheckReport, Problem, ProblemKind, check};
pub use format::FORMAT_VERSION;

use crate::error::KvError;
use crate::key::{DEFAULT_MAX_KEY_LEN, valid_prefix};
use crate::traits::{BatchOp, EntryKind, KvRo, KvRw};
use store::Store;

/// When writes become durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every `set`, `remove`, `batch` and `rename` syncs before it returns:
    /// once it returns `Ok`, the change survives a crash. Each write then
    /// costs a device flush and at least one block.
    #[default]
    Always,
    /// Writes are durable once a later `sync` (or `close`) returns `Ok`;
    /// a crash before that may lose them (but never tears them: each write
    /// is all there or not at all, in order). Faster, and small writes
    /// share blocks.
    Explicit,
}

/// How to format a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatOptions {
    /// Identifies the store on the device: records of any other store
    /// (an earlier one formatted on the same device) never read as its
    /// own. Pick it at random.
    pub store_id: u64,
    /// Longest key, in bytes (at most 4096).
    pub max_key_len: u32,
    /// Largest value, in bytes.
    pub max_value_len: u32,
    /// Largest record (one write or batch), in bytes. `None`: room for two
    /// values at the limit, capped at an eighth of the log. At most an
    /// eighth of the log, so compaction always has room to work.
    pub max_record_len: Option<u32>,
}

impl FormatOptions {
    /// Keys up to 1 KiB, values up to 1 MiB.
    pub fn new(store_id: u64) -> Self {
        FormatOptions {
            store_id,
            max_key_len: DEFAULT_MAX_KEY_LEN as u32,
            max_value_len: limits::DEFAULT_MAX_VALUE_LEN,
            max_record_len: None,
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// When writes become durable.
    pub durability: Durability,
    /// Open without writing anything to the device (writes fail with
    /// [`KvError::ReadOnly`]); what host tools use to inspect a store.
    pub read_only: bool,
}

/// What a store is and holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// The id chosen at format.
    pub store_id: u64,
    /// Device block size.
    pub block_size: u32,
    /// Device bytes the store uses.
    pub capacity: u64,
    /// Bytes of log.
    pub log_bytes: u64,
    /// Bytes of log between tail and head (live and dead records).
    pub log_used: u64,
    /// Live data the store accepts before refusing writes with `NoSpace`.
    pub usable_bytes: u64,
    /// Live data now (each value counted with its record overhead).
    pub live_bytes: u64,
    /// Keys holding values.
    pub keys: usize,
    /// Superblock updates since format (opens for writing, compaction
    /// runs, checkpoints).
    pub generation: u64,
    /// Sessions opened for writing since format.
    pub epoch: u32,
    /// Longest key, in bytes.
    pub max_key_len: u32,
    /// Largest value, in bytes.
    pub max_value_len: u32,
    /// Largest record (one write or batch), in bytes.
    pub max_record_len: u32,
}

/// Why [`DiskKv::open`] failed, with the device given back.
pub struct OpenError<D> {
    /// What went wrong.
    pub error: KvError,
    /// The device, as the failed open left it.
    pub device: D,
}

impl<D> fmt::Debug for OpenError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<D> fmt::Display for OpenError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<D> core::error::Error for OpenError<D> {}

impl<D> From<OpenError<D>> for KvError {
    fn from(error: OpenError<D>) -> Self {
        error.error
    }
}

/// A crash-safe key-value store on a block device.
///
/// Methods take `&self` so tasks can share the store: it sits behind an
/// async mutex, and an operation holds it from start to end, across the
/// device requests it awaits, so operations never interleave (a task that
/// calls while another's operation is in flight waits its turn).
/// `last_modified` is the time passed to [`DiskKv::set_clock`] when the
/// value was written, or, if no clock was set, a logical timestamp: the
/// sequence number of the write, which only grows over the life of the
/// store.
pub struct DiskKv<D: BlockDevice> {
    store: Mutex<Store<D>>,
}

impl<D: BlockDevice> DiskKv<D> {
    /// Writes a new, empty store on `dev`, destroying what it held. Opening
    /// never formats: this is the only way to make a store.
    pub async fn format(dev: &mut D, options: &FormatOptions) -> Result<(), KvError> {
        store::format(dev, options).await
    }

    /// Opens the store on `dev`, recovering it after a crash. A device that
    /// holds no store is refused with [`KvError::NotAStore`] and left
    /// untouched; so is a store of a newer format version
    /// ([`KvError::UnsupportedVersion`]), and read-only opens write
    /// nothing at all.
    /// On failure the device comes back in the error, so the caller can
    /// format it, say; `?` turns the error into a [`KvError`].
    pub async fn open(dev: D, options: OpenOptions) -> Result<Self, OpenError<D>> {
        match Store::open(dev, options).await {
            Ok(store) => Ok(DiskKv { store: Mutex::new(store) }),
            Err((error, device)) => Err(OpenError { error, device }),
        }
    }

    /// Syncs, then records in the superblock that the log is durable up
    /// to here: damage found later in these records is then reported as
    /// damage, where a last record failing its checksum would otherwise
    /// be taken for a torn write and dropped. Worth calling before a
    /// planned shutdown. The store stays usable.
    pub async fn checkpoint(&self) -> Result<(), KvError> {
        self.store.lock().await.checkpoint().await
    }

    /// Gives the device back, without syncing: unsynced writes in the
    /// store's buffer are dropped, as a crash would drop them.
    pub fn into_device(self) -> D {
        self.store.into_inner().dev
    }

    /// Runs `f` with the device (shared: it cannot be written through
    /// this), e.g. to copy a test device or read its statistics.
    pub async fn with_device<R>(&self, f: impl FnOnce(&D) -> R) -> R {
        f(&self.store.lock().await.dev)
    }

    /// Sets the time stamped on later writes (any unit; seconds since the
    /// Unix epoch is the convention). The store never reads a clock.
    pub async fn set_clock(&self, now: u64) {
        self.store.lock().await.clock = Some(now);
    }

    /// What the store is and holds.
    pub async fn info(&self) -> StoreInfo {
        self.store.lock().await.info()
    }

    /// Checks the whole store as it is on the device (plus unwritten
    /// buffered records) and compares it with the store's memory.
    pub async fn check(&self) -> Result<CheckReport, KvError> {
        let mut store = self.store.lock().await;
        let copies = superblock::read(&mut store.dev).await?.copies;
        let sb = store.sb;
        let index = store.index.clone();
        let mut report = check::run(store.source(), &sb, Some(&index)).await?;
        report.problems.splice(0..0, check::superblock_problems(&copies));
        Ok(report)
    }

    /// Every key with the size of its value, sorted.
    pub async fn keys(&self) -> Vec<(String, u64)> {
        let store = self.store.lock().await;
        store.index.iter().map(|(key, entry)| (String::from(key), u64::from(entry.value_len))).collect()
    }

    async fn value(&self, key: &str) -> Result<Vec<u8>, KvError> {
        self.store.lock().await.get(key).await
    }

    async fn write(&self, ops: &[BatchOp<'_>]) -> Result<(), KvError> {
        self.store.lock().await.write(ops).await
    }
}

impl<D: BlockDevice> KvRo for DiskKv<D> {
    type Value = Vec<u8>;

    async fn exists(&self, key: &str) -> Result<Option<EntryKind>, KvError> {
        let store = self.store.lock().await;
        valid_prefix(key, store.sb.max_key_len as usize)?;
        Ok(store.index.kind(key))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, KvError> {
        self.value(key).await
    }

    /// Reads (and verifies) the whole value, then returns the part asked
    /// for: checksums cover whole values.
    async fn get_partial(&self, key: &str, offset: u64, len: usize) -> Result<Vec<u8>, KvError> {
        let mut value = self.value(key).await?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(value.len());
        let end = start.saturating_add(len).min(value.len());
        value.truncate(end);
        value.drain(..start);
        Ok(value)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, EntryKind)>, KvError> {
        let store = self.store.lock().await;
        valid_prefix(prefix, store.sb.max_key_len as usize)?;
        match store.index.kind(prefix) {
            None => Err(KvError::NotFound(String::from(prefix))),
            Some(EntryKind::Value) => Err(KvError::NotADictionary(String::from(prefix))),
            Some(EntryKind::Dictionary) => Ok(store.index.list(prefix)),
        }
    }

    async fn size(&self, key: &str) -> Result<u64, KvError> {
        Ok(u64::from(self.store.lock().await.entry(key)?.value_len))
    }

    async fn digest(&self, key: &str) -> Result<[u8; 32], KvError> {
        Ok(Sha256::digest(self.value(key).await?).into())
    }

    async fn last_modified(&self, key: &str) -> Result<u64, KvError> {
        Ok(self.store.lock().await.entry(key)?.modified)
    }
}

impl<D: BlockDevice> KvRw for DiskKv<D> {
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.write(&[BatchOp::Set(key, value)]).await
    }

    async fn remove(&self, key: &str) -> Result<(), KvError> {
        self.write(&[BatchOp::Remove(key)]).await
    }

    async fn batch(&self, ops: &[BatchOp<'_>]) -> Result<(), KvError> {
        self.write(ops).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), KvError> {
        self.write(&[BatchOp::Rename(from, to)]).await
    }

    async fn sync(&self) -> Result<(), KvError> {
        self.store.lock().await.sync().await
    }
}
