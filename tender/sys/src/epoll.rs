//! Readiness of many descriptors at once: a thin, safe `epoll(7)`.
//!
//! Only what `oasis run`'s port proxy needs: register a descriptor with a
//! caller-chosen `u64` token, edge- or level-triggered, and wait for a
//! batch of events. A descriptor is removed from the set by the kernel
//! when its last copy is closed, so dropping a socket is enough.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// What a registration waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u32);

impl Interest {
    /// Input, a connection to accept, or the peer's end of input.
    pub const READ: Interest = Interest((libc::EPOLLIN | libc::EPOLLRDHUP) as u32);
    /// Room to write (a pending connect has completed).
    pub const WRITE: Interest = Interest(libc::EPOLLOUT as u32);
    /// Both.
    pub const BOTH: Interest = Interest(Self::READ.0 | Self::WRITE.0);

    /// Edge-triggered: an event is reported once per change, so the
    /// caller must read or write until `WouldBlock` before waiting again.
    pub const fn edge(self) -> Interest {
        Interest(self.0 | libc::EPOLLET as u32)
    }
}

/// One descriptor's readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The token it was registered with.
    pub token: u64,
    bits: u32,
}

impl Event {
    /// Input is ready, or the peer closed its side.
    pub fn readable(&self) -> bool {
        self.bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0
    }

    /// Output has room.
    pub fn writable(&self) -> bool {
        self.bits & libc::EPOLLOUT as u32 != 0
    }

    /// The peer has closed its side (or the connection is gone): an end of
    /// input is there to be read.
    pub fn read_closed(&self) -> bool {
        self.bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0
    }

    /// An error or hang-up is pending (the next call on it reports it).
    pub fn failed(&self) -> bool {
        self.bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0
    }
}

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new, empty set (closed on exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is
        // a new descriptor that nothing else owns.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned open and is owned by no one else.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    fn ctl(&self, op: libc::c_int, fd: &impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        let mut event = libc::epoll_event { events: interest.0, u64: token };
        // SAFETY: both descriptors are open (borrowed for the call) and
        // `event` is a valid epoll_event the kernel only reads.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd.as_fd().as_raw_fd(), &mut event) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Adds `fd`, reported with `token`.
    pub fn add(&self, fd: &impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Changes what `fd` is waited for, or its token.
    pub fn modify(&self, fd: &impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    /// Waits until some registered descriptor is ready or `timeout` passes
    /// (`None`: no limit), and fills `events` with what is ready; an
    /// interrupted wait returns no events.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let ms = match timeout {
            None => -1,
            // Rounded up: a deadline 0.4 ms away must not spin at 0 ms.
            Some(t) => libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX),
        };
        events.len = 0;
        let capacity = libc::c_int::try_from(events.buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `buf` has room for `capacity` events, the kernel writes at
        // most that many and returns how many it wrote.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), capacity, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
        }
        events.len = n as usize;
        Ok(())
    }
}

/// Room for the events one [`Epoll::wait`] returns.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Events {
        Events { buf: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)], len: 0 }
    }

    /// The events of the last wait.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| Event { token: e.u64, bits: e.events })
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_readiness_with_the_token() {
        let epoll = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        epoll.add(&b, 7, Interest::READ.edge()).unwrap();
        let mut events = Events::with_capacity(4);
        epoll.wait(&mut events, Some(Duration::from_millis(1))).unwrap();
        assert_eq!(events.iter().count(), 0);
        a.write_all(b"x").unwrap();
        epoll.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
        let got: Vec<Event> = events.iter().collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].token == 7 && got[0].readable() && !got[0].failed());
        // Edge-triggered: nothing new, nothing reported.
        epoll.wait(&mut events, Some(Duration::from_millis(1))).unwrap();
        assert_eq!(events.iter().count(), 0);
        epoll.modify(&b, 9, Interest::BOTH).unwrap();
        epoll.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
        assert!(events.iter().any(|e| e.token == 9 && e.writable()));
    }
}
