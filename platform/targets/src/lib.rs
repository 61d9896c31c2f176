//! The one table of Oasis targets. A target is a way to run a unikernel: a
//! platform crate (what the image is built against), how the image is
//! built, how it is launched, and what the host must offer. The `oasis`
//! command, the test kit and the tests all read this table, so adding a
//! target means adding a platform crate and a row here (see
//! `docs/platforms.md`), not editing match arms across the project.
//!
//! It is host-side data and the few functions that read the host to judge
//! a row; it builds and runs nothing itself.

#![forbid(unsafe_code)]

pub mod qemu;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One way to run a unikernel.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// Its name on command lines: `--target hvt`.
    pub name: &'static str,
    /// One line for help texts.
    pub about: &'static str,
    /// The platform crate the image is built against (chosen for the
    /// build's Rust target in the `oasis` crate's `platform` module).
    pub platform: &'static str,
    /// How its image is built.
    pub build: Build,
    /// How it is launched.
    pub launch: Launch,
    /// What it needs from the host.
    pub needs: &'static [Need],
    /// Why it is picked when it is (`oasis run` prints it).
    pub picked_because: &'static str,
}

/// How an image is built.
#[derive(Debug, PartialEq, Eq)]
pub enum Build {
    /// A static ELF for a Rust target of its own (`x86_64-unknown-none`),
    /// linked with the guest linker script.
    Guest {
        /// The Rust target triple.
        triple: &'static str,
        /// The cargo profile.
        profile: &'static str,
        /// rustc flags every crate of the image is built with.
        rustflags: &'static [&'static str],
    },
    /// A program for the host.
    Host {
        /// The cargo profile.
        profile: &'static str,
        /// The cargo feature that gives a net device the unikernel's own
        /// stack on a TAP instead of the host's sockets, if the platform
        /// has one.
        own_stack_feature: Option<&'static str>,
    },
}

impl Build {
    /// The Rust target triple, `None` for the host's.
    pub fn triple(&self) -> Option<&'static str> {
        match self {
            Build::Guest { triple, .. } => Some(triple),
            Build::Host { .. } => None,
        }
    }

    /// The cargo profile.
    pub fn profile(&self) -> &'static str {
        match self {
            Build::Guest { profile, .. } | Build::Host { profile, .. } => profile,
        }
    }

    /// Where cargo puts the image under a target directory: `TRIPLE/PROFILE`
    /// or `PROFILE` (`release` for the release profile).
    pub fn output_dir(&self, target_dir: &Path) -> PathBuf {
        let profile = self.profile();
        match self.triple() {
            Some(t) => target_dir.join(t).join(profile),
            None => target_dir.join(profile),
        }
    }

    /// The cargo arguments that select this build (`--profile … --target …`).
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = vec!["--profile".to_string(), self.profile().to_string()];
        if let Some(t) = self.triple() {
            args.extend(["--target".to_string(), t.to_string()]);
        }
        args
    }
}

/// How a unikernel is launched.
#[derive(Debug, PartialEq, Eq)]
pub enum Launch {
    /// By one of the `oasis` command's tenders: `oasis SUBCOMMAND IMAGE
    /// [--mem=…] [--timeout=…] [--stats] --net NAME=TAP --block NAME=FILE
    /// -- ARGS`.
    Tender {
        /// The tender's subcommand, `hvt` or `spt`.
        subcommand: &'static str,
    },
    /// As a program of its own: `IMAGE --net NAME=TAP --block NAME=FILE
    /// ARGS` (it takes its bindings as boot arguments).
    Program,
}

/// What a target needs from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A usable `/dev/kvm`.
    Kvm,
    /// Seccomp filters (the spt sandbox).
    Seccomp,
}

/// The targets, in the order `oasis run` prefers them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "hvt",
        about: "KVM, through the hvt tender",
        platform: "oasis-platform-tender",
        build: GUEST_IMAGE,
        launch: Launch::Tender { subcommand: "hvt" },
        needs: &[Need::Kvm],
        picked_because: "KVM is hardware-accelerated",
    },
    Target {
        name: "spt",
        about: "a seccomp-sandboxed process, through the spt tender (the same image as hvt)",
        platform: "oasis-platform-tender",
        build: GUEST_IMAGE,
        launch: Launch::Tender { subcommand: "spt" },
        needs: &[Need::Seccomp],
        picked_because: "seccomp is available",
    },
    Target {
        name: "unix",
        about: "a plain Linux process",
        platform: "oasis-platform-unix",
        build: Build::Host { profile: "release", own_stack_feature: Some("oasis/unix-tap") },
        launch: Launch::Program,
        needs: &[],
        picked_because: "it needs nothing of the host",
    },
];

/// The image hvt and spt share.
const GUEST_IMAGE: Build = Build::Guest {
    triple: "x86_64-unknown-none",
    profile: "guest",
    rustflags: &["-C", "link-arg=-Toasis-guest.ld", "-C", "relocation-model=static"],
};

/// The target named `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Every target's name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    TARGETS.iter().map(|t| t.name)
}

impl Need {
    /// `Ok` when the host offers it, else why not.
    pub fn check(self) -> Result<(), String> {
        match self {
            Need::Kvm => match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("/dev/kvm is missing or not usable ({e})")),
            },
            Need::Seccomp => {
                let has = std::fs::read_to_string("/proc/self/status")
                    .is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:")));
                if has { Ok(()) } else { Err("this kernel has no seccomp".into()) }
            }
        }
    }

    /// `Ok` when the host offers it at full speed, else why not.
    pub fn check_fast(self) -> Result<(), String> {
        self.check()?;
        if self == Need::Kvm && kvm_is_emulated() {
            return Err("KVM here is software-emulated (kvm_pvm), so guests would run about 10^4 times slower".into());
        }
        Ok(())
    }
}

