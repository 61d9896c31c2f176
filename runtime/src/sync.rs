//! A mutex for tasks of this single-threaded runtime: holding it across an
//! `.await` is fine (unlike a `RefCell` borrow, which another task would
//! then find taken and panic on).

use alloc::collections::VecDeque;
use core::cell::{Cell, RefCell, RefMut};
use core::future::poll_fn;
use core::ops::{Deref, DerefMut};
use core::task::{Poll, Waker};

/// An async mutex, fair (first come, first served).
#[derive(Debug, Default)]
pub struct Mutex<T> {
    value: RefCell<T>,
    locked: Cell<bool>,
    waiters: RefCell<VecDeque<Waker>>,
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    value: RefMut<'a, T>,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex { value: RefCell::new(value), locked: Cell::new(false), waiters: RefCell::new(VecDeque::new()) }
    }

    /// Waits for the lock.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        poll_fn(|cx| {
            if self.locked.get() {
                self.waiters.borrow_mut().push_back(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        self.locked.set(true);
        MutexGuard { mutex: self, value: self.value.borrow_mut() }
    }

    /// The lock, if nobody holds it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.get() {
            return None;
        }
        self.locked.set(true);
        Some(MutexGuard { mutex: self, value: self.value.borrow_mut() })
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.set(false);
        // Wake one waiter; a spurious waker (its task gone or already
        // woken) just passes the turn on when it finds the lock free.
        if let Some(w) = self.mutex.waiters.borrow_mut().pop_front() {
            w.wake();
        }
    }
}
