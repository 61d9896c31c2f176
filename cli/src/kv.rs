//! `oasis kv`: the host side of the read-write key-value store
//! (`oasis-kv`'s `DiskKv`) in a disk image, the file a unikernel's block
//! device is bound to (`oasis run --block NAME=FILE`).
//!
//! Every command but `format` and `import` opens the file read-only (the
//! file itself, and the store with `OpenOptions::read_only`), so looking
//! never writes. A file that holds no store, or a store of a newer format,
//! is refused by name and left as it was; `format` writes only over
//! zeros, an empty file, or (with `--force`) an existing Oasis store.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use oasis_kv::tools::{self, block_on};
use oasis_kv::{DiskKv, Durability, FileDevice, FormatOptions, KvError, KvRw, OpenOptions, StoreInfo};

/// The block size of stores made here: the tenders' (and the unix
/// target's), so an image made by `oasis kv format` is what a unikernel
/// sees.
const BLOCK: u32 = oasis_tender::devices::BLOCK_SIZE as u32;

/// `oasis kv` subcommands.
#[derive(clap::Subcommand)]
pub enum KvCommand {
    /// Make FILE a new, empty store.
    ///
    /// A missing FILE is created with --size bytes. An existing FILE is
    /// formatted in place only when it is empty or all zeros (a fresh disk
    /// image); over an Oasis store only with --force; never over other
    /// data.
    Format(FormatArgs),
    /// List the keys at or below PREFIX with their value sizes: one
    /// `SIZE<TAB>KEY` line each, sorted by key
    Ls {
        /// The store's file
        file: PathBuf,
        /// Only keys at or below this one (default: all)
        #[arg(default_value = "")]
        prefix: String,
        /// End each entry with a NUL byte instead of a newline (keys may
        /// hold newlines)
        #[arg(short = '0', long)]
        null: bool,
    },
    /// Write the value of KEY to standard output, exactly (no newline
    /// added). A missing key or a damaged value is an error: nothing is
    /// written then.
    Get {
        /// The store's file
        file: PathBuf,
        /// The key, e.g. htdocs/index.html
        key: String,
    },
    /// Check the store (fsck) and print what it holds and what is wrong
    /// with it; exits with status 1 if anything is damaged. Never repairs.
    Check {
        /// The store's file
        file: PathBuf,
    },
    /// Set every file under DIR as the key of its relative path (hidden
    /// files too; symbolic links only when they stay inside DIR), then
    /// make it durable. Existing keys are replaced, others kept.
    Import {
        /// The store's file
        file: PathBuf,
        /// The directory to import
        dir: PathBuf,
    },
    /// Write every value out: to a tar archive if DEST ends in `.tar`,
    /// else to files under directory DEST (created if missing), one per key
    /// at its path.
    ///
    /// Existing files are never overwritten without --force: the export
    /// then writes nothing and names the first one. Symbolic links in
    /// DEST are never followed. A damaged value stops the export.
    Export {
        /// The store's file
        file: PathBuf,
        /// A directory, or an archive ending in .tar
        dest: PathBuf,
        /// Replace existing files (an existing archive, or files at keys'
        /// paths; never directories or links)
        #[arg(long)]
        force: bool,
    },
}

/// `oasis kv format` arguments.
#[derive(clap::Args)]
pub struct FormatArgs {
    /// The file to format
    file: PathBuf,
    /// Size of the file to create, e.g. 64M (a multiple of 512). For an
    /// existing file it must equal the file's size, if given.
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Longest key, in bytes (at most 4096)
    #[arg(long, default_value_t = 1024)]
    max_key: u32,
    /// Largest value, e.g. 1M [default: 1M, or the most a small store allows]
    #[arg(long, value_parser = parse_size)]
    max_value: Option<u64>,
    /// Largest record (one write or batch of writes) [default: two values
    /// at the limit, or an eighth of the log]
    #[arg(long, value_parser = parse_size)]
    max_record: Option<u64>,
    /// Format over an existing Oasis store, destroying its contents
    /// (never over a file holding anything else)
    #[arg(long)]
    force: bool,
}

/// A size with an optional K, M or G suffix, as `oasis run --disk-size`.
fn parse_size(s: &str) -> Result<u64, String> {
    oasis_tender::config::parse_size(s)
}