/// Whether KVM here is the software-emulated kind (the `kvm_pvm` module;
/// no KVM capability says so), where guests run about 10^4 times slower.
pub fn kvm_is_emulated() -> bool {
    Path::new("/sys/module/kvm_pvm").exists()
}

impl Target {
    /// `Ok` when this host can run the target, else why not.
    pub fn available(&self) -> Result<(), String> {
        self.needs.iter().try_for_each(|n| n.check())
    }

    /// Whether a tender launches it (so it takes `--mem`, `--timeout`,
    /// `--stats`).
    pub fn is_tender(&self) -> bool {
        matches!(self.launch, Launch::Tender { .. })
    }

    /// The prefix of the one line its launcher prints when it stops or
    /// refuses a unikernel: `oasis-spt: `.
    pub fn message_prefix(&self) -> String {
        format!("oasis-{}: ", self.name)
    }

    /// The command line that runs `run.image` on this target.
    pub fn command(&self, run: &Invocation<'_>) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
        match self.launch {
            Launch::Tender { subcommand } => {
                out.extend([run.oasis.as_os_str().to_owned(), subcommand.into(), run.image.as_os_str().to_owned()]);
                if let Some(m) = run.mem {
                    out.push(format!("--mem={m}").into());
                }
                if let Some(t) = run.timeout {
                    out.push(format!("--timeout={t}").into());
                }
                if run.stats {
                    out.push("--stats".into());
                }
            }
            Launch::Program => out.push(run.image.as_os_str().to_owned()),
        }
        for (name, file) in &run.blocks {
            out.extend(["--block".into(), OsString::from(format!("{name}={}", file.display()))]);
        }
        for (name, tap) in &run.nets {
            out.extend(["--net".into(), OsString::from(format!("{name}={tap}"))]);
        }
        out.extend(run.options.iter().cloned());
        if self.is_tender() {
            out.push("--".into());
        }
        out.extend(run.args.iter().cloned());
        out
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// What a launch needs to know: the image, its bindings, its arguments.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The `oasis` executable, whose subcommands are the tenders.
    pub oasis: &'a Path,
    /// The image (or unix program).
    pub image: &'a Path,
    /// `--mem` (tenders).
    pub mem: Option<&'a str>,
    /// `--timeout` (tenders).
    pub timeout: Option<&'a str>,
    /// `--stats` (tenders).
    pub stats: bool,
    /// Net devices and the TAPs bound to them.
    pub nets: Vec<(String, String)>,
    /// Block devices and the files bound to them.
    pub blocks: Vec<(String, PathBuf)>,
    /// Further launcher options, after the bindings (`--net-mac:NAME=MAC`,
    /// `--no-net-offload`).
    pub options: Vec<OsString>,
    /// The unikernel's own arguments.
    pub args: Vec<OsString>,
}

impl<'a> Invocation<'a> {
    /// A launch of `image` with no options, bindings or arguments.
    pub fn new(oasis: &'a Path, image: &'a Path) -> Invocation<'a> {
        Invocation {
            oasis,
            image,
            mem: None,
            timeout: None,
            stats: false,
            nets: vec![],
            blocks: vec![],
            options: vec![],
            args: vec![],
        }
    }
}

/// The target `oasis run` picks on this host, and why: the first of the
/// table whose needs hold at full speed (hvt where KVM is hardware
/// accelerated, else spt where seccomp exists, else unix).
pub fn pick() -> (&'static Target, String) {
    let mut why_not = Vec::new();
    for t in TARGETS {
        match t.needs.iter().try_for_each(|n| n.check_fast()) {
            Ok(()) if why_not.is_empty() => return (t, t.picked_because.to_string()),
            Ok(()) => return (t, format!("{}; {}", why_not.join("; "), t.picked_because)),
            Err(e) => why_not.push(format!("not {}: {e}", t.name)),
        }
    }
    // Unreachable while the table ends with a target that needs nothing.
    (&TARGETS[TARGETS.len() - 1], why_not.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let names: Vec<&str> = names().collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(n), "{n} twice");
            assert_eq!(find(n).map(|t| t.name), Some(*n));
        }
        assert!(find("nope").is_none());
        assert!(TARGETS.last().is_some_and(|t| t.needs.is_empty()), "the last target must always be available");
    }

    #[test]
    fn tender_and_program_command_lines() {
        let (oasis, image) = (Path::new("/bin/oasis"), Path::new("/img/echo"));
        let mut run = Invocation::new(oasis, image);
        run.mem = Some("64M");
        run.stats = true;
        run.nets = vec![("service".into(), "tap0".into())];
        run.blocks = vec![("storage".into(), PathBuf::from("/d.img"))];
        run.args = vec!["--port".into(), "7".into()];
        let line =
            |t: &Target| t.command(&run).iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        assert_eq!(
            line(find("spt").unwrap()),
            "/bin/oasis spt /img/echo --mem=64M --stats --block storage=/d.img --net service=tap0 -- --port 7"
        );
        assert_eq!(line(find("unix").unwrap()), "/img/echo --block storage=/d.img --net service=tap0 --port 7");
    }

    #[test]
    fn builds_say_where_images_land() {
        let guest = &find("hvt").unwrap().build;
        assert_eq!(guest.output_dir(Path::new("t")), Path::new("t/x86_64-unknown-none/guest"));
        assert_eq!(guest.cargo_args(), ["--profile", "guest", "--target", "x86_64-unknown-none"]);
        assert_eq!(find("hvt").unwrap().build, find("spt").unwrap().build, "hvt and spt share one image");
        assert_eq!(find("unix").unwrap().build.output_dir(Path::new("t")), Path::new("t/release"));
    }
}
