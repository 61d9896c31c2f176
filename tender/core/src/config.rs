//! The raw tenders' command line:
//! `IMAGE [--mem SIZE] [--timeout DURATION] [--stats] [--net NAME=TAP]…
//! [--block NAME=FILE]… [-- ARGS…]`, parsed by `clap` like the rest of the
//! `oasis` command, so `oasis spt --help` and `oasis help spt` are one text
//! and the options are spelled as `oasis run` spells them.
//!
//! Solo5's spelling, with the device's name inside the option
//! (`--net:service=tap0`, `--block:storage=disk.img`, and ours
//! `--net-mac:NAME=MAC`, `--net-faults:NAME=SPEC`), is kept as an alias:
//! it is rewritten to the two-word form before `clap` sees it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches};
use oasis_abi::DeviceKind;
use oasis_abi::layout::{MAX_MEM_SIZE, MIN_MEM_SIZE, PAGE_SIZE};
use oasis_abi::manifest::valid_name;

use crate::faults::FaultSpec;
use crate::manifest::Manifest;

/// A tender's options as the command line gives them; [`TenderArgs`] is
/// what they resolve to. `oasis` lists them under `oasis help spt`.
#[derive(Args, Clone, Debug)]
pub struct TenderOptions {
    /// The guest image to run
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// Guest memory: K, M, G suffixes, 2M to 4G, a multiple of 4K
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_MEM_TEXT, value_parser = parse_mem)]
    pub mem: u64,
    /// Stop the guest after this long: ms, s, m or h (e.g. 500ms, 10s, 2m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Print hypercall and exit counts when the guest ends
    #[arg(long)]
    pub stats: bool,
    /// Relay at most SIZE bytes of console output in all, dropping the rest (0: no limit)
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub console_limit: u64,
    /// Print the seccomp filter the guest would run under (each rule with
    /// what it serves) and exit
    #[arg(long)]
    pub print_filter: bool,
    /// Bind the image's network device NAME to the existing TAP device TAP (repeatable)
    #[arg(long = "net", value_name = "NAME=TAP", value_parser = parse_net)]
    pub net: Vec<(String, String)>,
    /// The MAC address of net device NAME [default: derived from NAME and its TAP]
    #[arg(long = "net-mac", value_name = "NAME=MAC", value_parser = parse_net_mac)]
    pub net_mac: Vec<(String, [u8; 6])>,
    /// Drop, duplicate and reorder net device NAME's frames, for testing:
    /// SPEC is e.g. loss=5%,dup=1%,reorder=1%,seed=7
    #[arg(long = "net-faults", value_name = "NAME=SPEC", value_parser = parse_net_faults)]
    pub net_faults: Vec<(String, FaultSpec)>,
    /// Plain frames on every TAP (no 64 KiB TCP segments or checksum offload), for comparison
    #[arg(long)]
    pub no_net_offload: bool,
    /// Bind the image's block device NAME to FILE (repeatable)
    #[arg(long = "block", value_name = "NAME=FILE", value_parser = parse_block)]
    pub block: Vec<(String, String)>,
    /// Arguments for the guest
    #[arg(last = true, value_name = "ARGS")]
    pub guest_args: Vec<String>,
}

/// `--mem`'s default as the help shows it; a test ties it to
/// [`oasis_abi::layout::DEFAULT_MEM_SIZE`].
const DEFAULT_MEM_TEXT: &str = "32M";

/// What the help adds below the options.
pub const AFTER_HELP: &str = "\
Solo5's spelling is accepted too: --net:NAME=TAP, --block:NAME=FILE,
--net-mac:NAME=MAC, --net-faults:NAME=SPEC.
Exit status: the guest's own; 255 when it aborted or panicked, 254 when the
tender stopped it (a fault, a broken ABI rule, a forbidden system call, the
timeout, a signal), 253 when the tender refused to start it.";

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
    /// MAC addresses for network devices (`--net-mac NAME=MAC`).
    pub macs: Vec<(String, [u8; 6])>,
    /// Faulty links (`--net-faults NAME=loss=5%,…`).
    pub faults: Vec<(String, FaultSpec)>,
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

