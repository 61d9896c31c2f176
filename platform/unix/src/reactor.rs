//! Waiting on file descriptors: the unix platform's `wait` polls the
//! descriptors tasks are waiting on (host sockets, a TAP device) and wakes
//! those tasks.

use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use slab::Slab;

struct Waiter {
    fd: RawFd,
    events: i16,
    waker: Waker,
    fired: bool,
}

#[derive(Default)]
struct Reactor {
    waiters: Slab<Waiter>,
}

static REACTOR: Mutex<Option<Reactor>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Reactor) -> R) -> R {
    let mut guard = REACTOR.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Reactor::default))
}

/// Whether anything could wake a wait without a deadline.
pub(crate) fn has_sources() -> bool {
    with(|r| r.waiters.iter().any(|(_, w)| !w.fired))
}

/// Polls every descriptor a task waits on for up to `timeout` (`None`:
/// until one is ready) and wakes the tasks whose descriptors are ready.
pub(crate) fn poll(timeout: Option<&libc::timespec>) {
    let (mut fds, owners): (Vec<libc::pollfd>, Vec<usize>) = with(|r| {
        r.waiters
            .iter()
            .filter(|(_, w)| !w.fired)
            .map(|(k, w)| (libc::pollfd { fd: w.fd, events: w.events, revents: 0 }, k))
            .unzip()
    });
    let ts = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of pollfd of the length given; `ts` is
    // null or points at a timespec the caller keeps alive. EINTR returns
    // early, which `wait` allows.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts, std::ptr::null()) };
    if n <= 0 {
        return;
    }
    let mut woken = Vec::new();
    with(|r| {
        for (p, &k) in fds.iter().zip(&owners) {
            if p.revents != 0
                && let Some(w) = r.waiters.get_mut(k)
            {
                w.fired = true;
                woken.push(w.waker.clone());
            }
        }
    });
    for w in woken {
        w.wake();
    }
}

/// Completes when `fd` is ready for `events` (or has an error or hangup).
pub(crate) struct FdReady {
    fd: RawFd,
    events: i16,
    key: Option<usize>,
}

/// Waits until `fd` is readable.
pub(crate) fn readable(fd: RawFd) -> FdReady {
    FdReady { fd, events: libc::POLLIN, key: None }
}

/// Waits until `fd` is writable.
pub(crate) fn writable(fd: RawFd) -> FdReady {
    FdReady { fd, events: libc::POLLOUT, key: None }
}

impl Future for FdReady {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (fd, events) = (self.fd, self.events);
        match self.key {
            None => {
                let key = with(|r| r.waiters.insert(Waiter { fd, events, waker: cx.waker().clone(), fired: false }));
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) => {
                let fired = with(|r| match r.waiters.get_mut(key) {
                    Some(w) if w.fired => {
                        r.waiters.remove(key);
                        true
                    }
                    Some(w) => {
                        w.waker = cx.waker().clone();
                        false
                    }
                    None => true,
                });
                if fired {
                    self.key = None;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for FdReady {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            with(|r| {
                r.waiters.try_remove(key);
            });
        }
    }
}
