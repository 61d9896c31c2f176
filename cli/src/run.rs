//! `oasis run`: build, pick a tender, and run the unikernel on it.
//!
//! An image that declares net devices gets a private network namespace
//! (`supervise`), with ports published on 127.0.0.1 (`proxy`), and this
//! process stays to remove it all at the end. Otherwise — no net devices,
//! TAPs of the user's own (`--net`), or the unix target — the tender or
//! program runs as a child of this process all the same, so every run has
//! a name and a state that `oasis ps` lists and that goes when it ends
//! (`runs`). `-d` starts the run again in the background (`detach`).

pub mod check;
mod manifest;
pub mod netns;
mod plan;
mod proxy;
mod publish;
mod supervise;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use oasis_abi::DeviceKind;
use oasis_targets::{Invocation, Target};
use oasis_tender::Image;
use oasis_tender::image::program_manifest;

use self::manifest::PublishFrom;
use self::plan::{NetInputs, NetPlan, shell_line};
use self::publish::Publish;
use crate::package::{self, Package};
use crate::{build, disks, runs};

/// `oasis run` arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The unikernel's package directory (built first), or an image or
    /// unix program already built (run as it is)
    #[arg(default_value = ".", value_name = "PACKAGE|IMAGE")]
    source: PathBuf,
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
    /// Forward IP:HOST (IP 127.0.0.1, HOST GUEST when left out) to the
    /// guest's port GUEST (hvt, spt; repeatable); replaces the package's
    /// own `[package.metadata.oasis] publish`
    #[arg(short = 'p', long = "publish", value_name = "[IP:][HOST:]GUEST[/tcp|/udp]")]
    publish: Vec<Publish>,
    /// Bind net device NAME to an existing TAP instead of a private namespace (hvt, spt; repeatable)
    #[arg(long = "net", value_name = "NAME=TAP", value_parser = parse_net)]
    net: Vec<(String, String)>,
    /// Bind block device NAME to FILE (repeatable); unbound block devices
    /// get a disk of their own, kept between runs (oasis disks ls)
    #[arg(long = "block", value_name = "NAME=FILE", value_parser = parse_block)]
    block: Vec<(String, String)>,
    /// Make the files of --block that do not exist yet (--disk-size)
    #[arg(long)]
    create_disks: bool,
    /// Compile DIR into the unikernel's read-only store NAME (repeatable)
    #[arg(long, value_name = "NAME=DIR", value_parser = build::parse_kv)]
    kv: Vec<(String, PathBuf)>,
    /// Size of the disks `run` makes [default: 256M]; given for an existing
    /// disk, it must match
    #[arg(long, value_name = "SIZE")]
    disk_size: Option<String>,
    /// unix target: `host` uses the host's sockets (no privileges); `tap`
    /// runs the unikernel's own stack on a TAP in a private namespace, as
    /// hvt and spt do
    #[arg(long, value_enum, default_value_t = UnixStack::Host)]
    unix_stack: UnixStack,
    /// Print the steps instead of taking them (the image is still built: its devices decide them)
    #[arg(long)]
    dry_run: bool,
    /// Run in the background once built and started; prints the run's
    /// name (oasis ps, logs, stop)
    #[arg(short = 'd', long)]
    detach: bool,
    /// The run's name (a-z, 0-9, _ and -) [default: the package or image
    /// name and a short suffix]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// (internal) The background process of `run -d`: the image already built
    #[arg(long, hide = true, value_name = "IMAGE")]
    built_image: Option<PathBuf>,
    /// (internal) The background process of `run -d`
    #[arg(long, hide = true)]
    detached_child: bool,
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

fn parse_block(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name.into(), file.into())),
        _ => Err("expected NAME=FILE, e.g. storage=kv.img".into()),
    }
}

/// What `oasis run` was given to run.
enum Source {
    /// A package, built first.
    Package(Package),
    /// A built image, run as it is.
    Image {
        /// The file.
        path: PathBuf,
        /// A guest image (hvt, spt) or a unix program.
        guest: bool,
    },
}