/// A command line the tender will not run, or a request for its help.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// `--help`: not a mistake; the text to print.
    #[error("{0}")]
    Help(String),
    /// What `clap` found wrong, in its words: it names the argument.
    #[error("{0}")]
    Invalid(String),
    /// One device name bound twice.
    #[error("--{kind} {name}=…: device '{name}' is bound more than once")]
    Repeated {
        /// `"net"` or `"block"`.
        kind: &'static str,
        /// The device's name.
        name: String,
    },
    /// A net option for a device no `--net` binds.
    #[error("--{option} {name}=…: no --net {name}=TAP binding to give it to")]
    NoNetBinding {
        /// `"net-mac"` or `"net-faults"`.
        option: &'static str,
        /// The device's name.
        name: String,
    },
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

/// Splits `NAME=VALUE` for a device option, checking NAME.
fn device_value<'a>(s: &'a str, what: &str) -> Result<(String, &'a str), String> {
    let Some((name, value)) = s.split_once('=').filter(|(_, v)| !v.is_empty()) else {
        return Err(format!("expected NAME={what}"));
    };
    if !valid_name(name.as_bytes()) {
        return Err(format!("'{name}' is not a device name (1 to 31 of [a-z0-9_-], starting with a letter)"));
    }
    Ok((name.to_string(), value))
}

fn parse_net(s: &str) -> Result<(String, String), String> {
    device_value(s, "TAP").map(|(n, v)| (n, v.to_string()))
}

fn parse_block(s: &str) -> Result<(String, String), String> {
    device_value(s, "FILE").map(|(n, v)| (n, v.to_string()))
}

fn parse_net_mac(s: &str) -> Result<(String, [u8; 6]), String> {
    let (name, mac) = device_value(s, "MAC")?;
    Ok((name, oasis_tap::parse_mac(mac)?))
}

fn parse_net_faults(s: &str) -> Result<(String, FaultSpec), String> {
    let (name, spec) = device_value(s, "SPEC")?;
    Ok((name, FaultSpec::parse(spec)?))
}

/// Solo5's option spellings, rewritten to ours: `--net:NAME=TAP` becomes
/// `--net` `NAME=TAP`. Only options before `--` are touched.
fn solo5_spelling(args: Vec<OsString>) -> Vec<OsString> {
    const ALIASED: [&str; 4] = ["--net-faults:", "--net-mac:", "--net:", "--block:"];
    let mut out = Vec::with_capacity(args.len() + 4);
    let mut options = true;
    for arg in args {
        if options && arg == "--" {
            options = false;
        }
        let rewritten = options
            .then(|| arg.to_str())
            .flatten()
            .and_then(|a| ALIASED.iter().find_map(|p| a.strip_prefix(p).map(|rest| (&p[..p.len() - 1], rest))));
        match rewritten {
            Some((option, rest)) => out.extend([OsString::from(option), OsString::from(rest)]),
            None => out.push(arg),
        }
    }
    out
}

/// A `clap` error on one line, without its `error: ` prefix or the usage
/// and help lines that follow the message.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let message: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let line = message.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// The `clap` command for a tender called `bin_name` (`oasis spt`).
pub fn command(bin_name: &'static str, about: &'static str) -> clap::Command {
    // After `augment_args`, which would put the struct's own doc comment
    // in `about`.
    TenderOptions::augment_args(clap::Command::new(bin_name).bin_name(bin_name).no_binary_name(true))
        .about(about)
        .long_about(None::<&str>)
        .after_help(AFTER_HELP)
        .version(env!("CARGO_PKG_VERSION"))
}

impl TenderArgs {
    /// Parses the arguments that follow the tender's name (`oasis spt`).
    pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<TenderArgs, ArgsError> {
        TenderArgs::parse_as("oasis tender", "", args)
    }