/// Runs `oasis kv …`.
pub fn kv(command: KvCommand) -> Result<()> {
    let (file, writes) = match &command {
        KvCommand::Format(args) => (&args.file, true),
        KvCommand::Import { file, .. } => (file, true),
        KvCommand::Ls { file, .. }
        | KvCommand::Get { file, .. }
        | KvCommand::Check { file }
        | KvCommand::Export { file, .. } => (file, false),
    };
    let _lock = lock(file, writes)?;
    match command {
        KvCommand::Format(args) => format(&args),
        KvCommand::Ls { file, prefix, null } => ls(&file, &prefix, null),
        KvCommand::Get { file, key } => get(&file, &key),
        KvCommand::Check { file } => check(&file),
        KvCommand::Import { file, dir } => import(&file, &dir),
        KvCommand::Export { file, dest, force } => export(&file, &dest, force),
    }
}

// ---- opening -------------------------------------------------------------

/// Locks `file` for the command (flock; released when the command ends):
/// shared to look, exclusive to write. A running unikernel holds it
/// exclusively, so its store is neither read half-written nor written
/// twice. `None` if the file does not exist yet.
fn lock(file: &Path, exclusive: bool) -> Result<Option<File>> {
    let handle = match File::open(file) {
        Ok(handle) => handle,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", file.display())),
    };
    let path = file.display().to_string();
    oasis_tender::devices::lock_block_file(&handle, exclusive, &path).map_err(|why| anyhow!("{path}: {why}"))?;
    Ok(Some(handle))
}

/// The message for a store error about `file`; `io` is the device's own
/// error behind a [`KvError::Device`], when it kept one.
fn store_error(file: &Path, error: &KvError, io: Option<io::Error>) -> anyhow::Error {
    let name = file.display();
    match (error, io) {
        (KvError::NotAStore, _) => anyhow!("{name} is not an Oasis key-value store (`oasis kv format` makes one)"),
        (KvError::UnsupportedVersion { .. }, _) => anyhow!("{name}: {error}"),
        (KvError::Corrupt { .. }, _) => anyhow!("{name}: {error} (`oasis kv check {name}` reports all damage)"),
        (KvError::Device(_), Some(io)) => anyhow!("{name}: I/O error: {io}"),
        _ => anyhow!("{name}: {error}"),
    }
}

/// Opens `file` as a block device: read-only unless `writable`.
fn device(file: &Path, writable: bool) -> Result<FileDevice> {
    let handle = fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .open(file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let meta = handle.metadata().with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", file.display());
    }
    // Too small for the superblocks (FileDevice would refuse less than one
    // block, and say so less usefully).
    if meta.len() < oasis_kv::disk::limits::SUPERBLOCK_BLOCKS * u64::from(BLOCK) {
        return Err(store_error(file, &KvError::NotAStore, None));
    }
    FileDevice::from_file(handle, BLOCK).with_context(|| format!("cannot use {}", file.display()))
}

/// Opens the store in `file`: for writing, or read-only (the file opened
/// read-only too, so nothing can be written).
fn open(file: &Path, writable: bool) -> Result<DiskKv<FileDevice>> {
    let options = OpenOptions { durability: Durability::Explicit, read_only: !writable };
    block_on(DiskKv::open(device(file, writable)?, options)).map_err(|mut failed| {
        let io = failed.device.take_error();
        store_error(file, &failed.error, io)
    })
}

/// `error`, with the store's message for a store error (the store given
/// up to read its device's error).
fn explain(file: &Path, error: anyhow::Error, kv: DiskKv<FileDevice>) -> anyhow::Error {
    let name = file.display();
    match error.downcast_ref::<KvError>() {
        Some(device @ KvError::Device(_)) => store_error(file, device, kv.into_device().take_error()),
        Some(KvError::Corrupt { .. }) => anyhow!("{name}: {error:#} (`oasis kv check {name}` reports all damage)"),
        Some(_) => anyhow!("{name}: {error:#}"),
        None => error,
    }
}

/// Runs `f` on the store in `file`, explaining its errors.
fn with_store<T>(file: &Path, writable: bool, f: impl FnOnce(&DiskKv<FileDevice>) -> Result<T>) -> Result<T> {
    let kv = open(file, writable)?;
    let result = f(&kv);
    result.map_err(|error| explain(file, error, kv))
}

