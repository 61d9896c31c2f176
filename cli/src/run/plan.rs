//! The steps of a run in a private network namespace, worked out before
//! any is taken, so `--dry-run` prints exactly what a run does.

use std::ffi::OsString;
use std::fmt;
use std::net::Ipv4Addr;

use oasis_targets::{Invocation, Target};

use super::manifest::PublishFrom;
use super::netns;
use super::publish::Publish;

/// A TAP made in the namespace for one declared net device.
#[derive(Debug, PartialEq, Eq)]
pub struct Tap {
    /// The image's device name.
    pub device: String,
    /// The TAP's name inside the namespace.
    pub tap: String,
    /// The namespace's own address on it.
    pub host: Ipv4Addr,
    /// The prefix length of `host`.
    pub prefix: u8,
}

/// Everything a namespaced run does, in order.
#[derive(Debug)]
pub struct NetPlan {
    /// Namespaces left by runs that are gone, removed first.
    pub stale: Vec<String>,
    /// This run's namespace.
    pub namespace: String,
    /// One TAP per declared net device.
    pub taps: Vec<Tap>,
    /// The guest's address on the first device, where ports are published.
    pub guest: Ipv4Addr,
    /// The ports published on 127.0.0.1.
    pub publish: Vec<Publish>,
    /// Whether they are `-p`s or the package's defaults.
    pub publish_from: PublishFrom,
    /// The tender's command line, run inside the namespace.
    pub command: Vec<OsString>,
}

/// What [`plan`] needs to know.
#[derive(Debug)]
pub struct NetInputs<'a> {
    /// The supervising process's id, which names the namespace.
    pub pid: u32,
    /// Stale namespaces found.
    pub stale: Vec<String>,
    /// The net devices the image declares, in order.
    pub devices: Vec<String>,
    /// The target, whose launch the command follows.
    pub target: &'static Target,
    /// The launch without net bindings: the image, its options, its block
    /// devices (its arguments are `guest_args`, after the addressing ones).
    pub run: Invocation<'a>,
    /// The unikernel's own arguments.
    pub guest_args: &'a [String],
    /// `-p`s, or the package's default ports.
    pub publish: Vec<Publish>,
    /// Which of the two.
    pub publish_from: PublishFrom,
}

/// The value of a guest option given as `NAME VALUE` or `NAME=VALUE`, the
/// forms the guest's parser accepts.
fn guest_option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(name).and_then(|r| r.strip_prefix('='))
        }
    })
}

/// The guest's address, the namespace's address beside it, the prefix,
/// and the boot arguments that set them (none when the user set them).
fn addressing(pid: u32, args: &[String]) -> Result<(Ipv4Addr, Ipv4Addr, u8, Vec<String>), String> {
    let Some(cidr) = guest_option(args, "--ipv4") else {
        // Each namespace has its own routing table, so equal subnets in two
        // runs would not clash; differing ones just make messages easier to
        // tell apart.
        let n = (1 + pid % 254) as u8;
        let (guest, host) = (Ipv4Addr::new(10, n, 0, 2), Ipv4Addr::new(10, n, 0, 1));
        let boot = vec!["--ipv4".into(), format!("{guest}/24"), "--ipv4-gateway".into(), host.to_string()];
        return Ok((guest, host, 24, boot));
    };
    let bad = |why: &str| format!("--ipv4 {cidr}: {why}");
    let (addr, prefix) = cidr.split_once('/').ok_or_else(|| bad("expected ADDRESS/PREFIX"))?;
    let guest: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 30)
        .ok_or_else(|| bad("the prefix must leave room for the namespace's own address (at most 30)"))?;
    let mask = u32::MAX << (32 - prefix);
    let network = u32::from(guest) & mask;
    let host = match guest_option(args, "--ipv4-gateway") {
        Some(g) => {
            let g: Ipv4Addr = g.parse().map_err(|_| format!("--ipv4-gateway {g}: not an IPv4 address"))?;
            if u32::from(g) & mask != network || g == guest {
                return Err(format!("--ipv4-gateway {g}: must be another address in {cidr}, the namespace's own"));
            }
            g
        }
        None => [network + 1, network + 2].into_iter().map(Ipv4Addr::from).find(|a| *a != guest).unwrap_or(guest),
    };
    Ok((guest, host, prefix, Vec::new()))
}

