//! Relaying the guest's console (the child's stdout, a pipe) to the
//! supervisor's stdout without ever blocking the supervisor.
//!
//! The supervisor's poll loop enforces `--timeout` and the stop signals, so
//! it may only make writes that cannot block. Which ones those are depends
//! on what stdout is, looked at once with `fstat`:
//! - a pipe or FIFO: `splice` with `SPLICE_F_NONBLOCK`, pipe to pipe, fails
//!   with EAGAIN instead of waiting for room;
//! - a regular file on a local file system, or `/dev/null`: writes do not
//!   wait for a reader;
//! - a socket: `send` with `MSG_DONTWAIT`.
//!
//! When stdout has no room the relay stops reading the console and polls
//! stdout for room instead (the guest then blocks on its own console
//! write, which the timeout still bounds). `O_NONBLOCK` is never set on
//! stdout itself: that file description is shared with whoever started us
//! (a shell), which would see its own writes fail.
//!
//! Anything else (a terminal, another character device, a file on a
//! network or FUSE file system, which may take any time) is relayed by a
//! thread of its own, as blocking as it likes, which the loop waits for
//! through a pipe the thread closes when it is done.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;

/// Most bytes moved by one `splice`, `read` or `send`.
const CHUNK: usize = 64 << 10;

/// Most chunks moved per call of [`Relay::service`], so a guest writing
/// as fast as we relay cannot keep the loop from its deadline and signals.
const BURST: usize = 16;

/// What the relay of the console did.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Relayed {
    /// Bytes dropped over the limit.
    pub dropped: u64,
}

/// How bytes reach stdout without blocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    /// A pipe or FIFO: non-blocking `splice`.
    Pipe,
    /// A regular file or `/dev/null`: `splice`, or `read` and `write`
    /// where stdout takes no splice (a file opened to append).
    File { copy: bool },
    /// A socket: `read`, then `send` with `MSG_DONTWAIT`.
    Socket,
}

/// The console relay the supervisor's loop drives.
pub(super) enum Relay {
    /// Relayed by the loop itself.
    Polled(Polled),
    /// Relayed by a thread ([`relay_blocking`]); `done` reads end of file
    /// once it has finished.
    Thread { done: OwnedFd, result: mpsc::Receiver<Relayed>, finished: Option<Relayed> },
}

/// The state of a relay the loop drives.
pub(super) struct Polled {
    /// The console pipe (non-blocking); `None` once the child closed it.
    console: Option<OwnedFd>,
    sink: Sink,
    limit: Option<u64>,
    sent: u64,
    out: Relayed,
    /// Nobody reads stdout any more: the console is drained and dropped.
    gone: bool,
    /// Stdout has no room: wait for it before reading more.
    waiting: bool,
    /// Socket: the bytes of `scratch` read from the console and not yet
    /// sent (the console is not read while there are some).
    pending: std::ops::Range<usize>,
    /// For the copies; allocated at first use (the splices need none).
    scratch: Vec<u8>,
}

/// What stdout is, for [`Relay::start`]; `None`: only a thread may write it.
fn sink_of_stdout() -> Option<Sink> {
    // SAFETY: fstat fills the zeroed stat it is given.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live, writable stat.
    if unsafe { libc::fstat(1, &mut st) } != 0 {
        // Stdout is closed: the relay only drains the console. A file
        // sink finds out at its first splice (EBADF).
        return Some(Sink::File { copy: false });
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => Some(Sink::Pipe),
        libc::S_IFSOCK => Some(Sink::Socket),
        libc::S_IFREG if on_local_file_system() => Some(Sink::File { copy: false }),
        libc::S_IFCHR if st.st_rdev == libc::makedev(1, 3) => Some(Sink::File { copy: false }),
        _ => None,
    }
}

/// Whether stdout's file system keeps writes local: a network or FUSE
/// one may make a write wait on a server for any time.
fn on_local_file_system() -> bool {
    const REMOTE: [i64; 8] = [
        0x6573_5546,            // FUSE
        0x6969,                 // NFS
        0xff53_4d42_u32 as i64, // CIFS
        0xfe53_4d42_u32 as i64, // SMB2
        0x517b,                 // SMB
        0x0102_1997,            // 9P
        0x00c3_6400,            // Ceph
        0x6b41_4653,            // AFS
    ];
    // SAFETY: fstatfs fills the zeroed statfs it is given.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `fs` is a live, writable statfs.
    if unsafe { libc::fstatfs(1, &mut fs) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast, reason = "f_type's type differs between targets")]
    let kind = fs.f_type as i64;
    !REMOTE.contains(&kind)
}