/// `n` and `thing`, plural unless one.
fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Writes to standard output; a reader that went away (`| head`) ends the
/// output quietly.
fn stdout(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing to standard output"),
    }
}

// ---- format --------------------------------------------------------------

/// What an existing file holds, as far as `format` cares.
enum Content {
    /// Nothing but zero bytes.
    Zeros,
    /// An Oasis store (perhaps damaged, or of a newer format): `what`
    /// describes it.
    Store(String),
    /// Anything else.
    Foreign,
}

/// What `file` (which exists and is not empty) holds.
fn classify(file: &Path) -> Result<Content> {
    let dev = device(file, false);
    if let Ok(dev) = dev {
        let options = OpenOptions { read_only: true, ..OpenOptions::default() };
        match block_on(DiskKv::open(dev, options)) {
            Ok(kv) => {
                return Ok(Content::Store(format!("an Oasis key-value store with {} keys", block_on(kv.info()).keys)));
            }
            Err(failed) => match failed.error {
                KvError::NotAStore => {}
                error @ KvError::Device(_) => {
                    let mut dev = failed.device;
                    return Err(store_error(file, &error, dev.take_error()));
                }
                error => return Ok(Content::Store(format!("an Oasis key-value store that does not open ({error})"))),
            },
        }
    }
    let mut handle = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = match handle.read(&mut buf) {
            Ok(0) => return Ok(Content::Zeros),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(Content::Foreign);
        }
    }
}

/// The value limit when none is given: the store's default, or the
/// largest a `capacity`-byte store allows (0 if none).
fn default_max_value(capacity: u64, max_key: u32) -> u64 {
    use oasis_kv::disk::limits;
    limits::max_value_len(capacity, BLOCK, max_key).min(u64::from(limits::DEFAULT_MAX_VALUE_LEN))
}

fn limit(value: u64, flag: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| anyhow!("{flag} {value}: at most {} bytes", u32::MAX))
}

/// A fresh random store id.
fn random_id() -> Result<u64> {
    let mut bytes = [0; 8];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for a store id")?;
    Ok(u64::from_le_bytes(bytes))
}

/// `oasis kv format FILE`.
fn format(args: &FormatArgs) -> Result<()> {
    let file = &args.file;
    let name = file.display();
    // The size of a file to create or fill.
    let new_size = |state: &str| match args.size {
        None => Err(anyhow!("{name} {state}: give --size to make it")),
        Some(size) if !size.is_multiple_of(u64::from(BLOCK)) => {
            Err(anyhow!("--size {size}: must be a multiple of {BLOCK} bytes"))
        }
        Some(size) => Ok(size),
    };
    let existing = match fs::metadata(file) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
    };
    // How to put the file back if formatting fails.
    let mut new_file_lock = None;
    let undo: Box<dyn Fn()> = match existing {
        None => {
            let size = new_size("does not exist")?;
            let created = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(file)
                .with_context(|| format!("cannot create {name}"))?;
            // Locked from the start, as an existing file is (see `lock`);
            // if someone took it first, the file is theirs: left alone.
            oasis_tender::devices::lock_block_file(&created, true, &name.to_string())
                .map_err(|why| anyhow!("{name}: {why}"))?;
            let undo = Box::new(|| drop(fs::remove_file(file)));
            if let Err(e) = created.set_len(size) {
                undo();
                return Err(e).with_context(|| format!("cannot size {name} to {size} bytes"));
            }
            new_file_lock = Some(created);
            undo
        }
        Some(meta) if !meta.is_file() => bail!("{name} is not a regular file"),
        Some(meta) if meta.len() == 0 => {
            let size = new_size("is empty")?;
            let handle =
                fs::OpenOptions::new().write(true).open(file).with_context(|| format!("cannot open {name}"))?;
            handle.set_len(size).with_context(|| format!("cannot size {name} to {size} bytes"))?;
            Box::new(move || drop(handle.set_len(0)))
        }
        Some(meta) => {
            if let Some(size) = args.size
                && size != meta.len()
            {
                bail!("{name} exists and is {} bytes, not --size {size} (existing files are not resized)", meta.len());
            }
            match classify(file)? {
                Content::Zeros => {}
                Content::Store(what) if args.force => eprintln!("oasis: formatting over {what} in {name}"),
                Content::Store(what) => {
                    bail!("{name} holds {what}: --force formats over it, destroying its contents")
                }
                Content::Foreign => bail!(
                    "{name} holds data that is not an Oasis key-value store: refusing to format over it (it was left unchanged)"
                ),
            }
            Box::new(|| ())
        }
    };
    let result = format_file(args);
    if result.is_err() {
        undo();
    }
    drop(new_file_lock);
    let info = result?;
    stdout(|out| {
        writeln!(
            out,
            "formatted {name}: store id {:#018x}, {} bytes, {} usable for data; keys up to {} bytes, values up to {} bytes",
            info.store_id, info.capacity, info.usable_bytes, info.max_key_len, info.max_value_len
        )
    })
}