/// Works out a namespaced run.
pub fn plan(inputs: NetInputs<'_>) -> Result<NetPlan, String> {
    let (guest, first_host, prefix, boot) = addressing(inputs.pid, inputs.guest_args)?;
    let taps: Vec<Tap> = inputs
        .devices
        .iter()
        .enumerate()
        .map(|(i, device)| {
            // Boot arguments configure only the first device; the others get
            // a subnet of their own so routes inside the namespace stay apart.
            let (host, prefix) = match i {
                0 => (first_host, prefix),
                _ => (Ipv4Addr::new(10, (1 + inputs.pid % 254) as u8, i as u8, 1), 24),
            };
            Tap { device: device.clone(), tap: format!("tap{i}"), host, prefix }
        })
        .collect();
    let mut run = inputs.run;
    run.nets = taps.iter().map(|t| (t.device.clone(), t.tap.clone())).collect();
    run.args = boot.into_iter().map(OsString::from).chain(inputs.guest_args.iter().map(OsString::from)).collect();
    let command = inputs.target.command(&run);
    Ok(NetPlan {
        stale: inputs.stale,
        namespace: netns::name(inputs.pid),
        taps,
        guest,
        publish: inputs.publish,
        publish_from: inputs.publish_from,
        command,
    })
}

impl NetPlan {
    /// The `ip` commands that set the namespace up once it exists.
    pub fn configure(&self) -> Vec<Vec<String>> {
        let ns = |rest: &[&str]| {
            let mut v: Vec<String> = vec!["-n".into(), self.namespace.clone()];
            v.extend(rest.iter().map(|s| s.to_string()));
            v
        };
        let mut steps = vec![ns(&["link", "set", "lo", "up"])];
        for t in &self.taps {
            let cidr = format!("{}/{}", t.host, t.prefix);
            steps.push(ns(&["tuntap", "add", &t.tap, "mode", "tap"]));
            steps.push(ns(&["addr", "add", &cidr, "dev", &t.tap]));
            steps.push(ns(&["link", "set", &t.tap, "up"]));
        }
        steps
    }
}

/// Quotes `arg` for a POSIX shell where it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=,@%+".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// A command line as it would be typed.
pub fn shell_line<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let words: Vec<String> = args.iter().map(|a| shell_quote(&a.as_ref().to_string_lossy())).collect();
    words.join(" ")
}

impl fmt::Display for NetPlan {
    /// Shell commands with the same effect, and comments for what oasis
    /// does itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = |args: Vec<String>| format!("ip {}", shell_line(&args));
        for name in &self.stale {
            writeln!(f, "{}  # left by a run that is gone", ip(netns::del_args(name)))?;
        }
        writeln!(f, "{}", ip(netns::add_args(&self.namespace)))?;
        for step in self.configure() {
            writeln!(f, "{}", ip(step))?;
        }
        let from = match self.publish_from {
            PublishFrom::Flags => "",
            PublishFrom::Manifest => "; the package's default, -p replaces it",
        };
        for p in &self.publish {
            writeln!(
                f,
                "# publish {}:{} -> {}:{}/{} (proxied by oasis{from})",
                p.ip, p.host, self.guest, p.guest, p.proto
            )?;
        }
        writeln!(f, "nsenter --net={} {}", netns::path(&self.namespace).display(), shell_line(&self.command))?;
        writeln!(
            f,
            "{}  # when the tender exits, or on SIGINT, SIGTERM or SIGHUP",
            ip(netns::del_args(&self.namespace))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(guest_args: &[String]) -> NetInputs<'_> {
        let mut run = Invocation::new(std::path::Path::new("/bin/oasis"), std::path::Path::new("/img/echo"));
        run.mem = Some("64M");
        NetInputs {
            pid: 4242,
            stale: vec!["oasis-run-17".into()],
            devices: vec!["service".into()],
            target: oasis_targets::find("spt").unwrap(),
            run,
            guest_args,
            publish: vec!["8080:80".parse().unwrap(), "5353:53/udp".parse().unwrap()],
            publish_from: PublishFrom::Flags,
        }
    }

