//! The boundary between the runtime and whatever runs it.

/// What the runtime needs from a target. Implemented once per target
/// (`oasis-platform-tender` for hvt and spt, `oasis-platform-unix`) and by fakes in tests.
///
/// Implementations are single-threaded in practice but `Sync` so they can
/// sit in a `static`.
pub trait Platform: Sync + 'static {
    /// Short name of the target: `"hvt"`, `"spt"` or `"unix"`.
    fn name(&self) -> &'static str;

    /// Monotonic time in nanoseconds; never goes back.
    fn monotonic_ns(&self) -> u64;

    /// Wall-clock time in nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> u64;

    /// Append bytes to the console. May buffer; buffered bytes reach the
    /// console no later than the next [`Platform::wait`] or exit.
    fn console_write(&self, bytes: &[u8]);

    /// Send buffered console bytes now.
    fn console_flush(&self);

    /// Sleep until monotonic time `deadline_ns` (`None`: no deadline) or
    /// until a device has input; returns the set of ready device handles
    /// (bit `h` for handle `h`). Flushes the console first. May return
    /// early.
    fn wait(&self, deadline_ns: Option<u64>) -> u64;

    /// Whether something the platform tracks itself (host sockets on unix)
    /// could wake [`Platform::wait`] without a deadline. When nothing can —
    /// no timer, no device waiter, nothing here — the program is deadlocked
    /// and the runtime aborts instead of sleeping forever.
    fn has_wakeable_devices(&self) -> bool {
        false
    }

    /// Leave with `status`, flushing the console.
    fn exit(&self, status: u8) -> !;

    /// Leave abnormally with a message, flushing the console.
    fn abort(&self, message: &str) -> !;
}
