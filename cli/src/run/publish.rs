//! `-p [IP:][HOST:]GUEST[/tcp|/udp]`: a guest port published on a host
//! address (127.0.0.1 unless IP is given), Docker's forms.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The transport a published port carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One `-p`: `ip:host` forwards to the guest's `guest` port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The host address listened on: 127.0.0.1 unless given.
    pub ip: Ipv4Addr,
    /// The port on 127.0.0.1.
    pub host: u16,
    /// The guest's port.
    pub guest: u16,
    /// TCP or UDP.
    pub proto: Proto,
}

fn port(what: &str, v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("the {what} port '{v}' is not a number from 1 to 65535")),
    }
}

impl fmt::Display for Publish {
    /// As written after `-p`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ip != Ipv4Addr::LOCALHOST {
            write!(f, "{}:", self.ip)?;
        }
        write!(f, "{}:{}/{}", self.host, self.guest, self.proto)
    }
}

impl FromStr for Publish {
    type Err = String;

    fn from_str(s: &str) -> Result<Publish, String> {
        let (ports, proto) = match s.split_once('/') {
            None => (s, Proto::Tcp),
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some((_, other)) => return Err(format!("unknown protocol '{other}': tcp or udp")),
        };
        let parts: Vec<&str> = ports.split(':').collect();
        let (ip, host, guest) = match parts[..] {
            // Docker publishes a lone GUEST on a random host port; here it is
            // the same port on the host, so the address is known beforehand.
            [guest] => (Ipv4Addr::LOCALHOST, guest, guest),
            [host, guest] => (Ipv4Addr::LOCALHOST, host, guest),
            [ip, host, guest] => {
                let ip: Ipv4Addr = ip.parse().map_err(|_| format!("'{ip}' is not an IPv4 address"))?;
                (ip, host, guest)
            }
            _ => return Err("expected [IP:][HOST:]GUEST[/tcp|/udp], e.g. 8080:80".into()),
        };
        Ok(Publish { ip, host: port("host", host)?, guest: port("guest", guest)?, proto })
    }
}

/// Refuses the same host port and protocol published twice.
pub fn check_unique(list: &[Publish]) -> Result<(), String> {
    for (i, p) in list.iter().enumerate() {
        if list[..i].iter().any(|q| q.host == p.host && q.proto == p.proto) {
            return Err(format!("-p: {}:{}/{} is published twice", p.ip, p.host, p.proto));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports_and_protocols() {
        let local = Ipv4Addr::LOCALHOST;
        assert_eq!("8080:80".parse(), Ok(Publish { ip: local, host: 8080, guest: 80, proto: Proto::Tcp }));
        assert_eq!("8080:80/tcp".parse(), Ok(Publish { ip: local, host: 8080, guest: 80, proto: Proto::Tcp }));
        assert_eq!("5353:53/udp".parse(), Ok(Publish { ip: local, host: 5353, guest: 53, proto: Proto::Udp }));
        assert_eq!("8080".parse(), Ok(Publish { ip: local, host: 8080, guest: 8080, proto: Proto::Tcp }));
        let any = Ipv4Addr::UNSPECIFIED;
        let p: Publish = "0.0.0.0:8080:80/udp".parse().unwrap();
        assert_eq!(p, Publish { ip: any, host: 8080, guest: 80, proto: Proto::Udp });
        assert_eq!(p.to_string(), "0.0.0.0:8080:80/udp");
        assert!("localhost:8080:80".parse::<Publish>().unwrap_err().contains("not an IPv4 address"));
        assert!("1:2:3:4".parse::<Publish>().unwrap_err().contains("[IP:][HOST:]GUEST"));
        assert!("0:80".parse::<Publish>().unwrap_err().contains("host port '0'"));
        assert!("80:70000".parse::<Publish>().unwrap_err().contains("guest port '70000'"));
        assert!("80:80/sctp".parse::<Publish>().unwrap_err().contains("'sctp'"));
    }

    #[test]
    fn same_port_twice_is_refused_per_protocol() {
        let tcp: Publish = "8007:7".parse().unwrap();
        let udp: Publish = "8007:7/udp".parse().unwrap();
        assert!(check_unique(&[tcp, udp]).is_ok());
        assert!(check_unique(&[tcp, udp, tcp]).unwrap_err().contains("8007/tcp"));
    }
}
