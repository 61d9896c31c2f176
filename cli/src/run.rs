//! `oasis run`: build, pick a tender, and hand over to it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::build::{self, Target};

/// `oasis run` arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The unikernel's package directory
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// hvt, spt or unix; picked from what this machine offers when absent
    #[arg(long)]
    target: Option<Target>,
    /// Guest memory (hvt, spt), e.g. 32M
    #[arg(long)]
    mem: Option<String>,
    /// Stop the guest after this long (hvt, spt), e.g. 10s
    #[arg(long)]
    timeout: Option<String>,
    /// Print hypercall or VM-exit counts at the end (hvt, spt)
    #[arg(long)]
    stats: bool,
    /// Arguments for the unikernel (after --)
    #[arg(last = true)]
    args: Vec<String>,
}

/// Why `oasis run` picked a target, for the one line it prints.
pub fn pick_target() -> (Target, String) {
    let kvm = Path::new("/dev/kvm");
    let emulated = Path::new("/sys/module/kvm_pvm").exists();
    let kvm_usable = std::fs::OpenOptions::new().read(true).write(true).open(kvm).is_ok();
    let seccomp =
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:")));
    let why_not_hvt = if !kvm_usable {
        "/dev/kvm is missing or not accessible".to_string()
    } else if emulated {
        "KVM here is software-emulated (kvm_pvm), so hvt guests would run about 10^4 times slower".to_string()
    } else {
        return (Target::Hvt, "KVM is hardware-accelerated".into());
    };
    if seccomp {
        (Target::Spt, format!("{why_not_hvt}; seccomp is available"))
    } else {
        (Target::Unix, format!("{why_not_hvt}, and this kernel has no seccomp"))
    }
}

/// `oasis run`.
pub fn run(args: RunArgs) -> Result<()> {
    let target = match args.target {
        Some(t) => t,
        None => {
            let (t, why) = pick_target();
            eprintln!("oasis: target {t}: {why}");
            t
        }
    };
    let image = build::build(&args.dir, target)?;
    let mut cmd = match target {
        Target::Unix => {
            if args.mem.is_some() || args.timeout.is_some() || args.stats {
                eprintln!("oasis: --mem, --timeout and --stats apply to hvt and spt; ignored for unix");
            }
            let mut c = Command::new(&image);
            c.args(&args.args);
            c
        }
        Target::Spt | Target::Hvt => {
            let mut c = Command::new(std::env::current_exe().context("finding the oasis executable")?);
            c.arg(target.to_string()).arg(&image);
            let mut opts: Vec<OsString> = Vec::new();
            if let Some(m) = &args.mem {
                opts.push(format!("--mem={m}").into());
            }
            if let Some(t) = &args.timeout {
                opts.push(format!("--timeout={t}").into());
            }
            if args.stats {
                opts.push("--stats".into());
            }
            c.args(opts).arg("--").args(&args.args);
            c
        }
    };
    // exec: the tender (or program) becomes this process, so its exit
    // status and signals are the user's directly.
    let err = cmd.exec();
    Err(err).with_context(|| format!("running {}", image.display()))
}
