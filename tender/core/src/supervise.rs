//! The supervisor: what enforces a run's limits from outside the process
//! the guest runs in, where the guest cannot reach.
//!
//! `oasis spt` and `oasis hvt` fork. The child becomes the guest's process:
//! it sets the guest up, closes its sandbox and runs it. This process — the
//! supervisor — stays outside, never runs guest code, and:
//! - ends the run at `--timeout`, whatever the guest does (blocked signals,
//!   a console write that cannot finish: it kills the child);
//! - kills the child on SIGTERM, SIGINT, SIGHUP or SIGQUIT, says so, and
//!   then dies by that signal itself (so a shell sees what it sent); the
//!   child dies with the supervisor if the supervisor is killed
//!   (`PR_SET_PDEATHSIG`); the supervisor ends itself, and the child, when
//!   its own parent dies;
//! - turns the child's death by any signal (SIGSYS, SIGSEGV, …) into exit
//!   status 254 and one line naming it;
//! - relays the guest's console (the child's stdout is a pipe) to its own
//!   stdout, up to `--console-limit` bytes in all, from the same poll loop
//!   with writes that cannot block (`supervise/relay.rs`), so a stdout nobody
//!   reads never defers the timeout or a stop signal;
//! - is the only writer of its stderr. The child's stderr is a second pipe,
//!   where the tender inside writes its final report; the supervisor
//!   prints it only when the child's exit status is one the tender uses for
//!   its reports (253 to 255) or `--stats` asked for counts, at most
//!   [`REPORT_MAX`] bytes, control characters escaped. On spt the guest
//!   shares the child's process and could write that pipe too: such text
//!   can never show up beside a normal exit, and the lines that come from
//!   the supervisor's own observations (a timeout, a signal, the console
//!   limit) say "(supervisor)".

use std::convert::Infallible;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oasis_abi::exit;

use crate::stop::signal_name;

mod relay;

use relay::{Relay, Relayed};

/// Most bytes of the child's report the supervisor keeps.
pub const REPORT_MAX: usize = 16 << 10;

/// Signals that stop a supervised run.
const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// What the supervisor enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The tender's name in messages: `oasis-spt`.
    pub name: &'static str,
    /// Kill the child after this long.
    pub timeout: Option<Duration>,
    /// Relay at most this many bytes of console output.
    pub console_limit: Option<u64>,
    /// `--stats`: the child's report has counts to print even after a
    /// normal exit.
    pub stats: bool,
}

fn os_error(what: &'static str) -> impl FnOnce(std::io::Error) -> crate::setup::SetupError {
    crate::setup::host_error(what)
}

pub(crate) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two descriptors, as pipe2 needs.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just made these two descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is a valid object for sigemptyset to
    // initialise; sigaddset only writes into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Runs `guest` in a child process watched by this one, then exits with
/// the run's status. `guest` ends its process itself (should it return,
/// the child exits as stopped). Returns only when the child could not be
/// started.
///
/// This process must be single-threaded when it is called (the tenders
/// start no thread before): the child is a fork and goes on running code.
pub fn run(limits: Limits, guest: impl FnOnce()) -> Result<Infallible, crate::setup::SetupError> {
    let (console_r, console_w) = pipe().map_err(os_error("making the console pipe"))?;
    let (report_r, report_w) = pipe().map_err(os_error("making the report pipe"))?;
    let mut blocked: Vec<libc::c_int> = STOP_SIGNALS.to_vec();
    blocked.push(libc::SIGCHLD);
    let set = signal_set(&blocked);
    // SAFETY: restoring SIGCHLD's default action (it may have been inherited
    // as ignored, which would reap the child before its status is read) and
    // blocking the set, which `set` holds, have no other preconditions.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    // When whoever started us dies, end the run as on SIGHUP.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's attribute.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP) };
    // SAFETY: getpid has no preconditions.
    let supervisor = unsafe { libc::getpid() };
    // SAFETY: the caller guarantees this process is single-threaded, so the
    // child may go on running any code (no lock can be held by a thread
    // that did not survive the fork).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("starting the guest's process")(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        become_child(supervisor, &console_w, &report_w);
        drop((console_r, console_w, report_r, report_w));
        guest();
        // SAFETY: _exit ends the child, should `guest` ever return.
        unsafe { libc::_exit(i32::from(exit::STOPPED)) }
    }
    drop((console_w, report_w));
    supervise(limits, pid, set, console_r, report_r)
}

