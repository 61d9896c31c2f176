//! The server's boot arguments. Every refusal names the argument.

use core::net::{IpAddr, SocketAddr};

use oasis::alloc::format;
use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis::{ArgError, ArgParser, Duration};
use oasis_dns::Name;
use oasis_dns::tsig::Key;

/// What the server is for its zones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Serves the compiled-in zones (and their updates), the source of
    /// truth for its secondaries.
    Primary,
    /// Serves copies of `zones` transferred from `primary`.
    Secondary {
        /// Where to transfer from (and whose NOTIFYs to take).
        primary: SocketAddr,
        /// The zones to keep copies of.
        zones: Vec<Name>,
    },
}

/// Everything the arguments configure.
#[derive(Clone, Debug)]
pub struct Config {
    /// Port for UDP and TCP.
    pub port: u16,
    /// Primary or secondary.
    pub role: Role,
    /// Servers we notify of changes and allow to transfer our zones.
    pub secondaries: Vec<SocketAddr>,
    /// TSIG keys. With any key configured, transfers, updates and NOTIFYs
    /// must be signed with one of them; outgoing ones are signed with the
    /// first.
    pub keys: Vec<Key>,
    /// Most TCP connections open at once.
    pub tcp_max: usize,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle: Duration,
    /// Largest UDP response (and what our OPT advertises).
    pub udp_size: u16,
    /// Keep zones on the block device (`disk`), or not at all (`none`).
    pub storage: bool,
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ArgError {
    ArgError::Invalid { name, value: value.into(), reason: reason.into() }
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address; port 53 when
/// not given.
pub fn parse_addr(name: &'static str, text: &str) -> Result<SocketAddr, ArgError> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| invalid(name, text, "expected ADDRESS or ADDRESS:PORT"))
}

fn parse_zone_name(name: &'static str, text: &str) -> Result<Name, ArgError> {
    let absolute = if text.ends_with('.') { String::from(text) } else { format!("{text}.") };
    Name::from_text(&absolute, None).map_err(|e| invalid(name, text, &format!("{e}")))
}

impl Config {
    /// Reads the server's arguments from `args` (the caller calls
    /// `finish` after, so strays are refused). `unix`: the unix target,
    /// whose default port is 5353 (53 needs privileges there).
    pub fn from_args(args: &mut ArgParser<'_>, unix: bool) -> Result<Config, ArgError> {
        let port: u16 = args.value("--port")?.unwrap_or(if unix { 5353 } else { 53 });
        let role: String = args.value("--role")?.unwrap_or_else(|| "primary".into());
        let primary: Option<String> = args.value("--primary")?;
        let zones: Vec<String> = args.values("--zone")?;
        let secondaries: Vec<String> = args.values("--secondary")?;
        let keys: Vec<String> = args.values("--key")?;
        let tcp_max: usize = args.value("--tcp-max")?.unwrap_or(256);
        let tcp_idle: u64 = args.value("--tcp-idle")?.unwrap_or(10);
        let udp_size: u16 = args.value("--udp-size")?.unwrap_or(1232);
        let storage: String = args.value("--storage")?.unwrap_or_else(|| "disk".into());

        let role = match role.as_str() {
            "primary" => {
                if let Some(p) = &primary {
                    return Err(invalid("--primary", p, "only a secondary has a primary (give --role secondary)"));
                }
                if let Some(z) = zones.first() {
                    return Err(invalid(
                        "--zone",
                        z,
                        "a primary serves the zones compiled in (--zone names a secondary's zones)",
                    ));
                }
                Role::Primary
            }
            "secondary" => {
                let Some(p) = primary else { return Err(ArgError::MissingValue("--primary")) };
                let primary = parse_addr("--primary", &p)?;
                if zones.is_empty() {
                    return Err(ArgError::MissingValue("--zone"));
                }
                let zones = zones.iter().map(|z| parse_zone_name("--zone", z)).collect::<Result<Vec<_>, _>>()?;
                Role::Secondary { primary, zones }
            }
            other => return Err(invalid("--role", other, "expected primary or secondary")),
        };
        let secondaries = secondaries.iter().map(|s| parse_addr("--secondary", s)).collect::<Result<Vec<_>, _>>()?;
        let keys = keys
            .iter()
            .map(|k| Key::parse(k).map_err(|e| invalid("--key", redact(k), &format!("{e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if tcp_max == 0 {
            return Err(invalid("--tcp-max", "0", "at least 1"));
        }
        if tcp_idle == 0 {
            return Err(invalid("--tcp-idle", "0", "at least 1 second"));
        }
        if udp_size < 512 {
            return Err(invalid("--udp-size", &format!("{udp_size}"), "at least 512"));
        }
        let storage = match storage.as_str() {
            "disk" => true,
            "none" => false,
            other => return Err(invalid("--storage", other, "expected disk or none")),
        };
        Ok(Config {
            port,
            role,
            secondaries,
            keys,
            tcp_max,
            tcp_idle: Duration::from_secs(tcp_idle),
            udp_size,
            storage,
        })
    }

    /// Whether `ip` may transfer our zones: one of the secondaries.
    pub fn may_transfer(&self, ip: IpAddr) -> bool {
        self.secondaries.iter().any(|s| s.ip() == ip)
    }
}

/// A key argument without its secret, for error messages (the console
/// may be logged).
fn redact(key: &str) -> &str {
    key.rsplit_once(':').map_or(key, |(before, _)| before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis::Args;

    fn parse(items: &[&'static str], unix: bool) -> Result<Config, ArgError> {
        let args = Args::new(items.to_vec());
        let mut p = args.parser();
        let c = Config::from_args(&mut p, unix)?;
        p.finish()?;
        Ok(c)
    }

    #[test]
    fn defaults_and_roles() {
        let c = parse(&[], true).unwrap();
        assert_eq!((c.port, c.role.clone(), c.storage), (5353, Role::Primary, true));
        assert_eq!(parse(&[], false).unwrap().port, 53);
        let c = parse(
            &["--role", "secondary", "--primary", "10.0.0.1", "--zone", "example.com", "--zone=example.net."],
            false,
        )
        .unwrap();
        let Role::Secondary { primary, zones } = c.role else { panic!() };
        assert_eq!(primary, "10.0.0.1:53".parse().unwrap());
        assert_eq!(zones.len(), 2);
        assert_eq!(zones[0], Name::from_text("example.com.", None).unwrap());
        let c = parse(&["--secondary", "127.0.0.1:5300", "--secondary", "::1"], true).unwrap();
        assert!(c.may_transfer("127.0.0.1".parse().unwrap()));
        assert!(!c.may_transfer("127.0.0.2".parse().unwrap()));
        assert_eq!(c.secondaries[1], "[::1]:53".parse().unwrap());
    }

    #[test]
    fn errors_name_the_argument() {
        let e = |items: &[&'static str]| parse(items, true).unwrap_err().to_string();
        assert!(e(&["--role", "tertiary"]).starts_with("--role: invalid value 'tertiary'"));
        assert_eq!(e(&["--role", "secondary", "--zone", "a."]), "--primary: missing value");
        assert_eq!(e(&["--role", "secondary", "--primary", "10.0.0.1"]), "--zone: missing value");
        assert!(e(&["--primary", "10.0.0.1"]).starts_with("--primary: invalid value"));
        assert!(e(&["--secondary", "nowhere"]).starts_with("--secondary: invalid value 'nowhere'"));
        let k = e(&["--key", "k:hmac-md5:c2VjcmV0"]);
        assert!(k.starts_with("--key: invalid value 'k:hmac-md5'") && !k.contains("c2VjcmV0"), "{k}");
        assert!(e(&["--port", "99999"]).starts_with("--port: invalid value '99999'"));
        assert_eq!(e(&["--bogus"]), "unknown argument '--bogus'");
        assert!(e(&["--storage", "tape"]).starts_with("--storage: invalid value 'tape'"));
        assert!(e(&["--udp-size", "100"]).starts_with("--udp-size"));
    }
}
