//! The end of a run: the one-line message, `--stats`, and the exit status.
//! Nothing here allocates: tenders call it from inside their sandbox.

use crate::memstat::MemoryReport;
use crate::stats::{Report, Stats};
use crate::stop::Stop;

/// Writes formatted text (at most 1 KiB) to stderr without allocating.
pub use oasis_sys::eprint;

/// Prints why the guest stopped (nothing for a plain exit) as
/// `{tender}: {stop}`, then the counts when asked, then exits the process
/// with the stop's status without running `atexit` handlers (which might
/// make calls the sandbox forbids).
pub fn finish(tender: &str, stop: &Stop, stats: Option<(&Stats, &'static str, Option<MemoryReport>)>) -> ! {
    // The supervisor says why it asked, in its own line.
    if !matches!(stop, Stop::Exit(_) | Stop::Asked) {
        eprint(format_args!("{tender}: {stop}\n"));
    }
    if let Some((stats, label, memory)) = stats {
        if let Some(m) = memory {
            eprint(format_args!("peak-rss-kib: {}\nguest-touched-kib: {}\n", m.peak_rss_kib, m.guest_touched_kib));
        }
        eprint(format_args!("{}", Report { stats, label }));
    }
    // SAFETY: _exit ends the process at once; nothing is left to clean up.
    unsafe { libc::_exit(i32::from(stop.status())) }
}
