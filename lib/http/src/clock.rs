//! Time, as the connection loop needs it: a monotonic clock to set
//! deadlines, the wall clock for `Date`, and a way to sleep. Protocol code
//! is handed the time; only the loop asks.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

/// A clock and a timer. Cheap to clone; clones are the same clock.
#[allow(async_fn_in_trait)]
pub trait Clock: Clone {
    /// Monotonic time in nanoseconds; never goes back.
    fn now_ns(&self) -> u64;

    /// Wall-clock time in nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> u64;

    /// Completes at `deadline` (monotonic nanoseconds).
    async fn sleep_until_ns(&self, deadline: u64);
}

/// `future` ran past its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Runs `future` until `deadline`: its output, or [`TimedOut`] (the
/// future is then dropped). A future ready at once never arms the timer.
pub async fn with_deadline<K: Clock, F: Future>(clock: &K, deadline: u64, future: F) -> Result<F::Output, TimedOut> {
    let mut future = pin!(future);
    let mut sleep = pin!(clock.sleep_until_ns(deadline));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(TimedOut));
        }
        Poll::Pending
    })
    .await
}

#[cfg(feature = "oasis")]
impl Clock for oasis_runtime::Os {
    fn now_ns(&self) -> u64 {
        self.now().as_nanos()
    }

    fn wall_ns(&self) -> u64 {
        self.wall_clock_ns()
    }

    async fn sleep_until_ns(&self, deadline: u64) {
        self.sleep_until(oasis_runtime::Instant::from_nanos(deadline)).await;
    }
}
