//! News from the tender about the devices: `YIELD` reports which devices
//! have input, and this delivers it to each device's driver.
//!
//! The platform keeps the manifest handles; each driver owns its queues
//! and holds the [`News`] of its own handle, where it leaves the waker of
//! the task waiting for input. `Machine::wait` is the one writer of news,
//! right after `YIELD` returns.

use core::sync::atomic::{AtomicBool, Ordering};
use core::task::Waker;

use oasis_abi::manifest::MAX_DEVICES;

/// What the tender has said about one device since its driver last found
/// it empty, and who to tell.
#[derive(Debug)]
pub(crate) struct News {
    /// Input may be waiting. True at boot, so the first read asks.
    input: AtomicBool,
    waiter: spin::Mutex<Option<Waker>>,
}

impl News {
    const fn new() -> News {
        News { input: AtomicBool::new(true), waiter: spin::Mutex::new(None) }
    }

    /// Whether input may be waiting.
    pub(crate) fn input(&self) -> bool {
        self.input.load(Ordering::Relaxed)
    }

    /// The driver read all there was: no input until the tender says so.
    pub(crate) fn drained(&self) {
        self.input.store(false, Ordering::Relaxed);
    }

    /// Wakes `waker` when the tender next reports input.
    pub(crate) fn wait(&self, waker: &Waker) {
        let mut w = self.waiter.lock();
        match w.as_ref() {
            Some(old) if old.will_wake(waker) => {}
            _ => *w = Some(waker.clone()),
        }
    }

    fn deliver(&self) {
        self.input.store(true, Ordering::Relaxed);
        // Taken out first: waking must not run under the lock.
        let waker = self.waiter.lock().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

static DEVICES: [News; MAX_DEVICES] = [const { News::new() }; MAX_DEVICES];

/// The news of device `handle` (a declared device: the tender stops a
/// guest that names another before this is ever used).
pub(crate) fn of(handle: u32) -> &'static News {
    &DEVICES[handle as usize % MAX_DEVICES]
}

/// Delivers `YIELD`'s ready set: bit `h` for device `h`.
pub(crate) fn deliver(ready: u64) {
    for (h, news) in DEVICES.iter().enumerate() {
        if ready & (1 << h) != 0 {
            news.deliver();
        }
    }
}

/// Whether a task waits on some device.
pub(crate) fn anyone_waiting() -> bool {
    DEVICES.iter().any(|n| n.waiter.lock().is_some())
}
