//! Network namespaces for tests: each test makes its own, with a TAP and a
//! host-side address, runs the unikernel and the clients inside it, and
//! removes it when dropped — even when the test fails. Names carry the
//! test process's pid, so leftovers of a killed run are recognised (the
//! pid is gone) and removed by the next one.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const PREFIX: &str = "oasis-test-";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("running ip: {e} (install iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Removes test namespaces whose creating process is gone.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else { continue };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// A network namespace made for one test.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// A fresh namespace with loopback up, or why one cannot be made here.
    pub fn create() -> Result<NetNs, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        remove_stale();
        let name = format!("{PREFIX}{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        ip(&["netns", "add", &name])?;
        let ns = NetNs { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds TAP `tap`, up, with the host-side addresses given
    /// (`10.0.0.1/24`, `fd00::1/64`).
    pub fn add_tap(&self, tap: &str, addrs: &[&str]) -> Result<(), String> {
        ip(&["-n", &self.name, "tuntap", "add", tap, "mode", "tap"])?;
        for a in addrs {
            if a.contains(':') {
                ip(&["-n", &self.name, "-6", "addr", "add", a, "dev", tap, "nodad"])?;
            } else {
                ip(&["-n", &self.name, "addr", "add", a, "dev", tap])?;
            }
        }
        ip(&["-n", &self.name, "link", "set", tap, "up"])
    }

    /// Runs `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// A command that runs the argument vector `argv` inside the namespace.
    pub fn command_argv(&self, argv: &[std::ffi::OsString]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Packets the interface `dev` has received and sent, as `ip -s link`
    /// counts them (an offloaded 64 KiB segment is one packet).
    pub fn link_packets(&self, dev: &str) -> (u64, u64) {
        let out = self.ip_output(&["-s", "link", "show", dev]);
        let lines: Vec<&str> = out.lines().collect();
        let after = |label: &str| {
            lines
                .iter()
                .position(|l| l.trim_start().starts_with(label))
                .and_then(|i| lines.get(i + 1))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (after("RX:"), after("TX:"))
    }

    /// Output of `ip -n NAME ARGS…`.
    pub fn ip_output(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args).stderr(Stdio::null());
        c.output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Processes still inside keep it alive only as long as they run;
        // the test's guards kill theirs first.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// This process's effective user id, from `/proc/self/status` (`Uid:`
/// real, effective, saved, file system).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// `Ok` when this machine lets tests make namespaces and TAPs, else why not.
pub fn netns_available() -> Result<(), String> {
    if effective_uid() != Some(0) {
        return Err("network tests need root (to create namespaces and TAP devices)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing".into());
    }
    let ns = NetNs::create()?;
    ns.add_tap("probe0", &[])?;
    Ok(())
}