/// In the child: dies with the supervisor, takes the pipes as stdout and
/// stderr, stdin from /dev/null, and no signal blocked.
fn become_child(supervisor: libc::pid_t, console: &OwnedFd, report: &OwnedFd) {
    // SAFETY: plain system calls on descriptors this process owns; on
    // failure the child exits at once, before running anything else.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != supervisor {
            libc::_exit(i32::from(exit::STOPPED));
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null < 0
            || libc::dup2(null, 0) < 0
            || libc::dup2(console.as_raw_fd(), 1) < 0
            || libc::dup2(report.as_raw_fd(), 2) < 0
        {
            libc::_exit(i32::from(exit::REFUSED));
        }
        libc::close(null);
        let empty = signal_set(&[]);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// How the child ended.
enum Ended {
    /// It exited with this status.
    Exited(u8),
    /// A signal killed it.
    Killed(libc::c_int),
}

fn reap(pid: libc::pid_t, block: bool) -> Option<Ended> {
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is writable.
    let rc = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
    if rc != pid {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(Ended::Exited(libc::WEXITSTATUS(status) as u8))
    } else if libc::WIFSIGNALED(status) {
        Some(Ended::Killed(libc::WTERMSIG(status)))
    } else {
        None
    }
}

fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: `pid` is our child, not yet reaped, so it names no other
    // process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = reap(pid, true);
}

/// What the supervisor sends the child, under `--stats`, to end the run
/// with its counts before it is killed.
pub const STOP_REQUEST: libc::c_int = libc::SIGUSR1;

/// How long the child has to answer [`STOP_REQUEST`] before SIGKILL.
const STOP_REQUEST_GRACE: Duration = Duration::from_millis(500);

static STOP_ASKED: AtomicBool = AtomicBool::new(false);

/// Whether the supervisor asked this process (the child) to stop: checked
/// after every hypercall and every interrupted vCPU run.
pub fn stop_asked() -> bool {
    STOP_ASKED.load(Ordering::Relaxed)
}

extern "C" fn on_stop_request(_signal: libc::c_int) {
    STOP_ASKED.store(true, Ordering::Relaxed);
}

