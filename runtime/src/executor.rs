//! A single-threaded executor with timers.
//!
//! Written here rather than taken from a crate because it has to be `no_std`
//! without `unsafe`, sleep through [`Machine::wait`] with exactly one
//! deadline, and let the machine wake device waiters while it sleeps —
//! none of the small executors on crates.io fit all three.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use slab::Slab;

use crate::args::{ArgError, Args};
use crate::random::Csprng;
use crate::{Machine, Os, Termination, logger};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Task ids woken since the last pass. `Sync` because `Waker` must be; the
/// lock is never contended (one thread).
#[derive(Default)]
struct ReadyQueue(spin::Mutex<VecDeque<usize>>);

struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    queue: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.0.lock().push_back(self.id);
        }
    }
}

struct TaskSlot {
    future: Option<Task>,
    waker: Arc<TaskWaker>,
}

/// Key of a registered timer: deadline first, then a sequence number so
/// equal deadlines stay distinct and fire in registration order.
pub(crate) type TimerKey = (u64, u64);

/// State shared by the executor and every [`Os`] handle.
pub(crate) struct Shared {
    pub(crate) machine: &'static dyn Machine,
    pub(crate) args: Args,
    pub(crate) rng: RefCell<Csprng>,
    pub(crate) boot_ns: u64,
    tasks: RefCell<Slab<TaskSlot>>,
    queue: Arc<ReadyQueue>,
    timers: RefCell<BTreeMap<TimerKey, Waker>>,
    timer_seq: Cell<u64>,
    /// Tasks waiting for the executor to run out of work ([`crate::Idle`]).
    idle_waiters: RefCell<Vec<Waker>>,
    /// How many times it has run out of work with idle waiters.
    idle_epoch: Cell<u64>,
    /// `main`'s exit status, once it has returned.
    status: Cell<Option<u8>>,
}

impl Shared {
    /// Drops every task and waker. Tasks hold `Os` handles, which hold
    /// this: without this the cycle would keep it all alive.
    fn free_all(&self) {
        // Taken out first: a task's destructor may reach back in here.
        let tasks = core::mem::take(&mut *self.tasks.borrow_mut());
        drop(tasks);
        let timers = core::mem::take(&mut *self.timers.borrow_mut());
        drop(timers);
        let idle = core::mem::take(&mut *self.idle_waiters.borrow_mut());
        drop(idle);
    }

    pub(crate) fn new(machine: &'static dyn Machine, args: Args, seed: [u8; 32]) -> Shared {
        Shared {
            machine,
            args,
            rng: RefCell::new(Csprng::from_seed(seed)),
            boot_ns: machine.monotonic_ns(),
            tasks: RefCell::new(Slab::new()),
            queue: Arc::new(ReadyQueue::default()),
            timers: RefCell::new(BTreeMap::new()),
            timer_seq: Cell::new(0),
            idle_waiters: RefCell::new(Vec::new()),
            idle_epoch: Cell::new(0),
            status: Cell::new(None),
        }
    }

    pub(crate) fn spawn_task(&self, future: Task) {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let waker = Arc::new(TaskWaker { id: entry.key(), queued: AtomicBool::new(false), queue: self.queue.clone() });
        waker.wake_by_ref();
        entry.insert(TaskSlot { future: Some(future), waker });
    }

    pub(crate) fn add_timer(&self, deadline_ns: u64, waker: Waker) -> TimerKey {
        let seq = self.timer_seq.get();
        self.timer_seq.set(seq.wrapping_add(1));
        let key = (deadline_ns, seq);
        self.timers.borrow_mut().insert(key, waker);
        key
    }

    pub(crate) fn update_timer(&self, key: TimerKey, waker: &Waker) {
        if let Some(w) = self.timers.borrow_mut().get_mut(&key)
            && !w.will_wake(waker)
        {
            *w = waker.clone();
        }
    }

