//! A `log` backend on the console.
//!
//! Lines look like `[    1.002003] INFO  www: listening on port 80`, the
//! time being seconds since boot. The level comes from the boot argument
//! `--log LEVEL` (`off`, `error`, `warn`, `info`, `debug`, `trace`;
//! default `info`), which the runtime takes before the application sees its
//! arguments.

use alloc::vec::Vec;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

use log::{LevelFilter, Log, Metadata, Record};

use crate::{ArgError, Machine};

struct ConsoleLogger {
    machine: spin::Once<&'static dyn Machine>,
    boot_ns: AtomicU64,
}

static LOGGER: ConsoleLogger = ConsoleLogger { machine: spin::Once::new(), boot_ns: AtomicU64::new(0) };

/// Installs the console logger at `level`. Later calls only change the level.
pub fn init(machine: &'static dyn Machine, level: LevelFilter) {
    LOGGER.machine.call_once(|| machine);
    // Fails only when another logger is installed; then that one stays.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

pub(crate) fn set_boot_time(ns: u64) {
    LOGGER.boot_ns.store(ns, Ordering::Relaxed);
}

/// Splits `--log LEVEL` / `--log=LEVEL` off `args`, in place.
pub fn take_log_arg(mut args: Vec<&'static str>) -> Result<(LevelFilter, Vec<&'static str>), ArgError> {
    let level = match crate::args::take_option(&mut args, "--log")? {
        Some(v) => parse_level(v)?,
        None => LevelFilter::Info,
    };
    Ok((level, args))
}

fn parse_level(v: &str) -> Result<LevelFilter, ArgError> {
    v.parse().map_err(|_| ArgError::Invalid {
        name: "--log",
        value: v.into(),
        reason: "expected off, error, warn, info, debug or trace".into(),
    })
}

struct MachineWriter(&'static dyn Machine);

impl Write for MachineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.console_write(s.as_bytes());
        Ok(())
    }
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(machine) = self.machine.get() else {
            return;
        };
        let since_boot = machine.monotonic_ns().saturating_sub(self.boot_ns.load(Ordering::Relaxed));
        let _ = writeln!(
            MachineWriter(*machine),
            "[{:5}.{:06}] {:<5} {}: {}",
            since_boot / 1_000_000_000,
            since_boot % 1_000_000_000 / 1000,
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {
        if let Some(machine) = self.machine.get() {
            machine.console_flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn strings(list: &[&'static str]) -> Vec<&'static str> {
        list.to_vec()
    }

    #[test]
    fn log_argument_is_taken() {
        let (level, rest) = take_log_arg(strings(&["a", "--log", "debug", "b"])).unwrap();
        assert_eq!(level, LevelFilter::Debug);
        assert_eq!(rest, vec!["a", "b"]);
        let (level, rest) = take_log_arg(strings(&["--log=off"])).unwrap();
        assert_eq!(level, LevelFilter::Off);
        assert!(rest.is_empty());
        let (level, _) = take_log_arg(Vec::new()).unwrap();
        assert_eq!(level, LevelFilter::Info);
    }

    #[test]
    fn bad_log_argument_names_itself() {
        let err = take_log_arg(strings(&["--log", "loud"])).unwrap_err();
        assert!(err.to_string().starts_with("--log: invalid value 'loud'"));
        assert_eq!(take_log_arg(strings(&["--log"])).unwrap_err(), ArgError::MissingValue("--log"));
    }
}
