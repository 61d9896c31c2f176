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
/// killed, unless the signal says otherwise (`oasis stop --time`).
pub const GRACE: Duration = Duration::from_secs(10);

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
/// the grace period running out, kills it. The grace is [`GRACE`], or the
/// seconds a queued signal carries (`oasis stop --time`).
fn wait(child: &mut Child, signals: &BlockedSignals) -> Result<ExitStatus> {
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    loop {
        if let Some(status) = child.try_wait().context("waiting for the tender")? {
            return Ok(status);
        }
        match signals.next(Duration::from_millis(500)) {
            Some(caught) if STOP.contains(&caught.signal) => match kill_at {
                None if !killed => {
                    host::kill(child, caught.signal);
                    let grace = caught.queued.map_or(GRACE, |secs| Duration::from_secs(secs as u64));
                    kill_at = Some(Instant::now() + grace);
                }
                _ => host::kill(child, libc::SIGKILL),
            },
            _ => {}
        }
        if kill_at.is_some_and(|t| Instant::now() >= t) {
            eprintln!("oasis: the tender did not stop within its grace after the signal: killing it");
            host::kill(child, libc::SIGKILL);
            // SIGKILL cannot be refused: the next try_wait reaps it.
            kill_at = None;
            killed = true;
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