/// In the child, under `--stats`: [`STOP_REQUEST`] sets the flag
/// [`stop_asked`] reads. Without `SA_RESTART`, so a yield's `ppoll` or a
/// `KVM_RUN` returns at once; on the alternate stack where there is one
/// (spt: the guest's stack is not to be trusted). A guest that blocks the
/// signal or never calls the tender is killed after the grace all the same.
pub fn honour_stop_requests() -> std::io::Result<()> {
    // SAFETY: sigaction is plain data; all-zeroes is a valid start.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_stop_request as extern "C" fn(libc::c_int) as usize;
    action.sa_flags = libc::SA_ONSTACK;
    // SAFETY: `sa_mask` is a sigset_t we own; the handler only stores to
    // an atomic, which is async-signal-safe.
    unsafe {
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(STOP_REQUEST, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ends the child: under `--stats`, asks first ([`STOP_REQUEST`]) and
/// gathers the report it writes as it ends, for at most the grace; then
/// SIGKILL whatever is left.
fn end_child(
    limits: &Limits,
    pid: libc::pid_t,
    sigfd: RawFd,
    report: &mut std::fs::File,
    text: &mut Vec<u8>,
    console: &mut Relay,
) {
    if limits.stats {
        // SAFETY: kill sends a signal to our own child, which we have not
        // reaped, so the pid is still its.
        unsafe { libc::kill(pid, STOP_REQUEST) };
        let until = Instant::now() + STOP_REQUEST_GRACE;
        let mut report_open = true;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut fds = [
                libc::pollfd { fd: sigfd, events: libc::POLLIN, revents: 0 },
                libc::pollfd {
                    fd: if report_open { report.as_raw_fd() } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                // The console still moves: a child blocked on a full
                // console could not write its report.
                console.pollfd(),
            ];
            let ms = left.as_millis().clamp(1, 1000) as i32;
            // SAFETY: `fds` is a live array of three pollfd.
            if unsafe { libc::poll(fds.as_mut_ptr(), 3, ms) } < 0 {
                continue;
            }
            if fds[1].revents != 0 {
                report_open = read_report(report, text);
            }
            if fds[2].revents != 0 {
                console.service();
            }
            if fds[0].revents != 0 {
                let _ = next_signal(sigfd);
            }
            if reap(pid, false).is_some() {
                while report_open {
                    report_open = read_report(report, text);
                }
                print_report(limits, text, true);
                return;
            }
        }
    }
    kill_and_reap(pid);
}

/// A line of the supervisor's own, then the exit.
fn stop(limits: &Limits, why: std::fmt::Arguments<'_>) -> ! {
    oasis_sys::eprint(format_args!("{}: stopped: {why} (supervisor)\n", limits.name));
    // SAFETY: _exit ends the process; the relay thread, if any, goes with it.
    unsafe { libc::_exit(i32::from(exit::STOPPED)) }
}

fn supervise(
    limits: Limits,
    pid: libc::pid_t,
    set: libc::sigset_t,
    console: OwnedFd,
    report: OwnedFd,
) -> Result<Infallible, crate::setup::SetupError> {
    let started = Instant::now();
    let deadline = limits.timeout.map(|t| started + t);
    let mut console = match Relay::start(console, limits.console_limit) {
        Ok(c) => c,
        Err(e) => {
            kill_and_reap(pid);
            return Err(os_error("relaying the console")(e));
        }
    };
    // SAFETY: a signalfd for the set blocked above; the descriptor is
    // ours, wrapped at once.
    let sigfd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if sigfd < 0 {
        kill_and_reap(pid);
        return Err(os_error("watching signals")(std::io::Error::last_os_error()));
    }
    // SAFETY: signalfd just made this descriptor.
    let sigfd = unsafe { OwnedFd::from_raw_fd(sigfd) };
    let mut report = std::fs::File::from(report);
    let mut text = Vec::with_capacity(1024);
    let mut report_open = true;
    let ended = loop {
        let wait_ms = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    end_child(&limits, pid, sigfd.as_raw_fd(), &mut report, &mut text, &mut console);
                    let ms = limits.timeout.unwrap_or_default().as_millis();
                    stop(&limits, format_args!("--timeout of {ms} ms ran out"));
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
            None => -1,
        };
        let mut fds = [
            libc::pollfd { fd: sigfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if report_open { report.as_raw_fd() } else { -1 }, events: libc::POLLIN, revents: 0 },
            console.pollfd(),
        ];
        // SAFETY: `fds` is a live array of three pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, wait_ms) };
        if n < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            report_open = read_report(&mut report, &mut text);
        }
        if fds[2].revents != 0 {
            console.service();
        }
        if fds[0].revents != 0 {
            let signal = next_signal(sigfd.as_raw_fd());
            if STOP_SIGNALS.contains(&signal) {
                end_child(&limits, pid, sigfd.as_raw_fd(), &mut report, &mut text, &mut console);
                oasis_sys::eprint(format_args!(
                    "{}: stopped: {} received: the guest was killed (supervisor)\n",
                    limits.name,
                    signal_name(signal)
                ));
                die_by(signal);
            }
            if let Some(e) = reap(pid, false) {
                break e;
            }
        }
    };
    // The child is gone; what it reported is all in the pipe by now.
    while report_open {
        report_open = read_report(&mut report, &mut text);
    }
    let relayed = drain(&limits, deadline, sigfd.as_raw_fd(), &mut console);
    let status = match ended {
        Ended::Exited(code) => code,
        Ended::Killed(signal) => {
            print_report(&limits, &text, false);
            stop(&limits, format_args!("the guest's process was killed by {}", signal_name(signal)));
        }
    };
    print_report(&limits, &text, status >= exit::REFUSED);
    if let Some(Relayed { dropped }) = relayed
        && dropped > 0
    {
        oasis_sys::eprint(format_args!(
            "{}: console output over --console-limit={}: {dropped} bytes dropped (supervisor)\n",
            limits.name,
            limits.console_limit.unwrap_or_default()
        ));
    }
    if relayed.is_none() {
        let ms = limits.timeout.unwrap_or_default().as_millis();
        stop(&limits, format_args!("--timeout of {ms} ms ran out while the console was still being written"));
    }
    // SAFETY: _exit ends the process with the guest's status.
    unsafe { libc::_exit(i32::from(status)) }
}

/// Lets the console relay finish once the child is gone, unless that
/// would outlast the deadline (`None` then). A stop signal still ends the
/// run meanwhile: stdout may have no room for as long as it likes.
fn drain(limits: &Limits, deadline: Option<Instant>, sigfd: RawFd, console: &mut Relay) -> Option<Relayed> {
    loop {
        if let Some(done) = console.finished() {
            return Some(done);
        }
        let wait_ms = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
            None => -1,
        };
        let mut fds = [libc::pollfd { fd: sigfd, events: libc::POLLIN, revents: 0 }, console.pollfd()];
        // SAFETY: `fds` is a live array of two pollfd.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, wait_ms) } < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            console.service();
        }
        if fds[0].revents != 0 {
            let signal = next_signal(sigfd);
            if STOP_SIGNALS.contains(&signal) {
                oasis_sys::eprint(format_args!(
                    "{}: stopped: {} received while the console was still being written (supervisor)\n",
                    limits.name,
                    signal_name(signal)
                ));
                die_by(signal);
            }
        }
    }
}

