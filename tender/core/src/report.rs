//! The end of a run: the one-line message, `--stats`, and the exit status.
//! Nothing here allocates: tenders call it from inside their sandbox.

use std::fmt::{self, Write};

use crate::memstat::MemoryReport;
use crate::stats::{Report, Stats};
use crate::stop::Stop;

struct Buffer {
    bytes: [u8; 1024],
    len: usize,
}

impl Write for Buffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes formatted text (at most 1 KiB) to stderr without allocating.
pub fn eprint(args: fmt::Arguments<'_>) {
    let mut buf = Buffer { bytes: [0; 1024], len: 0 };
    let _ = buf.write_fmt(args);
    let mut at = 0;
    while at < buf.len {
        // SAFETY: `buf.bytes[at..buf.len]` is live and initialised.
        let n = unsafe { libc::write(2, buf.bytes[at..].as_ptr().cast(), buf.len - at) };
        if n <= 0 {
            break;
        }
        at += n as usize;
    }
}

/// Prints why the guest stopped (nothing for a plain exit) as
/// `{tender}: {stop}`, then the counts when asked, then exits the process
/// with the stop's status without running `atexit` handlers (which might
/// make calls the sandbox forbids).
pub fn finish(tender: &str, stop: &Stop, stats: Option<(&Stats, &'static str, Option<MemoryReport>)>) -> ! {
    if !matches!(stop, Stop::Exit(_)) {
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
