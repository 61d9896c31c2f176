//! A run's inputs, checked before anything is built or set up: sizes,
//! durations, device names, files and their locks, TAPs, and host ports.
//! A mistake then costs one line and no time, and never leaves a
//! namespace, a TAP or a listener behind.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use oasis_abi::manifest::valid_name;

use super::RunArgs;
use super::publish::{Proto, Publish};

/// The smallest disk `oasis run` makes.
pub const MIN_DISK: u64 = 1 << 20;

/// Checks every option whose value can be judged without the image.
pub fn options(args: &RunArgs) -> Result<()> {
    if let Some(mem) = &args.mem {
        oasis_tender::config::parse_mem(mem).map_err(|why| anyhow!("--mem {mem}: {why}"))?;
    }
    if let Some(timeout) = &args.timeout {
        oasis_tender::config::parse_duration(timeout).map_err(|why| anyhow!("--timeout {timeout}: {why}"))?;
    }
    if let Some(size) = &args.disk_size {
        disk_size(size)?;
    }
    device_names("--net", &args.net)?;
    device_names("--block", &args.block)?;
    for (name, tap) in &args.net {
        existing_tap(name, tap)?;
    }
    for (name, file) in &args.block {
        block_file(name, Path::new(file), args.create_disks)?;
    }
    Ok(())
}

/// `--disk-size`: at least 1M.
pub fn disk_size(size: &str) -> Result<u64> {
    let bytes = oasis_tender::config::parse_size(size).map_err(|why| anyhow!("--disk-size {size}: {why}"))?;
    if bytes < MIN_DISK {
        bail!("--disk-size {size}: at least 1M");
    }
    Ok(bytes)
}

/// Device names are manifest names, each bound once.
fn device_names(option: &str, bindings: &[(String, String)]) -> Result<()> {
    for (i, (name, value)) in bindings.iter().enumerate() {
        if !valid_name(name.as_bytes()) {
            bail!(
                "{option} {name}={value}: '{name}' is not a device name (1 to 31 of a-z, 0-9, _ and -, starting with a letter)"
            );
        }
        if bindings[..i].iter().any(|(n, _)| n == name) {
            bail!("{option} {name}: bound twice");
        }
    }
    Ok(())
}

/// `--net NAME=TAP` binds a TAP that exists: a tender would otherwise
/// make a new, unconfigured one that nothing routes to.
fn existing_tap(name: &str, tap: &str) -> Result<()> {
    // IFNAMSIZ is 16 with the terminating NUL.
    if tap.is_empty() || tap.len() > 15 || tap.contains(['/', ':']) || tap.contains(char::is_whitespace) {
        bail!("--net {name}={tap}: '{tap}' is not an interface name (1 to 15 characters, no '/', ':' or spaces)");
    }
    let sys = Path::new("/sys/class/net").join(tap);
    if !sys.exists() {
        bail!(
            "--net {name}={tap}: there is no TAP device {tap} in this network namespace: make it first \
             (ip tuntap add {tap} mode tap), or leave out --net and oasis run makes a private namespace with its own"
        );
    }
    if !sys.join("tun_flags").exists() {
        bail!("--net {name}={tap}: {tap} is a network interface but not a TAP device");
    }
    Ok(())
}

/// `--block NAME=FILE`: a regular file no one else holds, or one to make
/// (`--create-disks`) in a directory that exists.
fn block_file(name: &str, file: &Path, create: bool) -> Result<()> {
    let shown = file.display();
    match std::fs::metadata(file) {
        Ok(meta) if !meta.is_file() => bail!("--block {name}={shown}: not a regular file"),
        Ok(_) => {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(file)
                .map_err(|e| anyhow!("--block {name}={shown}: {e}"))?;
            // A look at the lock a running unikernel holds; dropped at once.
            oasis_tender::devices::lock_block_file(&opened, true, &shown.to_string())
                .map_err(|why| anyhow!("--block {name}={shown}: {why}"))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !create {
                bail!(
                    "--block {name}={shown}: no such file: add --create-disks to make it (--disk-size, default 256M), \
                     or leave out --block for a disk oasis keeps (oasis disks ls)"
                );
            }
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!("--block {name}={shown}: the directory {} does not exist", parent.display());
            }
            Ok(())
        }
        Err(e) => bail!("--block {name}={shown}: {e}"),
    }
}

/// The host ports a run publishes are free on 127.0.0.1 (checked again,
/// for real, when the proxy takes them).
pub fn free_ports(publish: &[Publish]) -> Result<()> {
    for p in publish {
        let addr = (p.ip, p.host);
        let taken = match p.proto {
            Proto::Tcp => TcpListener::bind(addr).err(),
            Proto::Udp => UdpSocket::bind(addr).err(),
        };
        if let Some(e) = taken {
            bail!("-p {p}: {}:{}/{} cannot be published ({e}): pick another host port", p.ip, p.host, p.proto);
        }
    }
    Ok(())
}
