//! Safe wrappers for the few process-level system calls made around the
//! tenders, by the `oasis` command and the tenders' launchers: signal
//! dispositions and masks, network namespaces, killing a child, and what
//! the port proxy of `oasis run` is built on (epoll, splice, a connect
//! that does not wait, the descriptor limit).
//!
//! They live in a crate of their own beside the tenders so that the CLI
//! needs no `unsafe` of its own. It is not a general-purpose binding: each
//! wrapper is what one caller needs, with its safety argument.

mod epoll;
mod scrub;
mod socket;
mod splice;

pub use epoll::{Epoll, Event, Events, Interest};
pub use scrub::{close_other_fds, scrub_process_strings};
pub use socket::{connect_nonblocking, raise_nofile_limit, set_backlog};
pub use splice::Pipe;

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

/// Ignores SIGPIPE, as Rust's start-up would have (the `oasis` binary has
/// its own C `main`): a write to a closed pipe fails instead of killing.
pub fn ignore_sigpipe() {
    // SAFETY: setting a signal to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Whether `signal` was ignored when this process started, as shells do
/// for background jobs and `nohup` for SIGHUP.
pub fn is_ignored(signal: libc::c_int) -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction only writes the current one
    // into `old`, which is large enough and zero-initialised.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zeroed is a valid sigaction, and the call may have filled it in.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Signals blocked in the calling thread (and the threads it starts
/// later), to be collected synchronously with [`BlockedSignals::next`].
pub struct BlockedSignals {
    set: libc::sigset_t,
}

impl BlockedSignals {
    /// Blocks `signals` and SIGCHLD (restored to its default action first:
    /// inherited as ignored, the kernel would reap children before their
    /// status could be read).
    pub fn block(signals: &[libc::c_int]) -> io::Result<BlockedSignals> {
        // SAFETY: restoring the default action has no preconditions.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset
        // only writes into that initialised set.
        let set = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for s in signals.iter().copied().chain([libc::SIGCHLD]) {
                libc::sigaddset(set.as_mut_ptr(), s);
            }
            set.assume_init()
        };
        // SAFETY: `set` is a valid, initialised set; no old mask is asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(BlockedSignals { set })
    }

    /// The next pending signal of the set, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Caught> {
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: `set` and `ts` are valid for the call; `info` is writable
        // siginfo_t storage, filled when a signal is taken.
        let s = unsafe { libc::sigtimedwait(&self.set, info.as_mut_ptr(), &ts) };
        if s <= 0 {
            return None;
        }
        // SAFETY: sigtimedwait filled `info` for the signal it returned
        // (and it was zeroed before, so every byte is initialised).
        let info = unsafe { info.assume_init() };
        // SAFETY: si_value is meaningful for SI_QUEUE, which is checked.
        let queued = (info.si_code == libc::SI_QUEUE).then(|| unsafe { info.si_value() }.sival_ptr as usize);
        Some(Caught { signal: s, queued })
    }
}

/// A signal [`BlockedSignals::next`] took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caught {
    pub signal: libc::c_int,
    /// The value that came with it when it was sent by [`queue_signal`]
    /// (`sigqueue`), not by `kill`.
    pub queued: Option<usize>,
}

/// Sends `signal` with `value` (`sigqueue`) to process `pid`, which takes
/// it with [`BlockedSignals::next`] as [`Caught::queued`]: how `oasis
/// stop --time` tells a run how long its tender may take to stop.
pub fn queue_signal(pid: u32, signal: libc::c_int, value: usize) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    let value = libc::sigval { sival_ptr: value as *mut libc::c_void };
    // SAFETY: sigqueue has no memory effects on this process; a positive
    // pid names one process; the value is carried as a number, never
    // dereferenced.
    if unsafe { libc::sigqueue(pid, signal, value) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to `child`, which has not been waited for.
pub fn kill(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory effects; `pid` is our unreaped child,
        // so it cannot name another process.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The listening TCP socket at descriptor `fd`, inherited from the
/// process that started this one ([`child_in_netns_keeping`]). Refused
/// unless `fd` is open and a listening socket, so a wrong number cannot
/// take over another descriptor.
pub fn inherited_listener(fd: std::os::fd::RawFd) -> io::Result<std::net::TcpListener> {
    let mut listening: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `listening`; on a
    // descriptor that is not an open socket it fails and writes nothing.
    let rc =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, (&raw mut listening).cast(), &mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if listening == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("descriptor {fd} is not listening")));
    }
    // Owned from here on: close-on-exec again, so it goes no further.
    // SAFETY: fcntl on the open descriptor takes no pointers.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: `fd` is an open listening socket handed to this process for
    // it to own, and nothing else in the process refers to it.
    Ok(std::net::TcpListener::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
}

/// Moves the calling thread into the network namespace `ns`; sockets it
/// makes from then on belong there. Other threads are unaffected.
pub fn enter_netns(ns: &File) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor, which `ns` keeps open, and
    // changes nothing but this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd`'s child start in the network namespace `ns`, with no