impl Source {
    /// Tells a package directory from an image file, and refuses what is
    /// neither an Oasis unikernel's package nor its image.
    fn of(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("{}: no such package directory or image file", path.display()))?;
        if meta.is_dir() {
            return Ok(Source::Package(package::unikernel(path)?));
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        match Image::parse(&bytes) {
            Ok(_) => Ok(Source::Image { path: path.to_path_buf(), guest: true }),
            // An executable with a manifest but not loadable by a tender:
            // a unix build of a unikernel.
            Err(image_error) => match program_manifest(&bytes) {
                Ok(_) if !matches!(image_error, oasis_tender::ImageError::Manifest(_)) => {
                    Ok(Source::Image { path: path.to_path_buf(), guest: false })
                }
                Ok(_) => Err(anyhow!("{}: {image_error}", path.display())),
                Err(e) => Err(anyhow!("{}: not an Oasis unikernel: {e}", path.display())),
            },
        }
    }

    /// The name its kept disks go by: the package's, or the image file's
    /// (which cargo names after the package).
    fn name(&self) -> String {
        match self {
            Source::Package(p) => p.name.clone(),
            Source::Image { path, .. } => {
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "unikernel".into())
            }
        }
    }

    /// The package directory, for its `[package.metadata.oasis]`.
    fn package_dir(&self) -> Option<&Path> {
        match self {
            Source::Package(p) => Some(&p.dir),
            Source::Image { .. } => None,
        }
    }
}

/// The target for `source`: `--target` when it fits, else the best this
/// machine offers for it, said with why.
fn choose_target(args: &RunArgs, source: &Source) -> Result<&'static Target> {
    let shown = args.source.display();
    match (source, args.target) {
        (Source::Image { guest: true, .. }, Some(t)) if !t.is_tender() => bail!(
            "{shown} is a guest image (hvt, spt), not a {} program: run the package with --target {}",
            t.name,
            t.name
        ),
        (Source::Image { guest: false, .. }, Some(t)) if t.is_tender() => bail!(
            "{shown} is a unix program, not a guest image: run it with --target unix, or run the package with --target {}",
            t.name
        ),
        (_, Some(t)) => Ok(t),
        (Source::Image { guest: false, .. }, None) => {
            let unix = oasis_targets::TARGETS.iter().find(|t| !t.is_tender()).context("no program target")?;
            eprintln!("oasis: target {}: {shown} is a unix program", unix.name);
            Ok(unix)
        }
        (Source::Image { guest: true, .. }, None) => {
            let (t, why) = oasis_targets::pick();
            if t.is_tender() {
                say_pick(t, &why);
                return Ok(t);
            }
            bail!("{shown} is a guest image, and no tender can run here: {why}")
        }
        (Source::Package(_), None) => {
            let (t, why) = oasis_targets::pick();
            say_pick(t, &why);
            Ok(t)
        }
    }
}

/// Says in one line which target `oasis run` picked and why. Why the
/// targets before it were passed over (software-emulated KVM, say) holds
/// for the machine, not the run: it is said in full the first time, and
/// after that only pointed at (`oasis doctor` says it again).
fn say_pick(t: &Target, why: &str) {
    let passed_over: Vec<&str> =
        oasis_targets::TARGETS.iter().take_while(|o| o.name != t.name).map(|o| o.name).collect();
    // The key changes with the reasons, so a new one is said again.
    let key = format!("pick-{}-{:016x}", t.name, fnv1a(why.as_bytes()));
    if passed_over.is_empty() || crate::ui::first_time(&key) {
        eprintln!("oasis: target {}: {why}", t.name);
    } else {
        eprintln!("oasis: target {}: {} (not {}: see oasis doctor)", t.name, t.picked_because, passed_over.join(", "));
    }
}

/// FNV-1a: a stable short name for a text (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
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

/// Lists names for an error message.
fn listing(names: &[String]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// The file for every block device `image` declares: the user's file
/// (made first with `--create-disks`), or the disk kept for this package
/// and device (see `disks`).
fn block_bindings(args: &RunArgs, source: &Source, image: &Path) -> Result<Vec<(String, PathBuf)>> {
    let blocks = declared(image, DeviceKind::Block)?;
    if let Some((name, file)) = args.block.iter().find(|(name, _)| !blocks.contains(name)) {
        bail!(
            "--block {name}={file}: the image declares no block device named '{name}' (its block devices: {})",
            listing(&blocks)
        );
    }
    let mut out = Vec::new();
    for name in blocks {
        let file = match args.block.iter().find(|(n, _)| *n == name) {
            Some((_, file)) => {
                let file = PathBuf::from(file);
                if !file.exists() && args.create_disks && !args.dry_run {
                    let size = args.disk_size.as_deref().unwrap_or(disks::DEFAULT_SIZE);
                    disks::create(&file, check::disk_size(size)?)?;
                    eprintln!("oasis: block device '{name}': created {} ({size})", file.display());
                }
                file
            }
            None => disks::kept(&source.name(), &name, args.disk_size.as_deref())?,
        };
        out.push((name, file));
    }
    Ok(out)
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
fn invocation<'a>(args: &'a RunArgs, source: &Source, exe: &'a Path, image: &'a Path) -> Result<Invocation<'a>> {
    let mut run = Invocation::new(exe, image);
    run.mem = args.mem.as_deref();
    run.timeout = args.timeout.as_deref();
    run.stats = args.stats;
    run.blocks = block_bindings(args, source, image)?;
    run.args = args.args.iter().map(OsString::from).collect();
    Ok(run)
}

