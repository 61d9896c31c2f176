//! `oasis run`: build, pick a tender, and run the unikernel on it.
//!
//! An image that declares net devices gets a private network namespace
//! (`supervise`), with ports published on 127.0.0.1 (`proxy`), and this
//! process stays to remove it all at the end. Otherwise — no net devices,
//! TAPs of the user's own (`--net`), or the unix target — the tender or
//! program replaces this process.

mod netns;
mod plan;
mod proxy;
mod publish;
mod supervise;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use oasis_abi::DeviceKind;
use oasis_targets::{Invocation, Target};
use oasis_tender::Image;
use oasis_tender::image::program_manifest;

use self::plan::{NetInputs, NetPlan, shell_line};
use self::publish::Publish;
use crate::build;

/// `oasis run` arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The unikernel's package directory
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// hvt, spt or unix; picked from what this machine offers when absent
    #[arg(long, value_parser = build::target_parser())]
    target: Option<&'static Target>,
    /// Guest memory (hvt, spt), e.g. 32M
    #[arg(long)]
    mem: Option<String>,
    /// Stop the guest after this long (hvt, spt), e.g. 10s
    #[arg(long)]
    timeout: Option<String>,
    /// Print hypercall or VM-exit counts at the end (hvt, spt)
    #[arg(long)]
    stats: bool,
    /// Forward 127.0.0.1:HOST to the guest's port GUEST (hvt, spt; repeatable)
    #[arg(short = 'p', long = "publish", value_name = "HOST:GUEST[/tcp|/udp]")]
    publish: Vec<Publish>,
    /// Bind net device NAME to an existing TAP instead of a private namespace (hvt, spt; repeatable)
    #[arg(long = "net", value_name = "NAME=TAP", value_parser = parse_net)]
    net: Vec<(String, String)>,
    /// Bind block device NAME to FILE (repeatable); unbound block devices
    /// get a disk image of their own under target/oasis/disks, kept
    /// between runs
    #[arg(long = "block", value_name = "NAME=FILE", value_parser = parse_net)]
    block: Vec<(String, String)>,
    /// Compile DIR into the unikernel's read-only store NAME (repeatable)
    #[arg(long, value_name = "NAME=DIR", value_parser = build::parse_kv)]
    kv: Vec<(String, PathBuf)>,
    /// Size of disk images `run` creates, e.g. 256M
    #[arg(long, default_value = "256M")]
    disk_size: String,
    /// unix target: `host` uses the host's sockets (no privileges); `tap`
    /// runs the unikernel's own stack on a TAP in a private namespace, as
    /// hvt and spt do
    #[arg(long, value_enum, default_value_t = UnixStack::Host)]
    unix_stack: UnixStack,
    /// Print the steps instead of taking them (the image is still built: its devices decide them)
    #[arg(long)]
    dry_run: bool,
    /// Arguments for the unikernel (after --)
    #[arg(last = true)]
    args: Vec<String>,
}

/// How a unix program reaches the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UnixStack {
    /// The host's sockets.
    Host,
    /// Its own stack on a TAP.
    Tap,
}

fn parse_net(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, tap)) if !name.is_empty() && !tap.is_empty() => Ok((name.into(), tap.into())),
        _ => Err("expected NAME=TAP, e.g. service=tap0".into()),
    }
}

/// How a run goes.
enum Plan {
    /// This process becomes the command.
    Exec(Vec<OsString>),
    /// A private namespace, supervised by this process.
    Namespaced(NetPlan),
}

/// The devices of `kind` that `image` (an Oasis image or a unix
/// program) declares, in order.
fn declared(image: &Path, kind: DeviceKind) -> Result<Vec<String>> {
    let bytes = std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let manifest = match Image::parse(&bytes) {
        Ok(parsed) => parsed.manifest,
        Err(_) => program_manifest(&bytes).map_err(|e| anyhow!("{}: {e}", image.display()))?,
    };
    Ok(manifest.devices.iter().filter(|d| d.kind == kind).map(|d| d.name.to_string()).collect())
}

/// The net devices `image` declares, in order.
fn declared_nets(image: &Path) -> Result<Vec<String>> {
    declared(image, DeviceKind::Net)
}

/// The file for every block device `image` declares: the user's file, or
/// a disk image made for this package and device (sparse, `--disk-size`,
/// zero-filled the first time, kept afterwards).
fn block_bindings(args: &RunArgs, image: &Path) -> Result<Vec<(String, PathBuf)>> {
    let blocks = declared(image, DeviceKind::Block)?;
    if let Some((name, file)) = args.block.iter().find(|(name, _)| !blocks.contains(name)) {
        bail!("--block {name}={file}: the image declares no block device named '{name}'");
    }
    let mut out = Vec::new();
    for name in blocks {
        let file = match args.block.iter().find(|(n, _)| *n == name) {
            Some((_, file)) => PathBuf::from(file),
            None => default_disk(args, &name)?,
        };
        out.push((name, file));
    }
    Ok(out)
}

fn default_disk(args: &RunArgs, device: &str) -> Result<PathBuf> {
    let size = oasis_tender::config::parse_size(&args.disk_size)
        .map_err(|why| anyhow!("--disk-size {}: {why}", args.disk_size))?;
    if size < 1 << 20 {
        bail!("--disk-size {}: at least 1M", args.disk_size);
    }
    let package = args
        .dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unikernel".into());
    let dir = build::target_dir(&args.dir)?.join("disks");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{package}-{device}.img"));
    if !path.exists() {
        let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        f.set_len(size).with_context(|| format!("sizing {}", path.display()))?;
        eprintln!(
            "oasis: block device '{device}': created {} ({}), kept for later runs",
            path.display(),
            args.disk_size
        );
    } else {
        eprintln!("oasis: block device '{device}': {}", path.display());
    }
    Ok(path)
}