    pub(crate) fn remove_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(&key);
    }

    pub(crate) fn idle_epoch(&self) -> u64 {
        self.idle_epoch.get()
    }

    pub(crate) fn add_idle_waiter(&self, waker: &Waker) {
        let mut waiters = self.idle_waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }

    /// Wakes the idle waiters: nothing else is ready to run.
    fn wake_idle(&self) {
        self.idle_epoch.set(self.idle_epoch.get() + 1);
        let waiters = core::mem::take(&mut *self.idle_waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// Polls ready tasks, including ones woken meanwhile, until none is
    /// ready or `budget` polls were made. Returns how many were polled.
    fn run_ready(&self, budget: usize) -> usize {
        let mut polled = 0;
        while polled < budget {
            let Some(id) = self.queue.0.lock().pop_front() else {
                break;
            };
            // Take the future out so the task may spawn (and so borrow the
            // slab) while it runs.
            let (mut future, waker) = {
                let mut tasks = self.tasks.borrow_mut();
                let Some(slot) = tasks.get_mut(id) else {
                    continue;
                };
                slot.waker.queued.store(false, Ordering::Release);
                let Some(future) = slot.future.take() else {
                    continue;
                };
                (future, Waker::from(slot.waker.clone()))
            };
            polled += 1;
            let mut cx = Context::from_waker(&waker);
            let done = future.as_mut().poll(&mut cx).is_ready();
            let mut tasks = self.tasks.borrow_mut();
            if done {
                tasks.try_remove(id);
            } else if let Some(slot) = tasks.get_mut(id) {
                slot.future = Some(future);
            }
        }
        polled
    }

    /// Wakes every timer whose deadline has passed.
    fn fire_timers(&self, now_ns: u64) {
        loop {
            let expired = {
                let mut timers = self.timers.borrow_mut();
                match timers.first_key_value() {
                    Some((&(deadline, _), _)) if deadline <= now_ns => timers.pop_first(),
                    _ => None,
                }
            };
            match expired {
                Some((_, waker)) => waker.wake(),
                None => break,
            }
        }
    }

    fn queue_is_empty(&self) -> bool {
        self.queue.0.lock().is_empty()
    }

    fn next_deadline(&self) -> Option<u64> {
        self.timers.borrow().first_key_value().map(|(&(deadline, _), _)| deadline)
    }
}

/// Task polls between two looks at the devices while tasks stay ready.
const POLL_BUDGET: usize = 256;

/// Runs `main` to completion on `machine` and returns its exit status.
///
/// `args` are the boot arguments. The runtime takes its own (`--log
/// LEVEL`, see [`logger`]); then `setup` takes what the platform's devices
/// need (`--ipv4 …`) and returns their configuration, which `main`
/// receives with the [`Os`]; the rest are the application's. A `setup`
/// error is printed and becomes status 1. `seed` seeds the CSPRNG. Other
/// tasks still running when `main` returns are dropped.
pub fn start<S, P, F, Fut, T>(
    machine: &'static dyn Machine,
    args: Vec<&'static str>,
    seed: [u8; 32],
    setup: S,
    main: F,
) -> u8
where
    S: FnOnce(&mut Vec<&'static str>) -> Result<P, ArgError>,
    F: FnOnce(Os, P) -> Fut,
    Fut: Future<Output = T> + 'static,
    T: Termination,
{
    let mut args = match logger::take_log_arg(args) {
        Ok((level, rest)) => {
            logger::init(machine, level);
            rest
        }
        Err(e) => {
            machine.console_write(alloc::format!("error: {e}\n").as_bytes());
            return 1;
        }
    };
    let devices = match setup(&mut args) {
        Ok(d) => d,
        Err(e) => {
            machine.console_write(alloc::format!("error: {e}\n").as_bytes());
            return 1;
        }
    };
    let shared = Rc::new(Shared::new(machine, Args::new(args), seed));
    logger::set_boot_time(shared.boot_ns);
    let os = Os::from_shared(shared.clone());
    {
        let os_for_report = os.clone();
        let main = main(os, devices);
        shared.spawn_task(Box::pin(async move {
            let value = main.await;
            os_for_report.shared.status.set(Some(value.report(&os_for_report)));
        }));
    }
    loop {
        shared.run_ready(POLL_BUDGET);
        if let Some(code) = shared.status.get() {
            // The program ends here: freeing every task and buffer one by one
            // would be wasted work (and on emulated hardware, real time).
            // Fuzz targets start many programs in one process, so there
            // everything is freed.
            if cfg!(fuzzing) {
                shared.free_all();
                drop(shared);
            } else {
                core::mem::forget(shared);
            }
            return code;
        }
        shared.fire_timers(machine.monotonic_ns());
        if !shared.queue_is_empty() {
            // More work is ready: still look at the devices, without sleeping,
            // so a busy task cannot starve input.
            machine.wait(Some(0));
            continue;
        }
        if !shared.idle_waiters.borrow().is_empty() {
            // Someone wants to run when nothing else can (a group commit):
            // first take in whatever input is already there, and only if
            // that wakes nobody, wake them.
            machine.wait(Some(0));
            shared.fire_timers(machine.monotonic_ns());
            if shared.queue_is_empty() {
                shared.wake_idle();
            }
            continue;
        }
        let deadline = shared.next_deadline();
        if deadline.is_none() && !machine.has_wakeable_devices() {
            machine.abort("deadlock: every task is waiting and no timer or device can wake one");
        }
        machine.wait(deadline);
        shared.fire_timers(machine.monotonic_ns());
    }
}

/// A spawned task's result, awaitable. Dropping it detaches the task.
pub struct JoinHandle<T> {
    pub(crate) state: Rc<RefCell<JoinState<T>>>,
}

pub(crate) struct JoinState<T> {
    pub(crate) result: Option<T>,
    pub(crate) waker: Option<Waker>,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.state.borrow().result.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.result.take() {
            Some(v) => Poll::Ready(v),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
