//! The runtime's platform as a Linux process.

use std::future::Future;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use oasis_abi::exit;
use oasis_runtime::Termination;

/// Bytes are handed to stdout once this many are buffered.
const CONSOLE_BUFFER: usize = 4096;

struct Unix {
    console: Mutex<Vec<u8>>,
}

static UNIX: Unix = Unix { console: Mutex::new(Vec::new()) };

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

impl Unix {
    fn flush(&self) {
        let mut buf = self.console.lock().unwrap_or_else(|e| e.into_inner());
        if !buf.is_empty() {
            let mut out = std::io::stdout().lock();
            // A closed stdout must not stop the program; there is nowhere to
            // report it either.
            let _ = out.write_all(&buf).and_then(|()| out.flush());
            buf.clear();
        }
    }
}

impl oasis_runtime::Platform for Unix {
    fn name(&self) -> &'static str {
        "unix"
    }

    fn monotonic_ns(&self) -> u64 {
        monotonic_ns()
    }

    fn wall_ns(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
    }

    fn console_write(&self, bytes: &[u8]) {
        let full = {
            let mut buf = self.console.lock().unwrap_or_else(|e| e.into_inner());
            buf.extend_from_slice(bytes);
            buf.len() >= CONSOLE_BUFFER
        };
        if full {
            self.flush();
        }
    }

    fn console_flush(&self) {
        self.flush();
    }

    fn wait(&self, deadline_ns: Option<u64>) -> u64 {
        self.flush();
        let timeout = deadline_ns.map(|d| {
            let ns = d.saturating_sub(monotonic_ns());
            libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            }
        });
        crate::reactor::poll(timeout.as_ref())
    }

    fn has_wakeable_devices(&self) -> bool {
        crate::reactor::has_sources()
    }

    fn exit(&self, status: u8) -> ! {
        self.flush();
        std::process::exit(i32::from(status))
    }

    fn abort(&self, message: &str) -> ! {
        self.flush();
        eprintln!("oasis-platform-unix: aborted: {message}");
        std::process::exit(i32::from(exit::ABORT))
    }
}

/// The process's arguments, kept for the life of the program.
fn arguments() -> Result<Vec<&'static str>, String> {
    std::env::args_os()
        .skip(1)
        .enumerate()
        .map(|(i, a)| {
            a.into_string()
                .map(|s| &*Box::leak(s.into_boxed_str()))
                .map_err(|a| format!("argument {} ({}) is not UTF-8", i + 1, a.to_string_lossy()))
        })
        .collect()
}

/// Runs the application's `main` as this process; called by the code
/// `#[oasis::main]` generates. Returns the exit status.
pub fn run<S, P, F, Fut, T>(setup: S, main: F) -> u8
where
    S: FnOnce(&mut Vec<&'static str>) -> Result<P, oasis_runtime::ArgError>,
    F: FnOnce(oasis_runtime::Os, P) -> Fut,
    Fut: Future<Output = T> + 'static,
    T: Termination,
{
    crate::fault::install();
    std::panic::set_hook(Box::new(|info| {
        UNIX.flush();
        let message = info.payload_as_str().unwrap_or("(no message)");
        match info.location() {
            Some(l) => {
                eprintln!(
                    "oasis-platform-unix: aborted: panicked at {}:{}:{}: {message}",
                    l.file(),
                    l.line(),
                    l.column()
                )
            }
            None => eprintln!("oasis-platform-unix: aborted: panicked: {message}"),
        }
        std::process::exit(i32::from(exit::ABORT));
    }));
    let args = match arguments() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("oasis-platform-unix: refused: {e}");
            return exit::REFUSED;
        }
    };
    let mut seed = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut seed) {
        eprintln!("oasis-platform-unix: refused: no entropy from getrandom: {e}");
        return exit::REFUSED;
    }
    let status = oasis_runtime::start(&UNIX, args, seed, setup, main);
    UNIX.flush();
    status
}