/// Refuses, before building, what a program on the host's own sockets
/// cannot do.
fn check_host_stack_args(args: &RunArgs) -> Result<()> {
    if !args.publish.is_empty() {
        bail!(
            "-p applies to hvt and spt: a unix program listens on the host's own ports itself, so there is nothing to publish"
        );
    }
    if !args.net.is_empty() {
        bail!("--net applies to hvt and spt: a unix program uses the host's own sockets");
    }
    Ok(())
}

/// How the run launches the image: the table's command for `target`,
/// with this run's options, bindings and arguments.
fn invocation<'a>(args: &'a RunArgs, exe: &'a Path, image: &'a Path) -> Result<Invocation<'a>> {
    let mut run = Invocation::new(exe, image);
    run.mem = args.mem.as_deref();
    run.timeout = args.timeout.as_deref();
    run.stats = args.stats;
    run.blocks = block_bindings(args, image)?;
    run.args = args.args.iter().map(OsString::from).collect();
    Ok(run)
}

/// A program on the host's own sockets: it replaces this process.
fn host_stack_plan(target: &Target, run: Invocation<'_>) -> Plan {
    if run.mem.is_some() || run.timeout.is_some() || run.stats {
        eprintln!("oasis: --mem, --timeout and --stats apply to hvt and spt; ignored for {}", target.name);
    }
    eprintln!("oasis: {} target: the program uses the host's own network; its ports are the host's", target.name);
    let run = Invocation { mem: None, timeout: None, stats: false, ..run };
    Plan::Exec(target.command(&run))
}

/// The unikernel's own stack on TAPs: in a private namespace when the
/// image declares net devices and `--net` binds none, else straight on
/// the user's TAPs.
fn own_stack_plan(args: &RunArgs, target: &'static Target, mut run: Invocation<'_>) -> Result<Plan> {
    let nets = declared_nets(run.image)?;
    if let Some((name, tap)) = args.net.iter().find(|(name, _)| !nets.contains(name)) {
        bail!("--net {name}={tap}: the image declares no net device named '{name}'");
    }
    if !target.is_tender() && nets.is_empty() {
        bail!("--unix-stack tap: the program declares no net device");
    }
    if nets.is_empty() || !args.net.is_empty() {
        if nets.is_empty() && !args.publish.is_empty() {
            bail!("-p: the image declares no net device, so it has no ports to publish");
        }
        if !args.publish.is_empty() {
            bail!(
                "-p publishes ports of the private namespace, which --net replaces: reach the guest through your TAP"
            );
        }
        let unbound: Vec<&str> =
            nets.iter().filter(|n| !args.net.iter().any(|(name, _)| name == *n)).map(String::as_str).collect();
        if !unbound.is_empty() {
            bail!(
                "--net binds some net devices but not {}: bind all, or none for a private namespace",
                unbound.join(", ")
            );
        }
        run.nets = args.net.clone();
        return Ok(Plan::Exec(target.command(&run)));
    }
    let pid = std::process::id();
    let inputs = NetInputs {
        pid,
        stale: netns::stale(pid),
        devices: nets,
        target,
        run,
        guest_args: &args.args,
        publish: args.publish.clone(),
    };
    plan::plan(inputs).map(Plan::Namespaced).map_err(anyhow::Error::msg)
}

/// `oasis run`.
pub fn run(args: RunArgs) -> Result<()> {
    publish::check_unique(&args.publish).map_err(anyhow::Error::msg)?;
    let target = match args.target {
        Some(t) => t,
        None => {
            let (t, why) = oasis_targets::pick();
            eprintln!("oasis: target {}: {why}", t.name);
            t
        }
    };
    let own_stack_feature = match &target.build {
        oasis_targets::Build::Host { own_stack_feature, .. } => *own_stack_feature,
        oasis_targets::Build::Guest { .. } => None,
    };
    // A program runs the unikernel's own stack only when asked to (and its
    // platform can); a tender's guest always does.
    let own_stack = target.is_tender() || (args.unix_stack == UnixStack::Tap && own_stack_feature.is_some());
    if !own_stack {
        check_host_stack_args(&args)?;
    }
    let features: Vec<&str> = own_stack_feature.filter(|_| own_stack && !target.is_tender()).into_iter().collect();
    let image = build::build_with(&args.dir, target, &features, &args.kv)?;
    let exe = std::env::current_exe().context("finding the oasis executable")?;
    let run = invocation(&args, &exe, &image)?;
    let plan = if own_stack { own_stack_plan(&args, target, run)? } else { host_stack_plan(target, run) };
    match plan {
        Plan::Exec(command) if args.dry_run => println!("{}", shell_line(&command)),
        Plan::Namespaced(plan) if args.dry_run => print!("{plan}"),
        Plan::Exec(command) => {
            let (program, rest) = command.split_first().context("no command to run")?;
            // exec: the tender (or program) becomes this process, so its exit
            // status and signals are the user's directly.
            let err = Command::new(program).args(rest).exec();
            return Err(err).with_context(|| format!("running {}", image.display()));
        }
        Plan::Namespaced(plan) => {
            let code = supervise::run(&plan, &args.dir)?;
            std::process::exit(code);
        }
    }
    Ok(())
}