/// Formats `args.file`, already the right size; returns what it now holds.
fn format_file(args: &FormatArgs) -> Result<StoreInfo> {
    let file = &args.file;
    let mut dev = FileDevice::open(file, BLOCK, true).with_context(|| format!("cannot open {}", file.display()))?;
    let capacity = fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    let max_value = match args.max_value {
        Some(value) => limit(value, "--max-value")?,
        None => match default_max_value(capacity, args.max_key) {
            0 => bail!(
                "{}: {capacity} bytes is too small for a store with keys up to {} bytes",
                file.display(),
                args.max_key
            ),
            value => limit(value, "--max-value")?,
        },
    };
    let max_record = args.max_record.map(|r| limit(r, "--max-record")).transpose()?;
    let options = FormatOptions {
        store_id: random_id()?,
        max_key_len: args.max_key,
        max_value_len: max_value,
        max_record_len: max_record,
    };
    if let Err(error) = block_on(DiskKv::format(&mut dev, &options)) {
        match dev.take_error() {
            Some(io) => bail!("cannot format {}: I/O error: {io}", file.display()),
            None => bail!("cannot format {}: {error}", file.display()),
        }
    }
    drop(dev);
    Ok(block_on(open(file, false)?.info()))
}

// ---- reading -------------------------------------------------------------

/// `oasis kv ls FILE [PREFIX]`.
fn ls(file: &Path, prefix: &str, null: bool) -> Result<()> {
    let keys = with_store(file, false, |kv| Ok(tools::ls(kv, prefix)?))?;
    let end = if null { b'\0' } else { b'\n' };
    stdout(|out| {
        for (key, size) in &keys {
            write!(out, "{size}\t{key}")?;
            out.write_all(&[end])?;
        }
        Ok(())
    })
}

/// `oasis kv get FILE KEY`.
fn get(file: &Path, key: &str) -> Result<()> {
    let value = with_store(file, false, |kv| Ok(tools::get(kv, key)?))?;
    stdout(|out| out.write_all(&value))
}

/// `oasis kv check FILE`.
fn check(file: &Path) -> Result<()> {
    let mut dev = device(file, false)?;
    let report = match block_on(oasis_kv::disk::check(&mut dev)) {
        Ok(report) => report,
        Err(error @ KvError::Corrupt { .. }) => bail!("{}: {error}; nothing more can be checked", file.display()),
        Err(error) => return Err(store_error(file, &error, dev.take_error())),
    };
    // What the store is and how full, when it opens (damaged records keep
    // it from opening; the report says where).
    let options = OpenOptions { read_only: true, ..OpenOptions::default() };
    let info = block_on(DiskKv::open(dev, options)).ok().map(|kv| block_on(kv.info()));
    stdout(|out| {
        if let Some(info) = info {
            writeln!(
                out,
                "store id {:#018x}: {} bytes in {}-byte blocks; keys up to {} bytes, values up to {} bytes",
                info.store_id, info.capacity, info.block_size, info.max_key_len, info.max_value_len
            )?;
            writeln!(
                out,
                "space: {} of {} usable bytes hold live data, {} free",
                info.live_bytes,
                info.usable_bytes,
                info.usable_bytes.saturating_sub(info.live_bytes)
            )?;
        }
        writeln!(out, "{report}")
    })?;
    if !report.is_clean() {
        let errors = count(report.problems.iter().filter(|p| p.is_error()).count(), "problem");
        bail!("{} is damaged: {errors} (listed above)", file.display());
    }
    Ok(())
}

// ---- import --------------------------------------------------------------