    /// As [`TenderArgs::parse`], with the command's name and description
    /// for its help and messages.
    pub fn parse_as<I: IntoIterator<Item = OsString>>(
        bin_name: &'static str,
        about: &'static str,
        args: I,
    ) -> Result<TenderArgs, ArgsError> {
        let args = solo5_spelling(args.into_iter().collect());
        let matches = match command(bin_name, about).try_get_matches_from(args) {
            Ok(m) => m,
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                return Err(ArgsError::Help(e.render().to_string()));
            }
            Err(e) => return Err(ArgsError::Invalid(clap_message(&e))),
        };
        let options = TenderOptions::from_arg_matches(&matches).map_err(|e| ArgsError::Invalid(clap_message(&e)))?;
        TenderArgs::from_options(options)
    }

    /// Resolves parsed options: every device bound once, every net option
    /// for a bound net device.
    pub fn from_options(o: TenderOptions) -> Result<TenderArgs, ArgsError> {
        let mut bindings: Vec<Binding> = Vec::with_capacity(o.net.len() + o.block.len());
        let given =
            o.net.into_iter().map(|b| (DeviceKind::Net, b)).chain(o.block.into_iter().map(|b| (DeviceKind::Block, b)));
        for (kind, (name, value)) in given {
            if bindings.iter().any(|b| b.name == name) {
                return Err(ArgsError::Repeated { kind: kind.as_str(), name });
            }
            bindings.push(Binding { kind, name, value });
        }
        let unbound = |n: &String| !bindings.iter().any(|b| b.kind == DeviceKind::Net && b.name == *n);
        for (option, names) in [
            ("net-mac", o.net_mac.iter().map(|(n, _)| n).collect::<Vec<_>>()),
            ("net-faults", o.net_faults.iter().map(|(n, _)| n).collect()),
        ] {
            if let Some(name) = names.iter().find(|n| unbound(n)) {
                return Err(ArgsError::NoNetBinding { option, name: (*name).clone() });
            }
            if let Some((_, name)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
                return Err(ArgsError::Invalid(format!("--{option} {name}=…: given more than once")));
            }
        }
        Ok(TenderArgs {
            image: o.image,
            mem: o.mem,
            timeout: o.timeout,
            stats: o.stats,
            console_limit: (o.console_limit != 0).then_some(o.console_limit),
            print_filter: o.print_filter,
            bindings,
            macs: o.net_mac,
            faults: o.net_faults,
            no_offload: o.no_net_offload,
            guest_args: o.guest_args,
        })
    }
}

