//! Network configuration from boot arguments.
//!
//! `--ipv4 ADDR/PREFIX`, `--ipv4-gateway ADDR`, `--ipv6 ADDR/PREFIX`,
//! `--ipv6-gateway ADDR`, `--tcp-buffer SIZE` (bytes per direction per
//! connection, default 64 KiB), `--tcp-backlog N` (sockets a listener keeps
//! listening, default 16; each costs two buffers, and a connection request
//! arriving when all are taken is dropped, so the client retries, rather
//! than refused). Without `--ipv4` the stack
//! asks DHCP for an address (and renews the lease). A link-local IPv6
//! address derived from the MAC is always configured.

use alloc::format;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use oasis_runtime::args::{ArgError, take_option, take_parsed};

/// An address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr<A> {
    /// The address.
    pub addr: A,
    /// The prefix length.
    pub prefix: u8,
}

fn parse_cidr<A: FromStr>(name: &'static str, v: &str, max: u8) -> Result<Cidr<A>, ArgError> {
    let invalid = |reason: &str| ArgError::Invalid { name, value: v.into(), reason: reason.into() };
    let (addr, prefix) = v.split_once('/').ok_or_else(|| invalid("expected ADDRESS/PREFIX"))?;
    let addr = addr.parse().map_err(|_| invalid("not an address"))?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid("the prefix is not a number"))?;
    if prefix > max {
        return Err(invalid(&format!("the prefix is at most {max}")));
    }
    Ok(Cidr { addr, prefix })
}

/// How the stack is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Static IPv4 address; `None` means DHCP.
    pub ipv4: Option<Cidr<Ipv4Addr>>,
    /// IPv4 default gateway.
    pub ipv4_gateway: Option<Ipv4Addr>,
    /// Static IPv6 address.
    pub ipv6: Option<Cidr<Ipv6Addr>>,
    /// IPv6 default gateway.
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// Receive and send buffer per TCP connection, bytes.
    pub tcp_buffer: usize,
    /// Connections a listener keeps ready before `accept`.
    pub tcp_backlog: usize,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            ipv4: None,
            ipv4_gateway: None,
            ipv6: None,
            ipv6_gateway: None,
            tcp_buffer: 64 * 1024,
            tcp_backlog: 16,
        }
    }
}

impl NetConfig {
    /// Whether DHCP configures IPv4.
    pub fn dhcp(&self) -> bool {
        self.ipv4.is_none()
    }

    /// Takes the network options out of `args`, leaving the rest for the
    /// application.
    pub fn take_from_args(args: &mut Vec<&'static str>) -> Result<NetConfig, ArgError> {
        let mut c = NetConfig::default();
        if let Some(v) = take_option(args, "--ipv4")? {
            c.ipv4 = Some(parse_cidr("--ipv4", v, 32)?);
        }
        c.ipv4_gateway = take_parsed(args, "--ipv4-gateway")?;
        if let Some(v) = take_option(args, "--ipv6")? {
            c.ipv6 = Some(parse_cidr("--ipv6", v, 128)?);
        }
        c.ipv6_gateway = take_parsed(args, "--ipv6-gateway")?;
        if let Some(b) = take_parsed::<usize>(args, "--tcp-buffer")? {
            if !(1024..=16 << 20).contains(&b) {
                return Err(ArgError::Invalid {
                    name: "--tcp-buffer",
                    value: format!("{b}"),
                    reason: "between 1024 and 16777216 bytes".into(),
                });
            }
            c.tcp_buffer = b;
        }
        if let Some(n) = take_parsed::<usize>(args, "--tcp-backlog")? {
            if !(1..=4096).contains(&n) {
                return Err(ArgError::Invalid {
                    name: "--tcp-backlog",
                    value: format!("{n}"),
                    reason: "between 1 and 4096".into(),
                });
            }
            c.tcp_backlog = n;
        }
        if c.ipv4_gateway.is_some() && c.ipv4.is_none() {
            return Err(ArgError::Invalid {
                name: "--ipv4-gateway",
                value: String::new(),
                reason: "needs --ipv4 (DHCP supplies its own gateway)".into(),
            });
        }
        if c.ipv6_gateway.is_some() && c.ipv6.is_none() {
            return Err(ArgError::Invalid {
                name: "--ipv6-gateway",
                value: String::new(),
                reason: "needs --ipv6".into(),
            });
        }
        Ok(c)
    }
}

use alloc::string::String;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn static_configuration() {
        let mut args = vec!["--ipv4", "10.0.0.2/24", "--ipv4-gateway=10.0.0.1", "--ipv6", "fd00::2/64", "--port", "7"];
        let c = NetConfig::take_from_args(&mut args).unwrap();
        assert_eq!(c.ipv4, Some(Cidr { addr: Ipv4Addr::new(10, 0, 0, 2), prefix: 24 }));
        assert_eq!(c.ipv4_gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.ipv6.map(|c| c.prefix), Some(64));
        assert!(!c.dhcp());
        assert_eq!(args, vec!["--port", "7"]);
    }

    #[test]
    fn dhcp_by_default_and_errors_name_the_option() {
        assert!(NetConfig::take_from_args(&mut vec![]).unwrap().dhcp());
        let e = NetConfig::take_from_args(&mut vec!["--ipv4", "10.0.0.2"]).unwrap_err();
        assert_eq!(e.to_string(), "--ipv4: invalid value '10.0.0.2': expected ADDRESS/PREFIX");
        let e = NetConfig::take_from_args(&mut vec!["--ipv4", "10.0.0.300/24"]).unwrap_err();
        assert!(e.to_string().starts_with("--ipv4: invalid value '10.0.0.300/24'"));
        let e = NetConfig::take_from_args(&mut vec!["--ipv4", "10.0.0.3/33"]).unwrap_err();
        assert!(e.to_string().contains("at most 32"));
        let e = NetConfig::take_from_args(&mut vec!["--ipv4-gateway", "10.0.0.1"]).unwrap_err();
        assert!(e.to_string().contains("needs --ipv4"));
        let e = NetConfig::take_from_args(&mut vec!["--tcp-buffer", "12"]).unwrap_err();
        assert!(e.to_string().starts_with("--tcp-buffer"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(items in proptest::collection::vec("[-a-z0-9:./=]{0,16}", 0..6)) {
            let mut args: Vec<&'static str> = items.into_iter().map(|s| &*alloc::boxed::Box::leak(s.into_boxed_str())).collect();
            let _ = NetConfig::take_from_args(&mut args);
        }
    }
}