/// `oasis kv import FILE DIR`.
fn import(file: &Path, dir: &Path) -> Result<()> {
    let entries = oasis_kv_build::read_dir(dir).with_context(|| format!("cannot import {}", dir.display()))?.entries;
    // Plan: every key and size within the store's limits, before writing.
    let info = with_store(file, false, |kv| Ok(block_on(kv.info())))?;
    let store = fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut total = 0;
    for (key, path, _) in &entries {
        let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if same_file(&meta, &store) {
            bail!("{} is the store itself: it cannot be imported into itself", path.display());
        }
        oasis_kv::key::check_key(key, info.max_key_len as usize)
            .map_err(|why| anyhow!("{}: cannot be a key: {why}", path.display()))?;
        let len = meta.len();
        if len > u64::from(info.max_value_len) {
            bail!("{}: {len} bytes, more than the store's value limit of {} bytes", path.display(), info.max_value_len);
        }
        total += len;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    with_store(file, true, |kv| {
        block_on(kv.set_clock(now));
        let mut done = 0;
        let result = entries.iter().try_for_each(|(key, path, _)| {
            let value = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            block_on(kv.set(key, &value)).with_context(|| format!("cannot set {key:?}"))?;
            done += 1;
            Ok::<_, anyhow::Error>(())
        });
        // Make what was set durable (and known durable, so later damage
        // to it is reported as damage), even after an error.
        let synced = block_on(kv.checkpoint());
        result.with_context(|| format!("{done} of {} files were imported before this error", entries.len()))?;
        synced.context("cannot make the import durable")?;
        Ok(())
    })?;
    let (files, dir, file) = (count(entries.len(), "file"), dir.display(), file.display());
    stdout(|out| writeln!(out, "imported {files} ({total} bytes) from {dir} into {file}"))
}

// ---- export --------------------------------------------------------------

/// Whether `dest` names a tar archive.
fn is_tar(dest: &Path) -> bool {
    dest.as_os_str().as_bytes().ends_with(b".tar")
}

/// `oasis kv export FILE DEST`.
fn export(file: &Path, dest: &Path, force: bool) -> Result<()> {
    let store = fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (values, bytes) = with_store(file, false, |kv| {
        if is_tar(dest) { export_tar(kv, &store, dest, force) } else { export_dir(kv, &store, dest, force) }
    })?;
    let (values, file, dest) = (count(values, "value"), file.display(), dest.display());
    stdout(|out| writeln!(out, "exported {values} ({bytes} bytes) from {file} to {dest}"))
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn export_tar(kv: &DiskKv<FileDevice>, store: &fs::Metadata, dest: &Path, force: bool) -> Result<(usize, u64)> {
    let name = dest.display();
    match fs::metadata(dest) {
        Ok(meta) if same_file(&meta, store) => bail!("{name} is the store itself"),
        Ok(meta) if !meta.is_file() => bail!("{name} exists and is not a regular file"),
        Ok(_) if !force => bail!("{name} exists: --force replaces it"),
        Ok(_) => return replace_tar(kv, dest),
        Err(_) => {}
    }
    let out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .with_context(|| format!("cannot create {name}"))?;
    let written = write_tar(kv, out, dest);
    if written.is_err() {
        drop(fs::remove_file(dest));
    }
    written
}

/// Writes the archive next to `dest`, then renames it over `dest`: a
/// failed export leaves the old archive as it was.
fn replace_tar(kv: &DiskKv<FileDevice>, dest: &Path) -> Result<(usize, u64)> {
    let mut temp = dest.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    let written = write_tar(kv, out, &temp).and_then(|done| {
        fs::rename(&temp, dest).map(|()| done).with_context(|| format!("cannot replace {}", dest.display()))
    });
    if written.is_err() {
        drop(fs::remove_file(&temp));
    }
    written
}

fn write_tar(kv: &DiskKv<FileDevice>, out: File, dest: &Path) -> Result<(usize, u64)> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut archive = tar::Builder::new(BufWriter::new(out));
    let mut bytes = 0;
    let count = tools::export(kv, "", |key, value| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(value.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(now);
        archive.append_data(&mut header, key, value.as_slice()).with_context(|| format!("cannot archive {key:?}"))?;
        bytes += value.len() as u64;
        Ok::<_, anyhow::Error>(())
    })?;
    let out = archive.into_inner().and_then(|w| w.into_inner().map_err(io::IntoInnerError::into_error));
    out.and_then(|f| f.sync_all()).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok((count, bytes))
}

/// Where key `key` goes under `dest`, checked segment by segment: no
/// segment that is empty, `.`, `..` or holds a `/` (keys are checked
/// paths already; this makes sure).
fn key_path(dest: &Path, key: &str) -> Result<PathBuf> {
    oasis_kv::key::check_key(key, usize::MAX).map_err(|why| anyhow!("key {key:?} cannot be a path: {why}"))?;
    let mut path = dest.to_path_buf();
    for segment in key.split('/') {
        path.push(segment);
    }
    Ok(path)
}

/// Why `path` (an existing directory on the way to a key's file, or the
/// file) cannot be used, if it cannot.
fn in_the_way(path: &Path, last: bool, force: bool, store: &fs::Metadata) -> Result<Option<String>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let name = path.display();
    Ok(if meta.file_type().is_symlink() {
        Some(format!("{name} is a symbolic link (never followed)"))
    } else if !last {
        (!meta.is_dir()).then(|| format!("{name} is in the way: it is not a directory"))
    } else if meta.is_dir() {
        Some(format!("{name} is a directory"))
    } else if !meta.is_file() {
        Some(format!("{name} is not a regular file"))
    } else if same_file(&meta, store) {
        Some(format!("{name} is the store itself"))
    } else if !force {
        Some(format!("{name} exists (--force overwrites files)"))
    } else {
        None
    })
}

