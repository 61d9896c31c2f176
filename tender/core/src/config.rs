//! The raw tenders' command line:
//! `IMAGE [--mem=SIZE] [--timeout=DURATION] [--stats] [--net:NAME=TAP]…
//! [--block:NAME=FILE]… [-- ARGS…]`.
//!
//! Parsed by hand rather than with `clap` because device bindings are
//! options whose names carry the device's name (`--net:service=tap0`), the
//! way Solo5's tenders spell them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use oasis_abi::DeviceKind;
use oasis_abi::layout::{DEFAULT_MEM_SIZE, MAX_MEM_SIZE, MIN_MEM_SIZE, PAGE_SIZE};
use oasis_abi::manifest::valid_name;

use crate::manifest::Manifest;

/// A tender's options, one line each, for `--help` and error messages.
pub const OPTIONS_HELP: &str = "\
  --mem=SIZE              guest memory (default 32M; K, M, G suffixes; 2M to 4G)
  --timeout=DURATION      stop the guest after this long (e.g. 500ms, 10s, 2m)
  --stats                 print hypercall and exit counts when the guest ends
  --console-limit=SIZE    relay at most SIZE bytes of console output in all,
                          dropping the rest (default 1G; 0: no limit)
  --print-filter          print the seccomp filter the guest would run under
                          (each rule with what it serves) and exit
  --net:NAME=TAP          bind the image's network device NAME to a TAP device
  --net-mac:NAME=MAC      its MAC address (default: derived from NAME and TAP)
  --net-faults:NAME=SPEC  drop, duplicate, reorder its frames, for testing:
                          loss=5%,dup=1%,reorder=1%,seed=7
  --no-net-offload        plain frames on every TAP (no 64 KiB TCP segments
                          or checksum offload), for comparison
  --block:NAME=FILE       bind the image's block device NAME to a file
  -- ARGS...              everything after -- is passed to the guest";

/// A host resource bound to a declared device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The device's kind.
    pub kind: DeviceKind,
    /// The device's name in the manifest.
    pub name: String,
    /// The host resource: a TAP name, a file path.
    pub value: String,
}

/// Everything a tender was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenderArgs {
    /// The image to run.
    pub image: PathBuf,
    /// Guest memory in bytes.
    pub mem: u64,
    /// Stop the guest after this long.
    pub timeout: Option<Duration>,
    /// Print counts at the end.
    pub stats: bool,
    /// Device bindings, in the order given.
    pub bindings: Vec<Binding>,
    /// MAC addresses for network devices (`--net-mac:NAME=MAC`).
    pub macs: Vec<(String, [u8; 6])>,
    /// Faulty links (`--net-faults:NAME=loss=5%,…`).
    pub faults: Vec<(String, crate::faults::FaultSpec)>,
    /// Plain frames even for net devices that can take offloaded ones
    /// (`--no-net-offload`).
    pub no_offload: bool,
    /// Relay at most this many bytes of console output (`None`: no limit).
    pub console_limit: Option<u64>,
    /// Print the sandbox's rules instead of running.
    pub print_filter: bool,
    /// Arguments for the guest.
    pub guest_args: Vec<String>,
}

/// The console limit when none is given: 1 GiB, enough for any log a
/// demo or test writes, and a bound on what a runaway guest can write into
/// a file on the host.
pub const DEFAULT_CONSOLE_LIMIT: u64 = 1 << 30;

/// A bad command line; the message names the argument.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// No image given.
    #[error("missing IMAGE")]
    MissingImage,
    /// Two images given.
    #[error("unexpected argument '{0}' (only one IMAGE; pass guest arguments after --)")]
    Extra(String),
    /// An option this tender does not know.
    #[error("unknown option '{0}'")]
    Unknown(String),
    /// An option without its value.
    #[error("{0}: missing value")]
    MissingValue(&'static str),
    /// A bad value.
    #[error("{option}: invalid value '{value}': {why}")]
    Invalid {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        why: String,
    },
    /// An option given twice.
    #[error("{0}: given more than once")]
    Repeated(String),
    /// An argument that is not UTF-8.
    #[error("argument '{0}' is not valid UTF-8")]
    NotUtf8(String),
}