/// A program on the host's own sockets: it replaces this process.
fn host_stack_plan(target: &Target, run: Invocation<'_>) -> Plan {
    if run.mem.is_some() || run.timeout.is_some() || run.stats {
        eprintln!("oasis: --mem, --timeout and --stats apply to hvt and spt; ignored for {}", target.name);
    }
    // Holds for every run on the host's sockets: news once, not each time.
    if crate::ui::first_time("unix-host-network") {
        eprintln!("oasis: {} target: the program uses the host's own network; its ports are the host's", target.name);
    }
    let run = Invocation { mem: None, timeout: None, stats: false, ..run };
    Plan::Exec(target.command(&run))
}

/// The unikernel's own stack on TAPs: in a private namespace when the
/// image declares net devices and `--net` binds none, else straight on
/// the user's TAPs.
fn own_stack_plan(args: &RunArgs, source: &Source, target: &'static Target, mut run: Invocation<'_>) -> Result<Plan> {
    let nets = declared_nets(run.image)?;
    if let Some((name, tap)) = args.net.iter().find(|(name, _)| !nets.contains(name)) {
        bail!(
            "--net {name}={tap}: the image declares no net device named '{name}' (its net devices: {})",
            listing(&nets)
        );
    }
    if !target.is_tender() && nets.is_empty() {
        bail!("--unix-stack tap: the program declares no net device");
    }
    let (publish, from) = manifest::effective(&args.publish, source.package_dir())?;
    if nets.is_empty() || !args.net.is_empty() {
        if from == PublishFrom::Manifest && !publish.is_empty() {
            let ports: Vec<String> = publish.iter().map(ToString::to_string).collect();
            let why = if nets.is_empty() { "the image declares no net device" } else { "--net binds your own TAP" };
            eprintln!("oasis: the package's default ports ({}) are not published: {why}", ports.join(", "));
        }
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
    if !args.dry_run {
        // Before the namespace: a refusal then leaves nothing behind.
        netns::check_rights(&args.source)?;
        check::free_ports(&publish)?;
    }
    let pid = std::process::id();
    let inputs = NetInputs {
        pid,
        stale: netns::stale(pid),
        devices: nets,
        target,
        run,
        guest_args: &args.args,
        publish,
        publish_from: from,
    };
    plan::plan(inputs).map(Plan::Namespaced).map_err(anyhow::Error::msg)
}

/// `oasis publish-worker --tcp FD=ADDR:PORT…`: a helper process of the
/// port proxy (see `proxy::start`), not for users.
pub fn publish_worker(tcp: &[String]) -> Result<()> {
    let parsed = tcp
        .iter()
        .map(|t| {
            let (fd, addr) = t.split_once('=').with_context(|| format!("--tcp {t}: expected FD=ADDR:PORT"))?;
            Ok((fd.parse()?, addr.parse()?))
        })
        .collect::<Result<Vec<_>>>()?;
    proxy::worker(&parsed)
}

/// The namespace a namespaced run supervised by `pid` has.
pub fn namespace_of(pid: u32) -> String {
    netns::name(pid)
}

/// Whether the namespace `name` exists.
pub fn namespace_exists(name: &str) -> bool {
    netns::path(name).exists()
}

/// Removes the namespace `name` (and the TAPs in it).
pub fn remove_namespace(name: &str) -> Result<()> {
    netns::ip(&netns::del_args(name))
}

/// The published ports of a plan, as `ps` shows them.
fn ports_of(plan: &Plan) -> Vec<String> {
    match plan {
        Plan::Exec(_) => Vec::new(),
        Plan::Namespaced(p) => {
            p.publish.iter().map(|q| format!("{}:{}->{}/{}", q.ip, q.host, q.guest, q.proto)).collect()
        }
    }
}

/// The argv for the background `oasis run` of `run -d`: this one's,
/// without `-d`, with the name and the built image.
fn detached_argv(name: &str, given_name: bool, image: &Path) -> Vec<OsString> {
    let mut argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let mut head: Vec<OsString> = argv.drain(..end).filter(|a| a != "-d" && a != "--detach").collect();
    if !given_name {
        head.push("--name".into());
        head.push(name.into());
    }
    head.push("--built-image".into());
    head.push(image.into());
    head.push("--detached-child".into());
    head.extend(argv);
    head
}

/// `oasis run -d`: starts this run again in the background, in a session
/// of its own with its output in the run's log, and returns once it runs
/// (or says why it did not start).
fn detach(args: &RunArgs, name: &str, image: &Path) -> Result<()> {
    let dir = runs::detached_dir(name)?;
    let log_path = dir.join("log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("making {}", log_path.display()))?;
    let exe = std::env::current_exe().context("finding the oasis executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(detached_argv(name, args.name.is_some(), image))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().context("opening the log")?)
        .stderr(log);
    oasis_sys::child_in_new_session(&mut cmd);
    let mut child = cmd.spawn().context("starting the background run")?;
    let pid = child.id();
    loop {
        if runs::live().iter().any(|r| r.name == name && r.pid == pid) {
            println!("{name}");
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("waiting for the background run")? {
            if status.success() {
                println!("{name}");
                return Ok(());
            }
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last: Vec<&str> = text.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
            if !last.is_empty() {
                eprintln!("{}", last.join("\n"));
            }
            bail!("the run {name} did not start ({}; its log: {})", status, log_path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `oasis run`.
pub fn run(args: RunArgs) -> Result<()> {
    publish::check_unique(&args.publish).map_err(anyhow::Error::msg)?;
    check::options(&args)?;
    if let Some(name) = &args.name {
        runs::check_name(name)?;
        if let Some(live) = runs::live().iter().find(|r| &r.name == name) {
            bail!(
                "the name {name} is in use by a live run (pid {}): pick another with --name, or oasis stop {name}",
                live.pid
            );
        }
    }
    let source = Source::of(&args.source)?;
    let target = choose_target(&args, &source)?;
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
    if !args.net.is_empty() && !args.publish.is_empty() {
        bail!("-p publishes ports of the private namespace, which --net replaces: reach the guest through your TAP");
    }
    if own_stack && args.net.is_empty() && !args.publish.is_empty() && !args.dry_run {
        // -p means a private namespace, whatever the image declares.
        netns::check_rights(&args.source)?;
        check::free_ports(&args.publish)?;
    }
    let features: Vec<&str> = own_stack_feature.filter(|_| own_stack && !target.is_tender()).into_iter().collect();
    let image = match &source {
        _ if args.built_image.is_some() => args.built_image.clone().context("no image")?,
        Source::Package(package) => build::build_with(&package.dir, target, &features, &args.kv)?,
        Source::Image { path, .. } => {
            if !args.kv.is_empty() {
                bail!("--kv compiles a directory into the image: give the package, not a built image");
            }
            path.clone()
        }
    };
    let exe = std::env::current_exe().context("finding the oasis executable")?;
    let run = invocation(&args, &source, &exe, &image)?;
    let plan = if own_stack { own_stack_plan(&args, &source, target, run)? } else { host_stack_plan(target, run) };
    match &plan {
        Plan::Exec(command) if args.dry_run => {
            println!("{}", shell_line(command));
            return Ok(());
        }
        Plan::Namespaced(plan) if args.dry_run => {
            print!("{plan}");
            return Ok(());
        }
        _ => {}
    }
    let name = args.name.clone().unwrap_or_else(|| runs::fresh_name(&source.name()));
    if args.detach && !args.detached_child {
        return detach(&args, &name, &image);
    }
    // Every run has a name, listed by `oasis ps` while it lasts: this
    // process stays to supervise the tender and remove its state.
    let registration = runs::Registration::take(&name)?;
    if !args.detached_child {
        registration.drop_old_log();
    }
    let ports = ports_of(&plan);
    let started = || registration.started(&source.name(), &image, target.name, ports.clone(), args.detached_child);
    let code = match plan {
        Plan::Exec(command) => supervise::run_plain(&command, started),
        Plan::Namespaced(plan) => supervise::run(&plan, &args.source, started),
    };
    drop(registration);
    let code = code?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
