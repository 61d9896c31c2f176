//! Disks that `oasis run` keeps for a unikernel's block devices: one file
//! per package and device, in the user's data directory (not under a
//! build's `target/`, so `cargo clean` or a moved checkout leaves the data
//! alone), and `oasis disks ls|rm|path` to manage them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The size of a disk `oasis run` makes when `--disk-size` is not given.
pub const DEFAULT_SIZE: &str = "256M";

/// `oasis disks …`.
#[derive(clap::Subcommand)]
pub enum DisksCommand {
    /// List the kept disks: name, size on disk, capacity, path
    Ls,
    /// Print the path of disk NAME (PACKAGE-DEVICE, as `ls` shows it)
    Path {
        /// PACKAGE-DEVICE, e.g. kv-storage
        name: String,
    },
    /// Remove disk NAME and the data on it
    Rm {
        /// PACKAGE-DEVICE, e.g. kv-storage
        name: String,
    },
}

/// Where kept disks live: `$OASIS_DISKS_DIR`, else
/// `$XDG_DATA_HOME/oasis/disks`, else `~/.local/share/oasis/disks`.
pub fn dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("OASIS_DISKS_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("oasis/disks"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither XDG_DATA_HOME nor HOME is set: set OASIS_DISKS_DIR to where disks should be kept")?;
    Ok(PathBuf::from(home).join(".local/share/oasis/disks"))
}

/// A disk's name: the package's and the device's.
pub fn name(package: &str, device: &str) -> String {
    format!("{package}-{device}")
}

fn path_of(name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("'{name}' is not a disk name (PACKAGE-DEVICE, as `oasis disks ls` shows it)");
    }
    Ok(dir()?.join(format!("{name}.img")))
}

/// Makes `path` a sparse, zero-filled file of `bytes`.
pub fn create(path: &Path, bytes: u64) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_len(bytes).with_context(|| format!("sizing {}", path.display()))
}

/// The kept disk for `package`'s block device `device`: made the first
/// time (`size`, else the default), refused when `size` is given and the
/// existing disk has another.
pub fn kept(package: &str, device: &str, size: Option<&str>) -> Result<PathBuf> {
    let path = path_of(&name(package, device))?;
    let wanted = size.map(crate::run::check::disk_size).transpose()?;
    match std::fs::metadata(&path) {
        Ok(meta) => {
            if let (Some(size), Some(bytes)) = (size, wanted)
                && meta.len() != bytes
            {
                bail!(
                    "block device '{device}': the kept disk {} is {}, not --disk-size {size}: leave out --disk-size \
                     to use it, or remove it first (oasis disks rm {}), losing its data",
                    path.display(),
                    human(meta.len()),
                    name(package, device)
                );
            }
            eprintln!("oasis: block device '{device}': {}", path.display());
        }
        Err(_) => {
            let size = size.unwrap_or(DEFAULT_SIZE);
            let bytes = crate::run::check::disk_size(size)?;
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            create(&path, bytes)?;
            eprintln!("oasis: block device '{device}': created {} ({size}), kept for later runs", path.display());
        }
    }
    Ok(path)
}

/// Bytes in the unit a person would pick.
pub fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    match UNITS.iter().find(|(unit, _)| bytes >= *unit) {
        Some((unit, suffix)) if bytes.is_multiple_of(*unit) => format!("{}{suffix}", bytes / unit),
        Some((unit, suffix)) => format!("{:.1}{suffix}", bytes as f64 / *unit as f64),
        None => format!("{bytes}B"),
    }
}

/// `oasis disks …`.
pub fn disks(command: DisksCommand) -> Result<()> {
    match command {
        DisksCommand::Ls => {
            let dir = dir()?;
            let mut rows: Vec<(String, u64, u64, PathBuf)> = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".img"))
                    else {
                        continue;
                    };
                    let Ok(meta) = entry.metadata() else { continue };
                    use std::os::unix::fs::MetadataExt;
                    rows.push((name.to_string(), meta.blocks() * 512, meta.len(), path));
                }
            }
            rows.sort();
            if rows.is_empty() {
                eprintln!("oasis: no kept disks in {}", dir.display());
                return Ok(());
            }
            println!("{:<24} {:>8} {:>8}  PATH", "NAME", "USED", "SIZE");
            for (name, used, size, path) in rows {
                println!("{name:<24} {:>8} {:>8}  {}", human(used), human(size), path.display());
            }
            Ok(())
        }
        DisksCommand::Path { name } => {
            let path = existing(&name)?;
            println!("{}", path.display());
            Ok(())
        }
        DisksCommand::Rm { name } => {
            let path = existing(&name)?;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            // Not from under a running unikernel.
            oasis_tender::devices::lock_block_file(&file, true, &path.display().to_string())
                .map_err(|why| anyhow::anyhow!("disk {name} ({}): {why}", path.display()))?;
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            eprintln!("oasis: removed disk {name} ({})", path.display());
            Ok(())
        }
    }
}

fn existing(name: &str) -> Result<PathBuf> {
    let path = path_of(name)?;
    if !path.is_file() {
        bail!("no disk named {name} in {} (oasis disks ls lists them)", dir()?.display());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_written() {
        assert_eq!(human(256 << 20), "256M");
        assert_eq!(human(1 << 30), "1G");
        assert_eq!(human(1536 << 10), "1.5M");
        assert_eq!(human(0), "0B");
    }

    #[test]
    fn names_cannot_leave_the_directory() {
        assert!(path_of("../etc/passwd").is_err());
        assert!(path_of(".hidden").is_err());
        assert!(path_of("").is_err());
    }
}
