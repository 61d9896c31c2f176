//! `oasis`: create, build, inspect and run Oasis unikernels, and the raw
//! tenders (`oasis spt`, `oasis hvt`) that run an image, and `oasis qemu`,
//! which boots one on QEMU.
//!
//! `main` is a plain C `main` (`#![cfg_attr(not(test), no_main)]`): Rust's own start-up (reading
//! `/proc/self/maps` for the stack guard, polling fds 0–2, installing
//! handlers) costs about a fifth of a tender boot, and the tenders install
//! their own handlers anyway. `std::env::args` still works (glibc hands
//! argv to std's init hook).

#![cfg_attr(not(test), no_main)]
// The OS calls the tenders and `oasis run` need are wrapped in
// `oasis_sys`; the one exception is the C `main` symbol below.
#![deny(unsafe_code)]
#![cfg_attr(test, allow(dead_code))]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod build;
mod disks;
mod doctor;
mod inspect;
mod kv;
mod new;
mod package;
mod qemu;
mod run;
mod runs;
mod tender;
mod toolchain;
mod ui;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "oasis", version, about = "Build and run Oasis unikernels", propagate_version = true)]
struct Cli {
    /// Show cargo's own output while building (it is otherwise shown only
    /// when a build fails)
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new unikernel package from a template
    New {
        /// Package name (letters, digits, - and _)
        name: String,
        /// Directory to create it in [default: unikernels/ when run at the
        /// top of the Oasis checkout, else the current directory]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a unikernel; prints the image path as the last line
    Build {
        /// The unikernel's package directory
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// hvt, spt (both the same image) or unix (a Linux program)
        #[arg(long, value_parser = build::target_parser())]
        target: &'static oasis_targets::Target,
        /// Print the cargo command instead of running it
        #[arg(long)]
        dry_run: bool,
        /// Compile DIR into the unikernel's read-only store NAME instead of
        /// the package's own directory (repeatable)
        #[arg(long, value_name = "NAME=DIR", value_parser = build::parse_kv)]
        kv: Vec<(String, PathBuf)>,
    },
    /// Build a unikernel and run it (-d: in the background; every run has
    /// a name, listed by oasis ps)
    Run(run::RunArgs),
    /// List the runs going on (foreground and -d): NAME, IMAGE, TARGET,
    /// PID, PORTS, UPTIME
    ///
    /// Runs are kept in $XDG_RUNTIME_DIR/oasis/runs (/run/oasis/runs for
    /// root without it, else /tmp/oasis-UID/runs); the state of a run
    /// killed outright is removed here.
    Ps {
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Print a detached run's output (kept after it ends, until the next
    /// run of its name)
    Logs {
        /// The run's name (oasis ps)
        name: String,
        /// Keep printing what it writes until it ends
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Stop a run: SIGTERM, then SIGKILL after the grace time; returns once
    /// it and its namespace are gone
    Stop {
        /// The run's name (oasis ps)
        name: String,
        /// Seconds to wait before killing it
        #[arg(short = 't', long = "time", default_value_t = 10, value_name = "SECONDS")]
        time: u64,
    },
    /// Show an image's ABI version, devices, segments and section sizes
    Inspect {
        /// The image file
        image: PathBuf,
    },
    /// Make, fill, read and check the key-value store in a disk image
    /// (the file a unikernel's block device is bound to)
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// Check what this machine offers Oasis: the toolchain, KVM, seccomp,
    /// network namespaces, and the target `oasis run` would pick
    Doctor,
    /// Print a completion script for SHELL: `oasis completions bash >
    /// ~/.local/share/bash-completion/completions/oasis`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// List, locate and remove the disks `oasis run` keeps for block devices
    #[command(subcommand)]
    Disks(disks::DisksCommand),
    /// (internal) A helper process of `oasis run`'s port proxy
    #[command(hide = true)]
    PublishWorker {
        /// An inherited listening socket and the guest address it leads to
        #[arg(long = "tcp", value_name = "FD=ADDR:PORT")]
        tcp: Vec<String>,
    },
    /// The spt tender: run IMAGE in this process under seccomp
    #[command(about = tender::SPT_ABOUT, after_help = oasis_tender::config::AFTER_HELP)]
    Spt(oasis_tender::config::TenderOptions),
    /// The hvt tender: run IMAGE in a KVM virtual machine
    #[command(about = tender::HVT_ABOUT, after_help = oasis_tender::config::AFTER_HELP)]
    Hvt(oasis_tender::config::TenderOptions),
    /// Boot IMAGE on QEMU through its PVH entry
    #[command(about = qemu::ABOUT, after_help = qemu::AFTER_HELP)]
    Qemu(qemu::QemuArgs),
}

#[cfg(not(test))]
// SAFETY: `main` is this binary's one C entry point (`no_main` leaves the
// symbol to us) and nothing else in the program defines it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    match run_cli() {
        Ok(()) => 0,
        Err(code) => i32::from(code),
    }
}

/// Runs the command line; `Err` carries a non-zero exit status.
fn run_cli() -> Result<(), u8> {
    // The tenders come first and parse only their own options: building
    // the whole command's parser would cost a boot more than it needs.
    let mut raw = std::env::args_os();
    let _program = raw.next();
    let mut rest: Vec<OsString> = raw.collect();
    if let Some(t) = rest.first().and_then(|a| tender::find(&a.to_string_lossy())) {
        rest.remove(0);
        return tender::main(t, rest);
    }
    // `oasis help spt` is `oasis spt --help`, word for word (the whole
    // command's help would add its global -v, which a tender has not).
    if rest.len() == 2
        && rest[0] == "help"
        && let Some(t) = tender::find(&rest[1].to_string_lossy())
    {
        return tender::main(t, vec!["--help".into()]);
    }
    // Rust's start-up would have ignored SIGPIPE; keep that for the
    // commands that print.
    oasis_sys::ignore_sigpipe();
    let cli = Cli::parse();
    ui::set_verbose(cli.verbose);
    let result = match cli.command {
        Command::New { name, dir } => new::new(&name, dir.as_deref()),
        Command::Build { dir, target, dry_run, kv } => build::build_command(&dir, target, dry_run, &kv),
        Command::Run(args) => run::run(args),
        Command::Ps { json } => runs::ps(json),
        Command::Logs { name, follow } => runs::logs(&name, follow),
        Command::Stop { name, time } => runs::stop(&name, time),
        Command::Inspect { image } => inspect::inspect(&image),
        Command::Kv(command) => kv::kv(command),
        Command::Disks(command) => disks::disks(command),
        Command::Doctor => match doctor::doctor() {
            Ok(true) => Ok(()),
            // Its lines said what is missing.
            Ok(false) => return Err(1),
            Err(e) => Err(e),
        },
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "oasis", &mut std::io::stdout());
            Ok(())
        }
        Command::PublishWorker { tcp } => run::publish_worker(&tcp),
        // Not reached from a shell: tender command lines are taken before
        // the whole command is parsed (see above), where Solo5's spelling
        // is rewritten too; `oasis help spt` shows these options.
        Command::Spt(options) => return tender::main_parsed(tender::find("spt").ok_or(2u8)?, options),
        Command::Hvt(options) => return tender::main_parsed(tender::find("hvt").ok_or(2u8)?, options),
        Command::Qemu(args) => return qemu::main(args),
    };
    result.map_err(|e| {
        ui::error(&format!("{e:#}"));
        1
    })
}