/// A binding that does not match the manifest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindError {
    /// A declared device nobody bound.
    #[error("the image declares {kind} device '{name}' but it is not bound: add --{kind} {name}=…")]
    Unbound {
        /// `"net"` or `"block"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A binding for a device the image does not declare.
    #[error("--{kind} {name}=…: the image declares no {kind} device named '{name}'")]
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
    use oasis_abi::layout::DEFAULT_MEM_SIZE;

    use super::*;
    use crate::manifest::Device;

    fn parse(args: &[&str]) -> Result<TenderArgs, ArgsError> {
        TenderArgs::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn full_command_line() {
        let a =
            parse(&["img", "--mem=64M", "--timeout", "5s", "--stats", "--net", "service=tap0", "--", "--ticks", "0"])
                .unwrap();
        assert_eq!(a.image, PathBuf::from("img"));
        assert_eq!(a.mem, 64 << 20);
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert!(a.stats);
        assert_eq!(a.bindings, vec![Binding { kind: DeviceKind::Net, name: "service".into(), value: "tap0".into() }]);
        assert_eq!(a.guest_args, vec!["--ticks", "0"]);
        let m = parse(&["img", "--net=service=tap0", "--net-mac", "service=02:00:00:00:00:01"]).unwrap();
        assert_eq!(m.macs, vec![("service".to_string(), [2, 0, 0, 0, 0, 1])]);
        assert!(
            parse(&["img", "--net-mac=service=02:00:00:00:00:01"])
                .unwrap_err()
                .to_string()
                .contains("no --net service=TAP binding")
        );
        assert!(parse(&["img", "--net", "service=tap0", "--net-mac", "service=01:00:00:00:00:01"]).is_err());
        let defaults = parse(&["img"]).unwrap();
        assert_eq!(defaults.mem, DEFAULT_MEM_SIZE);
        assert_eq!(defaults.console_limit, Some(DEFAULT_CONSOLE_LIMIT));
        assert_eq!(parse(&["img", "--console-limit=0"]).unwrap().console_limit, None);
        // Guest arguments may look like options, and may be the old spelling.
        let g = parse(&["img", "--", "--net:x=y", "--help"]).unwrap();
        assert_eq!(g.guest_args, vec!["--net:x=y", "--help"]);
        assert!(g.bindings.is_empty());
    }

    #[test]
    fn solo5_spelling_is_an_alias() {
        let old = parse(&[
            "img",
            "--net:service=tap0",
            "--net-mac:service=02:00:00:00:00:01",
            "--net-faults:service=loss=5%",
            "--block:storage=disk.img",
        ])
        .unwrap();
        let new = parse(&[
            "img",
            "--net",
            "service=tap0",
            "--net-mac",
            "service=02:00:00:00:00:01",
            "--net-faults",
            "service=loss=5%",
            "--block",
            "storage=disk.img",
        ])
        .unwrap();
        assert_eq!(old, new);
        assert_eq!(old.faults[0].1.loss, 50_000);
        assert_eq!(
            old.bindings[1],
            Binding { kind: DeviceKind::Block, name: "storage".into(), value: "disk.img".into() }
        );
    }

    #[test]
    fn errors_name_the_argument() {
        let msg = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert!(msg(&[]).contains("<IMAGE>"), "{}", msg(&[]));
        let lots = msg(&["img", "--mem=lots"]);
        assert!(lots.contains("'lots'") && lots.contains("--mem") && lots.contains("followed by K, M or G"), "{lots}");
        assert!(msg(&["img", "--mem=1M"]).contains("must be between 2M and 4G"));
        assert!(msg(&["img", "--mem=8G"]).contains("must be between 2M and 4G"));
        assert!(msg(&["img", "--mem=3000001"]).contains("must be a multiple of 4K"));
        assert!(msg(&["img", "--mem"]).contains("--mem"));
        assert!(msg(&["img", "--mem=32M", "--mem=64M"]).contains("--mem"));
        assert!(msg(&["img", "--bogus"]).contains("'--bogus'"));
        assert!(msg(&["img", "other"]).contains("'other'"));
        assert!(msg(&["img", "--timeout=0s"]).contains("must be more than zero"));
        assert!(msg(&["img", "--stats=yes"]).contains("--stats"));
        let bad = msg(&["img", "--net:Bad=tap0"]);
        assert!(bad.contains("--net") && bad.contains("'Bad' is not a device name"), "{bad}");
        assert_eq!(msg(&["img", "--net:a=x", "--block:a=y"]), "--block a=…: device 'a' is bound more than once");
        assert!(msg(&["img", "--net:a"]).contains("expected NAME=TAP"));
        assert!(msg(&["img", "--block", "a="]).contains("expected NAME=FILE"));
        assert!(matches!(parse(&["img", "--help"]), Err(ArgsError::Help(h)) if h.contains("--net <NAME=TAP>")));
    }

    #[test]
    fn help_shows_defaults_and_the_alias() {
        let help = command("oasis spt", "the spt tender").render_help().to_string();
        assert!(help.contains("[default: 32M]") && help.contains("[default: 1G]"), "{help}");
        assert!(help.contains("--net:NAME=TAP"), "{help}");
        assert_eq!(parse_mem(DEFAULT_MEM_TEXT), Ok(DEFAULT_MEM_SIZE));
        assert_eq!(parse_size("1G"), Ok(DEFAULT_CONSOLE_LIMIT));
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
            "the image declares net device 'service' but it is not bound: add --net service=…"
        );
        let stray = Binding { kind: DeviceKind::Block, name: "service".into(), value: "f".into() };
        assert_eq!(
            bind(&m, &[ok, stray]).unwrap_err().to_string(),
            "--block service=…: the image declares no block device named 'service'"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(args in proptest::collection::vec("[-a-z:=0-9KMG]{0,12}", 0..6)) {
            let _ = TenderArgs::parse(args.into_iter().map(OsString::from));
        }
    }
}
