//! Synchronisation between the tasks of one single-threaded executor: an
//! async [`Mutex`] that a task may hold across `.await` (a `RefCell`
//! borrow held there would make the next task that touches it panic).
//!
//! It is `no_std` + `alloc`, has no dependencies and no `unsafe`, and works
//! with any executor that honours wakers, so crates that share state
//! between tasks (the key-value store, applications) need not depend on
//! the runtime.
//!
//! It is not thread-safe (nothing here is `Sync`: Oasis runs one thread),
//! not a spinlock (a task that finds it held sleeps until its turn), and
//! has no poisoning (a task that panics ends the program).

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

use alloc::collections::VecDeque;
use core::cell::{Cell, RefCell, RefMut};
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// Who may have the value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Nobody: the next to ask gets it.
    #[default]
    Free,
    /// A guard holds it.
    Held,
    /// Passed to the waiter with this ticket, which has been woken and
    /// takes it when it next polls. Handing it over (rather than freeing it
    /// and letting the woken task race for it) is what keeps the order
    /// first come, first served.
    HandedTo(u64),
}

/// Tasks waiting for the lock, in order of arrival.
#[derive(Debug, Default)]
struct Waiters {
    next_ticket: u64,
    queue: VecDeque<(u64, Waker)>,
}

/// An async mutex, fair: waiters get the lock in the order they first
/// asked for it.
#[derive(Debug, Default)]
pub struct Mutex<T> {
    state: Cell<State>,
    waiters: RefCell<Waiters>,
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex { state: Cell::new(State::Free), waiters: RefCell::new(Waiters::default()), value: RefCell::new(value) }
    }

    /// Waits for the lock.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock { mutex: self, ticket: None }
    }

    /// The lock, if nobody holds it or waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.state.get() != State::Free {
            return None;
        }
        Some(self.acquire())
    }

    /// Whether a task holds the lock (or it is on its way to a waiter).
    pub fn is_locked(&self) -> bool {
        self.state.get() != State::Free
    }

    /// The value, with no locking: holding `&mut self` proves nobody else
    /// can.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value, giving up the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    fn acquire(&self) -> MutexGuard<'_, T> {
        self.state.set(State::Held);
        MutexGuard { value: self.value.borrow_mut(), _release: Release(self) }
    }

    /// Passes the lock to the first waiter, or frees it.
    fn release(&self) {
        let next = self.waiters.borrow_mut().queue.pop_front();
        match next {
            Some((ticket, waker)) => {
                self.state.set(State::HandedTo(ticket));
                waker.wake();
            }
            None => self.state.set(State::Free),
        }
    }
}

/// The future [`Mutex::lock`] returns. Dropping it before it completes
/// gives up its place (and passes the lock on if it had just been handed
/// it).
#[derive(Debug)]
#[must_use = "the lock is taken only when the future is awaited"]
pub struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    /// Its place in the queue, once it has waited.
    ticket: Option<u64>,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self.get_mut();
        let mutex = this.mutex;
        match (mutex.state.get(), this.ticket) {
            (State::Free, _) => {
                // Free with a ticket: it was dropped from the queue when the
                // lock was handed on, and a later release found no one.
                this.ticket = None;
                return Poll::Ready(mutex.acquire());
            }
            (State::HandedTo(to), Some(ticket)) if to == ticket => {
                this.ticket = None;
                return Poll::Ready(mutex.acquire());
            }
            _ => {}
        }
        let mut waiters = mutex.waiters.borrow_mut();
        let queued = this.ticket.and_then(|ticket| waiters.queue.iter_mut().find(|(t, _)| *t == ticket));
        match queued {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let ticket = waiters.next_ticket;
                waiters.next_ticket += 1;
                waiters.queue.push_back((ticket, cx.waker().clone()));
                this.ticket = Some(ticket);
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        if self.mutex.state.get() == State::HandedTo(ticket) {
            // Its turn came, but it will never take it: the next one's.
            self.mutex.release();
        } else {
            self.mutex.waiters.borrow_mut().queue.retain(|(t, _)| *t != ticket);
        }
    }
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    // Declared first, so dropped first: the value is given back before the
    // lock passes on.
    value: RefMut<'a, T>,
    _release: Release<'a, T>,
}

/// Unlocks its mutex when dropped.
#[derive(Debug)]
struct Release<'a, T>(&'a Mutex<T>);

impl<T> Drop for Release<'_, T> {
    fn drop(&mut self) {
        self.0.release();
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

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// Counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn poll<F: Future>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn waiters_get_it_in_order_and_newcomers_queue_behind_them() {
        let mutex = Mutex::new(0);
        let first = mutex.try_lock().unwrap();
        let (a_wakes, a) = waker();
        let (b_wakes, b) = waker();
        let mut lock_a = pin!(mutex.lock());
        let mut lock_b = pin!(mutex.lock());
        assert!(poll(lock_a.as_mut(), &a).is_pending());
        assert!(poll(lock_b.as_mut(), &b).is_pending());
        drop(first);
        assert_eq!(a_wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(b_wakes.0.load(Ordering::SeqCst), 0);
        // Handed to a: neither b nor a newcomer can take it first.
        assert!(mutex.try_lock().is_none());
        assert!(poll(lock_b.as_mut(), &b).is_pending());
        let Poll::Ready(mut guard) = poll(lock_a.as_mut(), &a) else { panic!("a's turn") };
        *guard += 1;
        drop(guard);
        assert_eq!(b_wakes.0.load(Ordering::SeqCst), 1);
        let Poll::Ready(guard) = poll(lock_b.as_mut(), &b) else { panic!("b's turn") };
        assert_eq!(*guard, 1);
        drop(guard);
        assert!(!mutex.is_locked());
        assert_eq!(*mutex.try_lock().unwrap(), 1);
    }

    #[test]
    fn a_waiter_dropped_on_its_turn_passes_it_on() {
        let mutex = Mutex::new(());
        let held = mutex.try_lock().unwrap();
        let (_, a) = waker();
        let (b_wakes, b) = waker();
        let mut lock_a = Box::pin(mutex.lock());
        let mut lock_b = pin!(mutex.lock());
        assert!(poll(lock_a.as_mut(), &a).is_pending());
        assert!(poll(lock_b.as_mut(), &b).is_pending());
        drop(held);
        drop(lock_a);
        assert_eq!(b_wakes.0.load(Ordering::SeqCst), 1);
        assert!(poll(lock_b.as_mut(), &b).is_ready());
    }

    #[test]
    fn a_waiter_dropped_in_the_queue_leaves_it() {
        let mutex = Mutex::new(());
        let held = mutex.try_lock().unwrap();
        let (_, a) = waker();
        let mut lock_a = Box::pin(mutex.lock());
        assert!(poll(lock_a.as_mut(), &a).is_pending());
        assert!(poll(lock_a.as_mut(), &a).is_pending(), "polled again, still one place");
        drop(lock_a);
        drop(held);
        assert!(mutex.try_lock().is_some());
    }

    #[test]
    fn get_mut_and_into_inner_need_no_lock() {
        let mut mutex = Mutex::new(vec![1]);
        mutex.get_mut().push(2);
        assert_eq!(*mutex.try_lock().unwrap(), [1, 2]);
        assert_eq!(mutex.into_inner(), [1, 2]);
    }
}
