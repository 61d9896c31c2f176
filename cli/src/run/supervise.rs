//! A namespaced run: `oasis run` sets the namespace up, publishes ports,
//! runs the tender inside as a child, and stays to remove everything when
//! the tender exits or a signal asks it to stop.
//!
//! Signals are taken synchronously: SIGINT, SIGTERM, SIGHUP and SIGCHLD
//! are blocked from the start (threads started later inherit the mask) and
//! collected with `sigtimedwait`, so no handler runs in an arbitrary
//! context and a signal arriving during setup is still seen.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use oasis_sys::{self as host, BlockedSignals};

use super::netns::{self, Namespace};
use super::plan::NetPlan;
use super::proxy;

/// How long the tender has to stop after a forwarded signal before it is
/// killed.
const GRACE: Duration = Duration::from_secs(10);

/// The signals a run stops on; SIGCHLD only wakes the wait.
const STOP: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Starts the tender inside the namespace.
fn spawn_in(ns: &Namespace, command: &[OsString]) -> Result<Child> {
    let (program, args) = command.split_first().context("no tender command")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    host::child_in_netns(&mut cmd, ns.file());
    cmd.spawn().with_context(|| format!("starting {} in namespace {}", program.to_string_lossy(), ns.name()))
}

/// Waits for the tender; a stop signal is passed on, and a second one, or
/// the grace period running out, kills it.
fn wait(child: &mut Child, signals: &BlockedSignals) -> Result<ExitStatus> {
    let mut stopping: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().context("waiting for the tender")? {
            return Ok(status);
        }
        match signals.next(Duration::from_millis(500)) {
            Some(s) if STOP.contains(&s) => match stopping {
                None => {
                    host::kill(child, s);
                    stopping = Some(Instant::now());
                }
                Some(_) => host::kill(child, libc::SIGKILL),
            },
            _ => {}
        }
        if stopping.is_some_and(|t| t.elapsed() > GRACE) {
            host::kill(child, libc::SIGKILL);
        }
    }
}

/// Blocks the signals a run stops on, to be taken with `wait`.
pub fn block_stop_signals() -> Result<BlockedSignals> {
    // A background job inherits SIGINT ignored from its shell, yet the
    // user who sends it one (kill -INT) means it: SIGINT and SIGTERM are
    // taken whatever their inherited disposition (a blocked signal stays
    // pending even when ignored, so `sigtimedwait` sees it). Only nohup's
    // ignored SIGHUP is honoured.
    let stop: Vec<libc::c_int> = STOP.into_iter().filter(|s| *s != libc::SIGHUP || !host::is_ignored(*s)).collect();
    BlockedSignals::block(&stop).context("blocking signals")
}

/// A process exit code for `status` (128 + N for an end by signal N).
pub fn exit_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

/// Runs `command` as a child that dies with this process, and waits for
/// it as a namespaced run does: how a named run outside a namespace
/// stays supervised (its state removed at the end). `started` is called
/// once it runs.
pub fn run_plain(command: &[OsString], started: impl FnOnce() -> Result<()>) -> Result<i32> {
    let signals = block_stop_signals()?;
    let (program, args) = command.split_first().context("no command to run")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    host::child_dies_with_parent(&mut cmd);
    let mut child = cmd.spawn().with_context(|| format!("starting {}", program.to_string_lossy()))?;
    if let Err(e) = started() {
        host::kill(&child, libc::SIGKILL);
        let _ = child.wait();
        return Err(e);
    }
    Ok(exit_code(wait(&mut child, &signals)?))
}

/// Does everything `plan` says and returns the tender's exit status as a
/// process exit code (128 + N for a tender ended by signal N). `started`
/// is called once the tender runs.
pub fn run(plan: &NetPlan, dir: &Path, started: impl FnOnce() -> Result<()>) -> Result<i32> {
    netns::check_rights(dir)?;
    let signals = block_stop_signals()?;
    for name in &plan.stale {
        if let Err(e) = netns::ip(&netns::del_args(name)) {
            eprintln!("oasis: warning: removing a stale namespace: {e:#}");
        }
    }
    let ns = Namespace::create(&plan.namespace, dir)?;
    for step in plan.configure() {
        netns::ip(&step)?;
    }
    if let Some(tap) = plan.taps.first() {
        eprintln!(
            "oasis: network namespace {}: guest {} on {}, this side {}/{}",
            plan.namespace, plan.guest, tap.tap, tap.host, tap.prefix
        );
    }
    proxy::start(&plan.publish, ns.file(), plan.guest)?;
    let mut child = spawn_in(&ns, &plan.command)?;
    if let Err(e) = started() {
        host::kill(&child, libc::SIGKILL);
        let _ = child.wait();
        return Err(e);
    }
    let status = wait(&mut child, &signals);
    drop(ns);
    Ok(exit_code(status?))
}