impl Relay {
    /// Starts relaying `console` to stdout, at most `limit` bytes.
    pub(super) fn start(console: OwnedFd, limit: Option<u64>) -> std::io::Result<Relay> {
        let Some(sink) = sink_of_stdout() else {
            let (done, done_w) = super::pipe()?;
            let (tx, result) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(relay_blocking(console, limit));
                drop(done_w);
            });
            return Ok(Relay::Thread { done, result, finished: None });
        };
        // The console's read end is ours alone (the child holds the write
        // end, a file description of its own), so it may be non-blocking.
        // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
        unsafe {
            let fd = console.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Relay::Polled(Polled {
            console: Some(console),
            sink,
            limit,
            sent: 0,
            out: Relayed::default(),
            gone: false,
            waiting: false,
            pending: 0..0,
            scratch: Vec::new(),
        }))
    }

    /// What the loop polls for the relay: the console to read, stdout to
    /// have room, or the thread to end; fd -1 once done.
    pub(super) fn pollfd(&self) -> libc::pollfd {
        let (fd, events) = match self {
            Relay::Thread { finished: Some(_), .. } => (-1, 0),
            Relay::Thread { done, .. } => (done.as_raw_fd(), libc::POLLIN),
            Relay::Polled(p) if p.waiting => (1, libc::POLLOUT),
            Relay::Polled(p) => match &p.console {
                Some(c) => (c.as_raw_fd(), libc::POLLIN),
                None if !p.pending.is_empty() => (1, libc::POLLOUT),
                None => (-1, 0),
            },
        };
        libc::pollfd { fd, events, revents: 0 }
    }

    /// Moves what can move now without blocking; call when the poll
    /// reported the descriptor of [`Relay::pollfd`] ready.
    pub(super) fn service(&mut self) {
        match self {
            Relay::Thread { result, finished, .. } => {
                if finished.is_none() {
                    // The thread closes `done` after sending its result;
                    // should it have died instead, nothing was dropped.
                    *finished = Some(result.recv().unwrap_or_default());
                }
            }
            Relay::Polled(p) => p.service(),
        }
    }

    /// What the relay did, once it has relayed all (the child closed the
    /// console and stdout took everything); `None` until then.
    pub(super) fn finished(&self) -> Option<Relayed> {
        match self {
            Relay::Thread { finished, .. } => *finished,
            Relay::Polled(p) if p.console.is_none() && p.pending.is_empty() => Some(p.out),
            Relay::Polled(_) => None,
        }
    }
}

/// What one step of the relay came to.
enum Step {
    /// Bytes moved: there may be more.
    Moved,
    /// Nothing to do until the next poll.
    Wait,
}

impl Polled {
    fn service(&mut self) {
        self.waiting = false;
        for _ in 0..BURST {
            match self.step() {
                Step::Moved => {}
                Step::Wait => return,
            }
        }
    }

