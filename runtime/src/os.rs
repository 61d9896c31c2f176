//! The handle an application gets in `main`.

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;
use core::future::Future;

use crate::args::Args;
use crate::executor::{JoinHandle, JoinState, Shared};
use crate::time::{Duration, Idle, Instant, Sleep, Timeout, YieldNow};

/// The application's view of the machine: time, timers, tasks, console,
/// randomness and boot arguments. Cheap to clone; every clone is the same
/// runtime. Not `Send`: the runtime is single-threaded.
#[derive(Clone)]
pub struct Os {
    pub(crate) shared: Rc<Shared>,
}

impl fmt::Debug for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Os").field("machine", &self.shared.machine.name()).finish()
    }
}

impl Os {
    pub(crate) fn from_shared(shared: Rc<Shared>) -> Os {
        Os { shared }
    }

    /// The target this program runs on: `"hvt"`, `"spt"` or `"unix"`.
    pub fn platform_name(&self) -> &'static str {
        self.shared.machine.name()
    }

    /// The boot arguments meant for the application.
    pub fn args(&self) -> &Args {
        &self.shared.args
    }

    /// Monotonic time now.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.shared.machine.monotonic_ns())
    }

    /// Time since the runtime started.
    pub fn uptime(&self) -> Duration {
        self.now().saturating_duration_since(Instant::from_nanos(self.shared.boot_ns))
    }

    /// Wall-clock time in nanoseconds since the Unix epoch.
    pub fn wall_clock_ns(&self) -> u64 {
        self.shared.machine.wall_ns()
    }

    /// A future that completes `duration` from now.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now().saturating_add(duration))
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(self.shared.clone(), deadline)
    }

    /// Runs `future` for at most `duration`; `Err(Elapsed)` when time ran
    /// out first (the future is then dropped).
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout::new(future, self.sleep(duration))
    }

    /// Gives other ready tasks a turn.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow::default()
    }

    /// Completes once every other task is waiting and the input already
    /// at the devices has been taken in: the moment to do work that should
    /// cover everything the current burst of input brought (a group
    /// commit's flush). Unlike [`Os::yield_now`], it lets the network be
    /// read first.
    pub fn idle(&self) -> Idle {
        Idle::new(self.shared.clone())
    }

    /// Starts `future` as a task of its own.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let state = Rc::new(RefCell::new(JoinState { result: None, waker: None }));
        let task_state = state.clone();
        self.shared.spawn_task(Box::pin(async move {
            let value = future.await;
            let mut s = task_state.borrow_mut();
            s.result = Some(value);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }));
        JoinHandle { state }
    }

    /// The console, for `write!`/`writeln!`.
    pub fn console(&self) -> Console {
        Console { machine: self.shared.machine }
    }

    /// Writes formatted text to the console.
    pub fn print(&self, args: fmt::Arguments<'_>) {
        let _ = fmt::Write::write_fmt(&mut self.console(), args);
    }

    /// Fills `buf` from the CSPRNG.
    pub fn fill_random(&self, buf: &mut [u8]) {
        self.shared.rng.borrow_mut().fill(buf);
    }

    /// A random `u64` from the CSPRNG.
    pub fn random_u64(&self) -> u64 {
        self.shared.rng.borrow_mut().next_u64()
    }

    /// Leaves now with `status`, without running other tasks further.
    pub fn exit(&self, status: u8) -> ! {
        self.shared.machine.exit(status)
    }

    /// Gives up: the tender prints `message` and exits with status 255.
    pub fn abort(&self, message: &str) -> ! {
        self.shared.machine.abort(message)
    }
}

/// The console as a [`fmt::Write`] sink. Output is buffered by the
/// machine and flushed before the program sleeps or exits.
#[derive(Clone, Copy)]
pub struct Console {
    machine: &'static dyn crate::Machine,
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Console")
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.machine.console_write(s.as_bytes());
        Ok(())
    }
}

impl Console {
    /// Writes raw bytes.
    pub fn write_bytes(&self, bytes: &[u8]) {
        self.machine.console_write(bytes);
    }

    /// Hands what is buffered to the console now: for a line that must be
    /// out before the program goes on (a progress report a test reads
    /// while it runs).
    pub fn flush(&self) {
        self.machine.console_flush();
    }
}

impl crate::random::Random for Os {
    fn fill(&self, buf: &mut [u8]) {
        self.fill_random(buf);
    }

    fn next_u64(&self) -> u64 {
        self.random_u64()
    }
}
