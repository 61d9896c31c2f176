//! A namespaced run: `oasis run` sets the namespace up, publishes ports,
//! runs the tender inside as a child, and stays to remove everything when
//! the tender exits or a signal asks it to stop.
//!
//! Signals are taken synchronously: SIGINT, SIGTERM, SIGHUP and SIGCHLD
//! are blocked from the start (threads started later inherit the mask) and
//! collected with `sigtimedwait`, so no handler runs in an arbitrary
//! context and a signal arriving during setup is still seen.

use std::ffi::OsString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::netns::{self, Namespace};
use super::plan::NetPlan;
use super::proxy;

/// How long the tender has to stop after a forwarded signal before it is
/// killed.
const GRACE: Duration = Duration::from_secs(10);

/// The signals a run stops on; SIGCHLD only wakes the wait.
const STOP: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Whether `signal` was ignored when this process started, as shells do
/// for background jobs and `nohup` for SIGHUP. The tender inherits that,
/// so such a signal is left ignored here too rather than passed on in
/// vain.
fn ignored(signal: libc::c_int) -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction only writes the current one
    // into `old`, which is large enough and zero-initialised.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zeroed is a valid sigaction, and the call may have filled it in.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks the stop signals not ignored, and SIGCHLD, in this thread.
    fn block() -> io::Result<Signals> {
        // Inherited as ignored, SIGCHLD would have the kernel reap the
        // tender before its status could be read.
        // SAFETY: restoring the default action has no preconditions.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset
        // only writes into that initialised set.
        let set = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for s in STOP.into_iter().filter(|s| !ignored(*s)).chain([libc::SIGCHLD]) {
                libc::sigaddset(set.as_mut_ptr(), s);
            }
            set.assume_init()
        };
        // SAFETY: `set` is a valid, initialised set; no old mask is asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Signals { set })
    }

    /// The next pending signal of the set, waiting at most `timeout`.
    fn next(&self, timeout: Duration) -> Option<libc::c_int> {
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `set` and `ts` are valid for the call; no siginfo is asked for.
        let s = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        (s > 0).then_some(s)
    }
}

/// Starts the tender inside the namespace.
fn spawn_in(ns: &Namespace, command: &[OsString]) -> Result<Child> {
    let (program, args) = command.split_first().context("no tender command")?;
    let ns_fd = ns.file().as_raw_fd();
    let parent = std::process::id();
    let mut cmd = Command::new(program);
    cmd.args(args);
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls (setns, prctl, getppid,
    // pthread_sigmask on a set built on its stack); the descriptor is
    // open in the child, inherited from this process.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The tender must not outlive a supervisor killed outright:
            // nothing would be left to stop it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            // The supervisor's blocked signals would otherwise stay blocked
            // in the tender, and it could not be stopped by them.
            let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(empty.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
            Ok(())
        })
    };
    cmd.spawn().with_context(|| format!("starting {} in namespace {}", program.to_string_lossy(), ns.name()))
}

fn kill(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory effects; `pid` is our unreaped child,
        // so it cannot name another process.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Waits for the tender; a stop signal is passed on, and a second one, or
/// the grace period running out, kills it.
fn wait(child: &mut Child, signals: &Signals) -> Result<ExitStatus> {
    let mut stopping: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().context("waiting for the tender")? {
            return Ok(status);
        }
        match signals.next(Duration::from_millis(500)) {
            Some(s) if STOP.contains(&s) => match stopping {
                None => {
                    kill(child, s);
                    stopping = Some(Instant::now());
                }
                Some(_) => kill(child, libc::SIGKILL),
            },
            _ => {}
        }
        if stopping.is_some_and(|t| t.elapsed() > GRACE) {
            kill(child, libc::SIGKILL);
        }
    }
}

/// Does everything `plan` says and returns the tender's exit status as a
/// process exit code (128 + N for a tender ended by signal N).
pub fn run(plan: &NetPlan, dir: &Path) -> Result<i32> {
    netns::check_rights(dir)?;
    let signals = Signals::block().context("blocking signals")?;
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
    let status = wait(&mut child, &signals);
    drop(ns);
    let status = status?;
    Ok(status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1))
}