    #[test]
    fn planned_steps_for_a_fixed_pid_and_ports() {
        let args = ["--port".to_string(), "80".into(), "--motd".into(), "it's up".into()];
        let p = plan(inputs(&args)).unwrap();
        let expected = "\
ip netns del oasis-run-17  # left by a run that is gone
ip netns add oasis-run-4242
ip -n oasis-run-4242 link set lo up
ip -n oasis-run-4242 tuntap add tap0 mode tap
ip -n oasis-run-4242 addr add 10.179.0.1/24 dev tap0
ip -n oasis-run-4242 link set tap0 up
# publish 127.0.0.1:8080 -> 10.179.0.2:80/tcp (proxied by oasis)
# publish 127.0.0.1:5353 -> 10.179.0.2:53/udp (proxied by oasis)
nsenter --net=/run/netns/oasis-run-4242 /bin/oasis spt /img/echo --mem=64M --net service=tap0 -- \
--ipv4 10.179.0.2/24 --ipv4-gateway 10.179.0.1 --port 80 --motd 'it'\\''s up'
ip netns del oasis-run-4242  # when the tender exits, or on SIGINT, SIGTERM or SIGHUP
";
        assert_eq!(p.to_string(), expected);
    }

    #[test]
    fn the_packages_default_ports_are_marked_as_such() {
        let mut i = inputs(&[]);
        i.publish = vec!["8080:80".parse().unwrap()];
        i.publish_from = PublishFrom::Manifest;
        let text = plan(i).unwrap().to_string();
        assert!(
            text.contains("# publish 127.0.0.1:8080 -> 10.179.0.2:80/tcp (proxied by oasis; the package's default, -p replaces it)"),
            "{text}"
        );
    }

    #[test]
    fn a_users_own_address_is_kept_and_the_namespace_joins_its_subnet() {
        let args = ["--ipv4=192.168.7.1/24".to_string()];
        let p = plan(inputs(&args)).unwrap();
        assert_eq!(p.guest, Ipv4Addr::new(192, 168, 7, 1));
        assert_eq!(p.taps[0].host, Ipv4Addr::new(192, 168, 7, 2));
        assert_eq!(p.command.last().map(|a| a.to_string_lossy().into_owned()), Some(args[0].clone()));

        let args = ["--ipv4".to_string(), "192.168.7.9/24".into(), "--ipv4-gateway".into(), "192.168.7.254".into()];
        let p = plan(inputs(&args)).unwrap();
        assert_eq!((p.guest, p.taps[0].host), (Ipv4Addr::new(192, 168, 7, 9), Ipv4Addr::new(192, 168, 7, 254)));

        let args = ["--ipv4".to_string(), "192.168.7.9/31".into()];
        assert!(plan(inputs(&args)).unwrap_err().contains("at most 30"));
        let args = ["--ipv4".to_string(), "192.168.7.9/24".into(), "--ipv4-gateway=10.0.0.1".into()];
        assert!(plan(inputs(&args)).unwrap_err().contains("must be another address in 192.168.7.9/24"));
    }

    #[test]
    fn every_net_device_gets_a_tap_and_a_subnet() {
        let mut i = inputs(&[]);
        i.devices = vec!["front".into(), "back".into()];
        let p = plan(i).unwrap();
        let words: Vec<String> = p.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let bindings: Vec<&str> = words.windows(2).filter(|w| w[0] == "--net").map(|w| w[1].as_str()).collect();
        assert_eq!(bindings, ["front=tap0", "back=tap1"]);
        assert_eq!(p.taps[1].host, Ipv4Addr::new(10, 179, 1, 1));
    }
}