    fn console_fd(&self) -> Option<RawFd> {
        self.console.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn step(&mut self) -> Step {
        if !self.pending.is_empty() {
            return self.send_pending();
        }
        let Some(fd) = self.console_fd() else { return Step::Wait };
        let room = self.limit.map_or(u64::MAX, |l| l.saturating_sub(self.sent));
        if self.gone || room == 0 {
            return self.drop_some(fd, room);
        }
        let len = room.min(CHUNK as u64) as usize;
        match self.sink {
            Sink::Pipe | Sink::File { copy: false } => match splice(fd, len) {
                Ok(0) => self.eof(),
                Ok(n) => {
                    self.sent += n as u64;
                    Step::Moved
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => Step::Moved,
                    // For a pipe, EAGAIN is an empty console or a full
                    // stdout: ask stdout which. A file never lacks room.
                    Some(libc::EAGAIN) => {
                        self.waiting = self.sink == Sink::Pipe && !stdout_has_room();
                        Step::Wait
                    }
                    // A file that takes no splice (opened to append).
                    Some(libc::EINVAL) if self.sink != Sink::Pipe => {
                        self.sink = Sink::File { copy: true };
                        Step::Moved
                    }
                    // Nobody reads stdout any more: keep draining.
                    _ => {
                        self.gone = true;
                        Step::Moved
                    }
                },
            },
            Sink::File { copy: true } => {
                let n = match self.read(fd, len) {
                    Ok(0) => return self.eof(),
                    Ok(n) => n,
                    Err(step) => return step,
                };
                if !write_all(&self.scratch[..n]) {
                    self.gone = true;
                }
                self.sent += n as u64;
                Step::Moved
            }
            Sink::Socket => {
                let n = match self.read(fd, len) {
                    Ok(0) => return self.eof(),
                    Ok(n) => n,
                    Err(step) => return step,
                };
                self.sent += n as u64;
                self.pending = 0..n;
                self.send_pending()
            }
        }
    }

    /// Reads and drops what is over the limit (or everything, once stdout
    /// is gone: the bytes under the limit are then not counted as dropped).
    fn drop_some(&mut self, fd: RawFd, room: u64) -> Step {
        let n = match self.read(fd, CHUNK) {
            Ok(0) => return self.eof(),
            Ok(n) => n,
            Err(step) => return step,
        };
        let keep = room.min(n as u64) as usize;
        self.out.dropped += (n - keep) as u64;
        Step::Moved
    }

    /// Sends what of the console was read and not yet sent (socket).
    fn send_pending(&mut self) -> Step {
        let rest = &self.scratch[self.pending.clone()];
        // SAFETY: sends initialised bytes of `scratch`; MSG_DONTWAIT makes
        // this send never wait for room, whatever the socket's own flags.
        let n = unsafe { libc::send(1, rest.as_ptr().cast(), rest.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n >= 0 {
            self.pending.start += n as usize;
            return Step::Moved;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Step::Moved,
            Some(libc::EAGAIN) => {
                self.waiting = true;
                Step::Wait
            }
            _ => {
                self.gone = true;
                self.pending = 0..0;
                Step::Moved
            }
        }
    }

    /// Reads up to `len` bytes of the console into the scratch buffer;
    /// `Err` is what to do when nothing could be read.
    fn read(&mut self, fd: RawFd, len: usize) -> Result<usize, Step> {
        if self.scratch.len() < CHUNK {
            self.scratch = vec![0; CHUNK];
        }
        let len = len.min(CHUNK);
        // SAFETY: `scratch` is live and writable for `len` bytes; `fd` is
        // the console pipe this relay owns (non-blocking).
        let n = unsafe { libc::read(fd, self.scratch.as_mut_ptr().cast(), len) };
        if n >= 0 {
            return Ok(n as usize);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Err(Step::Moved),
            Some(libc::EAGAIN) => Err(Step::Wait),
            // The pipe cannot fail otherwise; should it, stop reading it.
            _ => {
                self.console = None;
                Err(Step::Wait)
            }
        }
    }

    fn eof(&mut self) -> Step {
        self.console = None;
        Step::Wait
    }
}

/// Moves up to `len` bytes from the console to stdout, waiting for
/// neither (only a pipe's or a socket's readiness is checked by this
/// flag: stdout must be a pipe, a local file or `/dev/null`).
fn splice(console: RawFd, len: usize) -> std::io::Result<usize> {
    // SAFETY: splice between the console pipe and stdout with null
    // offsets (both may be pipes or streams); no memory is passed.
    let n =
        unsafe { libc::splice(console, std::ptr::null_mut(), 1, std::ptr::null_mut(), len, libc::SPLICE_F_NONBLOCK) };
    if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// Whether stdout can take a byte now (or has failed: then the next
/// splice says so).
fn stdout_has_room() -> bool {
    let mut fd = libc::pollfd { fd: 1, events: libc::POLLOUT, revents: 0 };
    // SAFETY: polls one live pollfd without waiting.
    unsafe { libc::poll(&mut fd, 1, 0) != 0 }
}

/// Writes all of `bytes` to stdout (a local file or `/dev/null`, which
/// never make a write wait); false if stdout failed.
fn write_all(mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: writing initialised bytes to stdout.
        let w = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if w <= 0 {
            if w < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        bytes = &bytes[w as usize..];
    }
    true
}

/// The thread's relay, for a stdout whose writes may block: copies the
/// console to stdout (`splice` where stdout allows it) until the child
/// closes it, dropping what is over `limit`.
fn relay_blocking(console: OwnedFd, limit: Option<u64>) -> Relayed {
    let fd = console.as_raw_fd();
    let mut sent = 0u64;
    let mut out = Relayed::default();
    let mut splice_works = true;
    let mut stdout_gone = false;
    let mut scratch = vec![0u8; CHUNK];
    loop {
        let room = limit.map_or(u64::MAX, |l| l.saturating_sub(sent));
        if room > 0 && !stdout_gone && splice_works {
            let len = room.min(CHUNK as u64) as usize;
            // SAFETY: splice between two descriptors this process owns
            // (the pipe and its stdout), with null offsets (both may be
            // pipes or streams); no memory is passed.
            let n =
                unsafe { libc::splice(fd, std::ptr::null_mut(), 1, std::ptr::null_mut(), len, libc::SPLICE_F_MOVE) };
            match n {
                0 => return out,
                n if n > 0 => {
                    sent += n as u64;
                    continue;
                }
                _ => match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // stdout cannot take a splice (some terminals): copy
                    // instead.
                    Some(libc::EINVAL) => splice_works = false,
                    // Nobody reads stdout any more: keep draining.
                    _ => stdout_gone = true,
                },
            }
            continue;
        }
        // SAFETY: `scratch` is live and writable for its length; `fd` is
        // the pipe this function owns.
        let n = unsafe { libc::read(fd, scratch.as_mut_ptr().cast(), scratch.len()) };
        if n == 0 {
            return out;
        }
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return out;
        }
        let n = n as usize;
        let keep = (room.min(n as u64) as usize).min(n);
        if keep > 0 && !stdout_gone {
            if !write_all(&scratch[..keep]) {
                stdout_gone = true;
            }
            sent += keep as u64;
        }
        out.dropped += (n - keep) as u64;
    }
}
