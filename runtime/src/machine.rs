//! The boundary between the runtime and the machine it runs on.

/// What the runtime needs from the machine under it: clocks, a console, a
/// way to sleep until something happens, and a way out. Every platform
/// implements it (as part of `oasis_platform::Platform`), and tests use
/// fakes.
///
/// Devices are not part of it: each device driver owns its readiness (it
/// keeps the wakers of the tasks waiting on it), and the machine only
/// delivers the news to it while it waits. Implementations are
/// single-threaded in practice but `Sync` so they can sit in a `static`.
pub trait Machine: Sync + 'static {
    /// Short name of the target: `"hvt"`, `"spt"`, `"unix"`…
    fn name(&self) -> &'static str;

    /// Monotonic time in nanoseconds; never goes back.
    fn monotonic_ns(&self) -> u64;

    /// Wall-clock time in nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> u64;

    /// Append bytes to the console. May buffer; buffered bytes reach the
    /// console no later than the next [`Machine::wait`] or exit.
    fn console_write(&self, bytes: &[u8]);

    /// Send buffered console bytes now.
    fn console_flush(&self);

    /// Sleeps until monotonic time `deadline_ns` (`None`: no deadline) or
    /// until a device has news, and wakes the tasks waiting on the devices
    /// that have news. Flushes the console first. May return early.
    fn wait(&self, deadline_ns: Option<u64>);

    /// Whether a device could wake [`Machine::wait`] without a deadline (a
    /// task waits on one). When nothing can — no timer, no waiting device
    /// — the program is deadlocked and the runtime aborts instead of
    /// sleeping forever.
    fn has_wakeable_devices(&self) -> bool;

    /// Leave with `status`, flushing the console.
    fn exit(&self, status: u8) -> !;

    /// Leave abnormally with a message, flushing the console.
    fn abort(&self, message: &str) -> !;
}
