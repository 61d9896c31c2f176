//! [`Platform`] as a Linux process.

use std::future::Future;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use oasis_abi::exit;
use oasis_net::NetConfig;
use oasis_platform::{ArgError, Declared, DeviceSetupError, Machine, Os, Platform, Termination};

use crate::block::FileBlock;

/// Bytes are handed to stdout once this many are buffered.
const CONSOLE_BUFFER: usize = 4096;

/// A Linux process: the host's clocks, stdout, sockets or a TAP, files.
#[derive(Debug)]
pub struct Unix {
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

impl Machine for Unix {
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

    fn wait(&self, deadline_ns: Option<u64>) {
        self.flush();
        let timeout = deadline_ns.map(|d| {
            let ns = d.saturating_sub(monotonic_ns());
            libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            }
        });
        crate::reactor::poll(timeout.as_ref());
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
        eprintln!("oasis-unix: aborted: {message}");
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

/// What a net device becomes: the host's sockets, or with the `tap`
/// feature the unikernel's own stack on a TAP device.
#[cfg(not(feature = "tap"))]
type NetStack = crate::net::HostStack;
#[cfg(feature = "tap")]
type NetStack = oasis_net::SmolStack<crate::net::TapNet>;

/// A net device's boot arguments.
#[derive(Debug)]
#[cfg_attr(not(feature = "tap"), allow(dead_code))]
pub struct NetSetup {
    name: &'static str,
    config: NetConfig,
    /// `--net NAME=TAP` (the `tap` feature).
    tap: Option<&'static str>,
    /// `--net-mac:NAME=MAC` (the `tap` feature).
    mac: Option<[u8; 6]>,
}

impl Platform for Unix {
    type Net = NetStack;
    type Block = FileBlock;
    type NetSetup = NetSetup;
    /// The device's name and the file bound to it (`--block NAME=FILE`).
    type BlockSetup = (&'static str, Option<&'static str>);

    fn instance() -> &'static Unix {
        &UNIX
    }

    fn take_net_args(device: Declared, args: &mut Vec<&'static str>) -> Result<NetSetup, ArgError> {
        let config = NetConfig::take_from_args(args)?;
        let (tap, mac) = if cfg!(feature = "tap") {
            let tap = take_binding(args, "--net", device.name);
            let mac = match take_binding(args, "--net-mac", device.name) {
                None => None,
                Some(v) => Some(crate::net::parse_mac(v).map_err(|reason| ArgError::Invalid {
                    name: "--net-mac",
                    value: v.into(),
                    reason,
                })?),
            };
            (tap, mac)
        } else {
            (None, None)
        };
        Ok(NetSetup { name: device.name, config, tap, mac })
    }

    #[cfg(not(feature = "tap"))]
    fn open_net(&'static self, _os: &Os, setup: NetSetup) -> Result<NetStack, DeviceSetupError> {
        if setup.config != NetConfig::default() {
            log::warn!(
                "net '{}': the host-socket stack uses the host's addresses; network options are ignored",
                setup.name
            );
        }
        Ok(crate::net::HostStack)
    }

    #[cfg(feature = "tap")]
    fn open_net(&'static self, os: &Os, setup: NetSetup) -> Result<NetStack, DeviceSetupError> {
        let Some(tap) = setup.tap else {
            return Err(DeviceSetupError {
                device: setup.name,
                why: format!("bind it to a TAP device: --net {}=TAP", setup.name),
            });
        };
        let device = crate::net::TapNet::open(tap, setup.name, setup.mac)
            .map_err(|e| DeviceSetupError { device: setup.name, why: e.to_string() })?;
        Ok(oasis_net::SmolStack::new(os, device, setup.config))
    }

    fn take_block_args(device: Declared, args: &mut Vec<&'static str>) -> Result<Self::BlockSetup, ArgError> {
        Ok((device.name, take_binding(args, "--block", device.name)))
    }

    fn open_block(&'static self, _os: &Os, (name, file): Self::BlockSetup) -> Result<FileBlock, DeviceSetupError> {
        let Some(file) = file else {
            return Err(DeviceSetupError { device: name, why: format!("bind it to a file: --block {name}=FILE") });
        };
        FileBlock::open(file).map_err(|why| DeviceSetupError { device: name, why: format!("{file}: {why}") })
    }

    fn boot<S, P, F, Fut, T>(setup: S, main: F) -> u8
    where
        S: FnOnce(&mut Vec<&'static str>) -> Result<P, ArgError>,
        F: FnOnce(Os, P) -> Fut,
        Fut: Future<Output = T> + 'static,
        T: Termination,
    {
        crate::fault::install();
        std::panic::set_hook(Box::new(|info| {
            UNIX.flush();
            let message = info.payload_as_str().unwrap_or("(no message)");
            match info.location() {
                Some(l) => {
                    eprintln!("oasis-unix: aborted: panicked at {}:{}:{}: {message}", l.file(), l.line(), l.column())
                }
                None => eprintln!("oasis-unix: aborted: panicked: {message}"),
            }
            std::process::exit(i32::from(exit::ABORT));
        }));
        let args = match arguments() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("oasis-unix: refused: {e}");
                return exit::REFUSED;
            }
        };
        let mut seed = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut seed) {
            eprintln!("oasis-unix: refused: no entropy from getrandom: {e}");
            return exit::REFUSED;
        }
        let status = oasis_runtime::start(&UNIX, args, seed, setup, main);
        UNIX.flush();
        status
    }
}

/// Takes device `name`'s binding for `option` (`--net`) out of `args`:
/// `--net NAME=VALUE` or `--net=NAME=VALUE`, as the tenders spell it, or
/// Solo5's `--net:NAME=VALUE`. Bindings of other devices stay.
fn take_binding(args: &mut Vec<&'static str>, option: &str, name: &str) -> Option<&'static str> {
    let value_of = |a: &'static str| a.strip_prefix(name).and_then(|r| r.strip_prefix('='));
    for at in 0..args.len() {
        let arg = args[at];
        if arg == "--" {
            return None;
        }
        let joined = arg.strip_prefix(option).and_then(|r| r.strip_prefix([':', '='])).and_then(value_of);
        if let Some(value) = joined {
            args.remove(at);
            return Some(value);
        }
        if arg == option
            && let Some(value) = args.get(at + 1).copied().and_then(value_of)
        {
            args.drain(at..at + 2);
            return Some(value);
        }
    }
    None
}

/// The entry `#[oasis::main]` gives a unix program: its `main`.
#[macro_export]
#[doc(hidden)]
macro_rules! entry {
    ($run:expr) => {
        fn main() {
            ::std::process::exit(i32::from($run))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::take_binding;

    #[test]
    fn bindings_in_every_spelling() {
        let mut args = vec![
            "--net",
            "front=tap0",
            "--net:back=tap1",
            "--net=side=tap2",
            "--net-mac:front=02:00:00:00:00:01",
            "--block",
            "other=x",
            "--port",
            "80",
        ];
        assert_eq!(take_binding(&mut args, "--net", "back"), Some("tap1"));
        assert_eq!(take_binding(&mut args, "--net", "front"), Some("tap0"));
        assert_eq!(take_binding(&mut args, "--net", "side"), Some("tap2"));
        assert_eq!(take_binding(&mut args, "--net", "front"), None);
        assert_eq!(take_binding(&mut args, "--net-mac", "front"), Some("02:00:00:00:00:01"));
        assert_eq!(take_binding(&mut args, "--block", "storage"), None);
        assert_eq!(args, ["--block", "other=x", "--port", "80"]);
    }
}