/// Parses a size: bytes, or a number with `K`, `M`, `G` (powers of 1024,
/// optionally `KiB`, `MiB`, `GiB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err("expected a number, optionally followed by K, M or G".into());
    }
    let n: u64 = digits.parse().map_err(|_| "number too large".to_string())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(format!("unknown unit '{unit}' (use K, M or G)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| "number too large".to_string())
}

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (plain numbers
/// are seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| "expected a number followed by ms, s, m or h".to_string())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("unknown unit '{unit}' (use ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

/// Parses a guest memory size (`--mem`): a size from 2M to 4G, a whole
/// number of pages. `oasis run` checks its `--mem` with it before building.
pub fn parse_mem(value: &str) -> Result<u64, String> {
    let mem = parse_size(value)?;
    if !(MIN_MEM_SIZE..=MAX_MEM_SIZE).contains(&mem) {
        return Err("must be between 2M and 4G".into());
    }
    if mem % PAGE_SIZE != 0 {
        return Err("must be a multiple of 4K".into());
    }
    Ok(mem)
}

fn check_mem(option: &str, value: &str) -> Result<u64, ArgsError> {
    parse_mem(value).map_err(|why| ArgsError::Invalid { option: option.into(), value: value.into(), why })
}

impl TenderArgs {
    /// Parses the arguments that follow the tender's name.
    pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<TenderArgs, ArgsError> {
        let mut image = None;
        let mut mem = None;
        let mut timeout = None;
        let mut stats = false;
        let mut no_offload = false;
        let mut print_filter = false;
        let mut console_limit = None;
        let mut bindings: Vec<Binding> = Vec::new();
        let mut macs: Vec<(String, [u8; 6])> = Vec::new();
        let mut faults: Vec<(String, crate::faults::FaultSpec)> = Vec::new();
        let mut guest_args = Vec::new();
        let mut it =
            args.into_iter().map(|a| a.into_string().map_err(|a| ArgsError::NotUtf8(a.to_string_lossy().into_owned())));
        while let Some(arg) = it.next() {
            let arg = arg?;
            if arg == "--" {
                for rest in it.by_ref() {
                    guest_args.push(rest?);
                }
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                if image.is_some() {
                    return Err(ArgsError::Extra(arg));
                }
                image = Some(PathBuf::from(arg));
                continue;
            }
            let (option, inline_value) = match arg.split_once('=') {
                Some((o, v)) => (o.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let mut value = |name: &'static str| -> Result<String, ArgsError> {
                match inline_value.clone() {
                    Some(v) => Ok(v),
                    None => it.next().ok_or(ArgsError::MissingValue(name))?,
                }
            };
            match option.as_str() {
                "--mem" => {
                    if mem.is_some() {
                        return Err(ArgsError::Repeated(option));
                    }
                    mem = Some(check_mem("--mem", &value("--mem")?)?);
                }
                "--timeout" => {
                    if timeout.is_some() {
                        return Err(ArgsError::Repeated(option));
                    }
                    let v = value("--timeout")?;
                    timeout = Some(parse_duration(&v).map_err(|why| ArgsError::Invalid { option, value: v, why })?);
                }
                "--stats" => {
                    if inline_value.is_some() {
                        return Err(ArgsError::Invalid {
                            option,
                            value: inline_value.unwrap_or_default(),
                            why: "takes no value".into(),
                        });
                    }
                    stats = true;
                }
                "--no-net-offload" | "--print-filter" => {
                    if inline_value.is_some() {
                        return Err(ArgsError::Invalid {
                            option,
                            value: inline_value.unwrap_or_default(),
                            why: "takes no value".into(),
                        });
                    }
                    if option == "--print-filter" {
                        print_filter = true;
                    } else {
                        no_offload = true;
                    }
                }
                "--console-limit" => {
                    if console_limit.is_some() {
                        return Err(ArgsError::Repeated(option));
                    }
                    let v = value("--console-limit")?;
                    let limit = parse_size(&v).map_err(|why| ArgsError::Invalid { option, value: v, why })?;
                    console_limit = Some(limit);
                }
                _ if option.starts_with("--net-faults:") => {
                    let name = &option["--net-faults:".len()..];
                    let v = inline_value.clone().unwrap_or_default();
                    let spec = crate::faults::FaultSpec::parse(&v).map_err(|why| ArgsError::Invalid {
                        option: option.clone(),
                        value: v,
                        why,
                    })?;
                    if faults.iter().any(|(n, _)| n == name) {
                        return Err(ArgsError::Repeated(option));
                    }
                    faults.push((name.into(), spec));
                }
                _ if option.starts_with("--net-mac:") => {
                    let name = &option["--net-mac:".len()..];
                    let v = inline_value.clone().unwrap_or_default();
                    let mac = oasis_tap::parse_mac(&v).map_err(|why| ArgsError::Invalid {
                        option: option.clone(),
                        value: v,
                        why,
                    })?;
                    if macs.iter().any(|(n, _)| n == name) {
                        return Err(ArgsError::Repeated(option));
                    }
                    macs.push((name.into(), mac));
                }
                _ => {
                    let Some((kind, name)) = option
                        .strip_prefix("--net:")
                        .map(|n| (DeviceKind::Net, n))
                        .or_else(|| option.strip_prefix("--block:").map(|n| (DeviceKind::Block, n)))
                    else {
                        return Err(ArgsError::Unknown(arg));
                    };
                    if !valid_name(name.as_bytes()) {
                        return Err(ArgsError::Invalid {
                            option: option.clone(),
                            value: name.into(),
                            why: "device names are 1 to 31 of [a-z0-9_-], starting with a letter".into(),
                        });
                    }
                    let Some(v) = inline_value.clone().filter(|v| !v.is_empty()) else {
                        return Err(ArgsError::Invalid {
                            option: option.clone(),
                            value: String::new(),
                            why: format!("expected {option}={}", if kind == DeviceKind::Net { "TAP" } else { "FILE" }),
                        });
                    };
                    if bindings.iter().any(|b| b.name == name) {
                        return Err(ArgsError::Repeated(option));
                    }
                    bindings.push(Binding { kind, name: name.into(), value: v });
                }
            }
        }
        let unbound = |n: &String| !bindings.iter().any(|b| b.kind == DeviceKind::Net && b.name == *n);
        if let Some((name, _)) = faults.iter().find(|(n, _)| unbound(n)) {
            return Err(ArgsError::Invalid {
                option: format!("--net-faults:{name}"),
                value: String::new(),
                why: format!("no --net:{name}=TAP binding to give it to"),
            });
        }
        if let Some((name, _)) = macs.iter().find(|(n, _)| unbound(n)) {
            return Err(ArgsError::Invalid {
                option: format!("--net-mac:{name}"),
                value: String::new(),
                why: format!("no --net:{name}=TAP binding to give it to"),
            });
        }
        Ok(TenderArgs {
            image: image.ok_or(ArgsError::MissingImage)?,
            mem: mem.unwrap_or(DEFAULT_MEM_SIZE),
            timeout,
            stats,
            console_limit: match console_limit {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(DEFAULT_CONSOLE_LIMIT),
            },
            print_filter,
            bindings,
            macs,
            faults,
            no_offload,
            guest_args,
        })
    }
}

/// A binding that does not match the manifest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindError {
    /// A declared device nobody bound.
    #[error("the image declares {kind} device '{name}' but it is not bound: add --{kind}:{name}=…")]
    Unbound {
        /// `"net"` or `"block"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A binding for a device the image does not declare.
    #[error("--{kind}:{name}: the image declares no {kind} device named '{name}'")]
    Undeclared {
        /// `"net"` or `"block"`.
        kind: &'static str,
        /// The name given.
        name: String,
    },
}

/// Matches bindings to the manifest: every declared device bound, every
/// binding declared. Returns the bindings in handle order.
pub fn bind(manifest: &Manifest, bindings: &[Binding]) -> Result<Vec<Binding>, BindError> {
    for b in bindings {
        if !manifest.devices.iter().any(|d| d.name == b.name && d.kind == b.kind) {
            return Err(BindError::Undeclared { kind: b.kind.as_str(), name: b.name.clone() });
        }
    }
    manifest
        .devices
        .iter()
        .map(|d| {
            bindings
                .iter()
                .find(|b| b.name == d.name)
                .cloned()
                .ok_or_else(|| BindError::Unbound { kind: d.kind.as_str(), name: d.name.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Device;

    fn parse(args: &[&str]) -> Result<TenderArgs, ArgsError> {
        TenderArgs::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn full_command_line() {
        let a = parse(&["img", "--mem=64M", "--timeout", "5s", "--stats", "--net:service=tap0", "--", "--ticks", "0"])
            .unwrap();
        assert_eq!(a.image, PathBuf::from("img"));
        assert_eq!(a.mem, 64 << 20);
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert!(a.stats);
        assert_eq!(a.bindings, vec![Binding { kind: DeviceKind::Net, name: "service".into(), value: "tap0".into() }]);
        assert_eq!(a.guest_args, vec!["--ticks", "0"]);
        let m = parse(&["img", "--net:service=tap0", "--net-mac:service=02:00:00:00:00:01"]).unwrap();
        assert_eq!(m.macs, vec![("service".to_string(), [2, 0, 0, 0, 0, 1])]);
        assert!(
            parse(&["img", "--net-mac:service=02:00:00:00:00:01"])
                .unwrap_err()
                .to_string()
                .contains("no --net:service=TAP binding")
        );
        assert!(parse(&["img", "--net:service=tap0", "--net-mac:service=01:00:00:00:00:01"]).is_err());
        assert_eq!(parse(&["img"]).unwrap().mem, DEFAULT_MEM_SIZE);
    }

    #[test]
    fn errors_name_the_argument() {
        let msg = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert_eq!(msg(&[]), "missing IMAGE");
        assert_eq!(
            msg(&["img", "--mem=lots"]),
            "--mem: invalid value 'lots': expected a number, optionally followed by K, M or G"
        );
        assert_eq!(msg(&["img", "--mem=1M"]), "--mem: invalid value '1M': must be between 2M and 4G");
        assert_eq!(msg(&["img", "--mem=8G"]), "--mem: invalid value '8G': must be between 2M and 4G");
        assert_eq!(msg(&["img", "--mem=3000001"]), "--mem: invalid value '3000001': must be a multiple of 4K");
        assert_eq!(msg(&["img", "--mem"]), "--mem: missing value");
        assert_eq!(msg(&["img", "--bogus"]), "unknown option '--bogus'");
        assert_eq!(
            msg(&["img", "other"]),
            "unexpected argument 'other' (only one IMAGE; pass guest arguments after --)"
        );
        assert_eq!(msg(&["img", "--timeout=0s"]), "--timeout: invalid value '0s': must be more than zero");
        assert_eq!(
            msg(&["img", "--net:Bad=tap0"]),
            "--net:Bad: invalid value 'Bad': device names are 1 to 31 of [a-z0-9_-], starting with a letter"
        );
        assert_eq!(msg(&["img", "--net:a=x", "--block:a=y"]), "--block:a: given more than once");
        assert_eq!(msg(&["img", "--net:a"]), "--net:a: invalid value '': expected --net:a=TAP");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("1T").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn binding_against_the_manifest() {
        let m = Manifest { devices: vec![Device { kind: DeviceKind::Net, name: "service".into(), flags: 0 }] };
        let ok = Binding { kind: DeviceKind::Net, name: "service".into(), value: "tap0".into() };
        assert_eq!(bind(&m, std::slice::from_ref(&ok)), Ok(vec![ok.clone()]));
        assert_eq!(
            bind(&m, &[]).unwrap_err().to_string(),
            "the image declares net device 'service' but it is not bound: add --net:service=…"
        );
        let stray = Binding { kind: DeviceKind::Block, name: "service".into(), value: "f".into() };
        assert_eq!(
            bind(&m, &[ok, stray]).unwrap_err().to_string(),
            "--block:service: the image declares no block device named 'service'"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(args in proptest::collection::vec("[-a-z:=0-9KMG]{0,12}", 0..6)) {
            let _ = TenderArgs::parse(args.into_iter().map(OsString::from));
        }
    }
}