/// Ends this process by `signal`, as it would have ended had it not
/// caught it, so whoever waits for it (a shell) sees the signal.
fn die_by(signal: libc::c_int) -> ! {
    let set = signal_set(&[signal]);
    // SAFETY: restoring the default action, raising the signal and
    // unblocking it end the process; _exit covers a signal whose default
    // action would not.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::_exit(i32::from(exit::STOPPED))
    }
}

/// Reads what the report pipe has (keeping at most [`REPORT_MAX`] bytes);
/// false once it is closed.
fn read_report(report: &mut std::fs::File, text: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    match report.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            let room = REPORT_MAX.saturating_sub(text.len());
            text.extend_from_slice(&buf[..n.min(room)]);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
        Err(_) => false,
    }
}

/// Prints the child's report when the tender made it: on a tender status,
/// or with `--stats`.
fn print_report(limits: &Limits, text: &[u8], tender_status: bool) {
    if text.is_empty() || !(tender_status || limits.stats) {
        return;
    }
    let mut out = String::with_capacity(text.len() + 64);
    for c in String::from_utf8_lossy(text).chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let mut at = 0;
    let bytes = out.as_bytes();
    while at < bytes.len() {
        // SAFETY: writing initialised bytes of `out` to our own stderr.
        let n = unsafe { libc::write(2, bytes[at..].as_ptr().cast(), bytes.len() - at) };
        if n <= 0 {
            break;
        }
        at += n as usize;
    }
}

/// The signal a signalfd read reports (0 if none could be read).
fn next_signal(fd: RawFd) -> libc::c_int {
    // SAFETY: a zeroed signalfd_siginfo is valid, and read fills at most its
    // size.
    unsafe {
        let mut info: libc::signalfd_siginfo = std::mem::zeroed();
        let n = libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size_of::<libc::signalfd_siginfo>());
        if n == size_of::<libc::signalfd_siginfo>() as isize { info.ssi_signo as libc::c_int } else { 0 }
    }
}
