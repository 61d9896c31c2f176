//! The private network namespace of a run: made and removed with `ip`
//! (iproute2), entered with `setns(2)`.
//!
//! Namespaces are named `oasis-run-PID` after the supervising `oasis run`,
//! so one whose process is gone is known to be stale: a run killed with
//! SIGKILL cannot remove its own, and the next run does.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

/// Where `ip netns` keeps named namespaces.
const DIR: &str = "/run/netns";
const PREFIX: &str = "oasis-run-";

/// The namespace of the run with process id `pid`.
pub fn name(pid: u32) -> String {
    format!("{PREFIX}{pid}")
}

/// The file that holds a named namespace.
pub fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// `ip` arguments that create a named namespace.
pub fn add_args(name: &str) -> Vec<String> {
    vec!["netns".into(), "add".into(), name.into()]
}

/// `ip` arguments that remove one (and the TAPs in it).
pub fn del_args(name: &str) -> Vec<String> {
    vec!["netns".into(), "del".into(), name.into()]
}

/// Namespaces of runs whose process is gone. `own_pid`'s is included: this
/// run has not made it yet, so one by that name was left by an earlier
/// process with the same id.
pub fn stale(own_pid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(DIR) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix(PREFIX)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid == own_pid || !Path::new(&format!("/proc/{pid}")).exists())
        })
        .collect();
    names.sort();
    names
}

/// Runs `ip ARGS`; an error carries ip's own first line.
pub fn ip(args: &[String]) -> Result<()> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            anyhow!("the ip command (iproute2) is missing: apt-get install iproute2")
        } else {
            anyhow!(e).context("running ip")
        }
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("failed");
        bail!("ip {}: {why}", args.join(" "));
    }
    Ok(())
}

/// Capabilities a namespace needs: making and entering it, and the TAP.
const NEEDED: [(u32, &str); 2] = [(21, "CAP_SYS_ADMIN"), (12, "CAP_NET_ADMIN")];

/// The needed capabilities this process lacks (none when it cannot tell).
pub fn missing_capabilities() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(effective) =
        status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    else {
        return Vec::new();
    };
    NEEDED.iter().filter(|(bit, _)| effective & (1 << bit) == 0).map(|(_, name)| *name).collect()
}

/// The advice given when a namespace cannot be made.
fn fallback(dir: &Path) -> String {
    format!(
        "run as root with them, or use `oasis run {} --target unix` (the host's own sockets, no privileges needed)",
        dir.display()
    )
}

/// Refuses, in one line naming the capability, when this process may not
/// make a namespace.
pub fn check_rights(dir: &Path) -> Result<()> {
    let missing = missing_capabilities();
    if !missing.is_empty() {
        bail!(
            "a private network namespace needs CAP_SYS_ADMIN and CAP_NET_ADMIN, and this process lacks {}: {}",
            missing.join(" and "),
            fallback(dir)
        );
    }
    Ok(())
}

/// A namespace this run made; dropping it removes it, and with it the
/// TAPs inside.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    file: File,
}

impl Namespace {
    /// Makes the namespace `name`.
    pub fn create(name: &str, dir: &Path) -> Result<Namespace> {
        if let Err(e) = ip(&add_args(name)) {
            let text = format!("{e:#}");
            if text.contains("Operation not permitted") || text.contains("Permission denied") {
                bail!("{text} (needs CAP_SYS_ADMIN and CAP_NET_ADMIN): {}", fallback(dir));
            }
            return Err(e);
        }
        match File::open(path(name)) {
            Ok(file) => Ok(Namespace { name: name.to_string(), file }),
            Err(e) => {
                let _ = ip(&del_args(name));
                Err(e).with_context(|| format!("opening {}", path(name).display()))
            }
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace file, for [`enter`].
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = ip(&del_args(&self.name)) {
            eprintln!("oasis: warning: removing network namespace {}: {e:#}", self.name);
        }
    }
}

/// Moves the calling thread into the network namespace `ns`.
pub use oasis_sys::enter_netns as enter;