/// signals blocked, and die with SIGKILL when this process does (nothing
/// would be left to stop it otherwise). `ns` must stay open until the
/// child is spawned.
pub fn child_in_netns(cmd: &mut Command, ns: &File) {
    child_in_netns_keeping(cmd, ns, &[]);
}

/// [`child_in_netns`], with the descriptors `keep` (of this process,
/// open until the child is spawned) left open across the exec, at the same
/// numbers: how sockets bound in this namespace reach a helper that runs in
/// another.
pub fn child_in_netns_keeping(cmd: &mut Command, ns: &File, keep: &[std::os::fd::RawFd]) {
    let keep = keep.to_vec();
    let ns_fd = ns.as_raw_fd();
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls (setns, prctl, getppid,
    // pthread_sigmask on a set built on its stack, fcntl); the descriptors
    // are open in the child, inherited from this process; `keep` was
    // allocated before the fork and is only read.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            dies_with_parent_unblocked(parent)?;
            // Cleared close-on-exec in the child's own table only.
            for &fd in &keep {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
}

/// In a forked child before exec: SIGKILL when `parent` dies, and no
/// signals blocked (blocked signals are inherited; the child must be
/// stoppable). Async-signal-safe.
fn dies_with_parent_unblocked(parent: u32) -> io::Result<()> {
    // SAFETY: prctl and getppid take no pointers; sigemptyset and
    // pthread_sigmask read and write only a set on this stack. All are
    // async-signal-safe, as a child between fork and exec needs.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The parent may have died before PDEATHSIG was set.
        if libc::getppid() as u32 != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(empty.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
    }
    Ok(())
}

/// Makes `cmd`'s child die with SIGKILL when this process does, and start
/// with no signals blocked: a tender supervised by `oasis run` outside a
/// namespace.
pub fn child_dies_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls (prctl, getppid, pthread_sigmask
    // on a set built on its stack).
    unsafe { cmd.pre_exec(move || dies_with_parent_unblocked(parent)) };
}

/// Makes `cmd`'s child the leader of a new session (`setsid`): no
/// controlling terminal, so a detached run outlives the terminal and its
/// signals.
pub fn child_in_new_session(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and makes
    // one async-signal-safe system call.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

/// Sends `signal` to the process `pid`. The caller checks, just before,
/// that `pid` is the process it means (its start time), as nothing else
/// can tell a reused process id.
pub fn signal_process(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill has no memory effects; a positive pid names one process.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Text formatted into a fixed buffer, without allocating, and written to
/// a descriptor with `write(2)` alone: what a signal handler, or a tender
/// inside its sandbox, may use to report. Text past the buffer is cut (on
/// a character boundary, so it stays UTF-8).
pub struct FixedText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for FixedText<N> {
    fn default() -> FixedText<N> {
        FixedText { bytes: [0; N], len: 0 }
    }
}

impl<const N: usize> std::fmt::Write for FixedText<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut n = s.len().min(N - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl<const N: usize> FixedText<N> {
    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }

    /// Writes the text to descriptor `fd`, retrying short writes and
    /// giving up on errors (there is nowhere to report them).
    /// Async-signal-safe.
    pub fn write_to(&self, fd: std::os::fd::RawFd) {
        let mut at = 0;
        while at < self.len {
            // SAFETY: `bytes[at..len]` is live and initialised; write(2)
            // reads at most that many bytes from it.
            let n = unsafe { libc::write(fd, self.bytes[at..].as_ptr().cast(), self.len - at) };
            if n <= 0 {
                break;
            }
            at += n as usize;
        }
    }
}

/// Writes formatted text (at most 1 KiB) to standard error without
/// allocating. Async-signal-safe.
pub fn eprint(args: std::fmt::Arguments<'_>) {
    let mut text = FixedText::<1024>::default();
    let _ = std::fmt::Write::write_fmt(&mut text, args);
    text.write_to(2);
}

/// The fields of a `SIGSYS` `siginfo_t` that the `libc` crate does not
/// name: the address after the system call instruction, and the call's
/// number.
///
/// # Safety
/// `info` points at the `siginfo_t` the kernel passed to a `SIGSYS`
/// handler installed with `SA_SIGINFO`.
pub unsafe fn sigsys_fields(info: *const libc::siginfo_t) -> (u64, i64) {
    // SAFETY: for SIGSYS the kernel fills `_sigsys { void *_call_addr; int
    // _syscall; unsigned _arch; }` at offset 16 of siginfo_t, which the
    // caller promises `info` is.
    unsafe {
        let base = info.cast::<u8>();
        let call_addr = base.add(16).cast::<u64>().read_unaligned();
        let syscall = base.add(24).cast::<i32>().read_unaligned();
        (call_addr, i64::from(syscall))
    }
}