fn export_dir(kv: &DiskKv<FileDevice>, store: &fs::Metadata, dest: &Path, force: bool) -> Result<(usize, u64)> {
    // Plan: every key's path, refusing the whole export before writing
    // anything if one is taken.
    match fs::metadata(dest) {
        Ok(meta) if !meta.is_dir() => bail!("{} exists and is not a directory", dest.display()),
        _ => {}
    }
    for (key, _) in &tools::ls(kv, "")? {
        key_path(dest, key)?;
        let mut at = dest.to_path_buf();
        let segments: Vec<&str> = key.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            at.push(segment);
            if let Some(why) = in_the_way(&at, i + 1 == segments.len(), force, store)? {
                bail!("cannot export {key:?}: {why}; nothing was exported");
            }
        }
    }
    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut bytes = 0;
    let count = tools::export(kv, "", |key, value| {
        write_value(dest, key, &key_path(dest, key)?, &value, force)?;
        bytes += value.len() as u64;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok((count, bytes))
}

/// Writes `value` at `path` (key `key` under `dest`), making its
/// directories; never through a symbolic link.
fn write_value(dest: &Path, key: &str, path: &Path, value: &[u8], force: bool) -> Result<()> {
    let mut at = dest.to_path_buf();
    let segments: Vec<&str> = key.split('/').collect();
    for segment in &segments[..segments.len() - 1] {
        at.push(segment);
        match fs::create_dir(&at) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&at).with_context(|| format!("cannot read {}", at.display()))?;
                if !meta.is_dir() {
                    bail!("{} is in the way: it is not a directory", at.display());
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", at.display())),
        }
    }
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .create_new(!force)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    out.write_all(value).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_value_limit_fits_small_stores() {
        assert_eq!(default_max_value(64 << 20, 1024), 1 << 20);
        // 1 MiB: 2046 log blocks, records up to an eighth of the log.
        let record = (2046 * 512 / 8) & !7;
        assert_eq!(default_max_value(1 << 20, 1024), record - 48 - 24 - 1024);
        assert_eq!(default_max_value(4096, 1024), 0);
    }

    #[test]
    fn tar_destinations() {
        assert!(is_tar(Path::new("out.tar")) && is_tar(Path::new("/tmp/a.b.tar")));
        assert!(!is_tar(Path::new("out")) && !is_tar(Path::new("out.tar/")) && !is_tar(Path::new("tar")));
    }

    #[test]
    fn key_paths_stay_inside() {
        assert_eq!(key_path(Path::new("/d"), "a/b").unwrap(), Path::new("/d/a/b"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", ".", "a\0b", ""] {
            assert!(key_path(Path::new("/d"), bad).is_err(), "{bad:?}");
        }
    }
}
