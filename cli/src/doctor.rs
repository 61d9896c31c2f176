//! `oasis doctor`: what this machine offers Oasis, one line per item, and
//! what each missing piece disables — the questions a first `oasis run`
//! that fails would otherwise raise one at a time.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::Result;

use crate::run::netns;
use crate::ui::{self, GREEN, RED, YELLOW};

/// How one item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Present and usable.
    Ok,
    /// Missing: something is disabled.
    Missing,
    /// Worth knowing, disables nothing Oasis has today.
    Note,
}

/// Prints one line: state, item, detail.
fn line(state: State, item: &str, detail: &str) {
    let (word, colour) = match state {
        State::Ok => ("ok", GREEN),
        State::Missing => ("missing", RED),
        State::Note => ("note", YELLOW),
    };
    // Padded before painting, so the escape codes do not upset the columns.
    // A closed stdout (`oasis doctor | head -3`) is no error worth a panic.
    let _ = writeln!(std::io::stdout(), "{} {item}: {detail}", ui::paint_stdout(&format!("{word:<7}"), colour));
}

/// The first line a command prints (`cargo 1.89.0 (…)`), if it runs.
fn version(mut cmd: Command) -> Option<String> {
    let out = cmd.arg("--version").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_string)
}

/// The directory on `PATH` holding `program`.
fn on_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Whether a named network namespace can be made here: makes one and
/// removes it (what `oasis run` does for a unikernel with net devices).
fn netns_usable() -> Result<(), String> {
    let name = format!("oasis-doctor-{}", std::process::id());
    netns::ip(&netns::add_args(&name)).map_err(|e| format!("{e:#}"))?;
    netns::ip(&netns::del_args(&name)).map_err(|e| format!("made {name} but could not remove it: {e:#}"))
}

/// `oasis doctor`; `Ok(false)` when an essential is missing (building, or
/// every target).
pub fn doctor() -> Result<bool> {
    let mut essentials = true;

    // Building: cargo and rustc, found as `oasis build` finds them.
    let toolchain = crate::toolchain::find();
    match &toolchain {
        Ok(t) => {
            let cargo = crate::toolchain::command("cargo").ok().and_then(version);
            let rustc = crate::toolchain::command("rustc").ok().and_then(version);
            match cargo {
                Some(v) => line(State::Ok, "cargo", &format!("{v}, {}", t.how)),
                None => {
                    essentials = false;
                    line(State::Missing, "cargo", &format!("found {} but it does not run: disables building", t.how));
                }
            }
            match rustc {
                Some(v) => line(State::Ok, "rustc", &v),
                None => {
                    essentials = false;
                    line(State::Missing, "rustc", "does not run (rustup default stable?): disables building");
                }
            }
        }
        Err(why) => {
            essentials = false;
            line(State::Missing, "cargo", &format!("disables building (oasis build, oasis run PACKAGE): {why}"));
            line(State::Missing, "rustc", "comes with cargo (rustup)");
        }
    }
    let triple = crate::build::guest_build().triple().unwrap_or("x86_64-unknown-none");
    match toolchain.as_ref().ok().map(|_| crate::build::rust_target_installed(triple)) {
        Some(Ok(true)) => line(State::Ok, &format!("{triple} target"), "installed (hvt and spt images)"),
        Some(Ok(false)) => {
            essentials = false;
            line(
                State::Missing,
                &format!("{triple} target"),
                &format!("disables building hvt and spt images: rustup target add {triple} (scripts/setup)"),
            );
        }
        _ => {
            essentials = false;
            line(State::Missing, &format!("{triple} target"), "cannot tell without rustc");
        }
    }

    // Running: what each target needs, through the table's own checks.
    use oasis_targets::Need;
    match Need::Kvm.check() {
        Ok(()) if oasis_targets::kvm_is_emulated() => line(
            State::Note,
            "/dev/kvm",
            "present but software-emulated (kvm_pvm): hvt works about 10^4 times slower, so oasis run prefers spt",
        ),
        Ok(()) => line(State::Ok, "/dev/kvm", "hardware-accelerated KVM (hvt)"),
        Err(why) => line(State::Missing, "/dev/kvm", &format!("disables hvt: {why}")),
    }
    match Need::Seccomp.check() {
        Ok(()) => line(State::Ok, "seccomp", "available (spt)"),
        Err(why) => line(State::Missing, "seccomp", &format!("disables spt: {why}")),
    }

    // Networking: a unikernel's net devices on hvt and spt get a private
    // network namespace with a TAP, which needs all of these.
    let disables = "disables the private network namespace of hvt and spt runs with net devices \
                    (use --target unix, or --net NAME=TAP with your own TAP)";
    let missing = netns::missing_capabilities();
    let rights = missing.is_empty();
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:")).map(|u| u.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false);
    let who = if root { "running as root" } else { "not root" };
    if rights {
        line(State::Ok, "root / CAP_NET_ADMIN", &format!("{who}, with CAP_SYS_ADMIN and CAP_NET_ADMIN"));
    } else {
        line(State::Missing, "root / CAP_NET_ADMIN", &format!("{who}, lacking {}: {disables}", missing.join(", ")));
    }
    let ip = version_of_ip();
    match &ip {
        Some(v) => line(State::Ok, "iproute2 (ip)", v),
        None => line(State::Missing, "iproute2 (ip)", &format!("apt-get install iproute2: {disables}")),
    }
    match (rights, &ip) {
        (true, Some(_)) => match netns_usable() {
            Ok(()) => line(State::Ok, "ip netns", "network namespaces can be made"),
            Err(why) => line(State::Missing, "ip netns", &format!("{why}: {disables}")),
        },
        _ => line(State::Missing, "ip netns", &format!("needs root and iproute2: {disables}")),
    }
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        Ok(_) => line(State::Ok, "TUN (/dev/net/tun)", "usable"),
        Err(e) => line(State::Missing, "TUN (/dev/net/tun)", &format!("{e}: {disables}")),
    }

    // The coming virtio target's hosts: worth knowing, not needed today.
    for program in ["qemu-system-x86_64", "firecracker"] {
        match on_path(program) {
            Some(p) => line(State::Ok, program, &p.display().to_string()),
            None => line(State::Note, program, "not found (only the coming virtio target would use it)"),
        }
    }

    let runnable: Vec<&str> = oasis_targets::TARGETS.iter().filter(|t| t.available().is_ok()).map(|t| t.name).collect();
    if runnable.is_empty() {
        essentials = false;
    }
    let (picked, why) = oasis_targets::pick();
    line(
        if runnable.is_empty() { State::Missing } else { State::Ok },
        "oasis run",
        &format!("would pick {}: {why} (runnable here: {})", picked.name, runnable.join(", ")),
    );
    Ok(essentials)
}

/// `ip -V`'s line, if the ip command is there.
fn version_of_ip() -> Option<String> {
    let out = Command::new("ip").arg("-V").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success().then(|| text.lines().next().unwrap_or("ip").trim().to_string())
}
