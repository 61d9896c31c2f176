//! Opening a Linux TAP device: the host end of an Oasis network device,
//! shared by the tenders and the unix target.
//!
//! A TAP that exists is attached by name (never created: see
//! [`TapError::NoSuchTap`]), in non-blocking mode with no packet-information header, so one `read`
//! is one Ethernet frame and one `write` sends one. It is not a network
//! configurator: addresses and routes on the host side are the caller's
//! business (`oasis run` sets them up inside a namespace).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// Why a TAP device could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The name is empty, too long, or has odd characters.
    #[error("'{0}' is not a valid interface name (1 to 15 of [a-zA-Z0-9_.-])")]
    BadName(String),
    /// No interface of that name in this network namespace. A tender
    /// never creates one: a new TAP in the host's namespace is one nothing
    /// routes to, and the guest would wait for DHCP forever.
    #[error("there is no TAP device '{0}' in this network namespace: make it first (ip tuntap add {0} mode tap)")]
    NoSuchTap(String),
    /// `/dev/net/tun` could not be opened.
    #[error("opening /dev/net/tun: {0} (is the tun module loaded?)")]
    OpenTun(io::Error),
    /// The kernel refused to attach to (or create) the TAP.
    #[error("attaching to TAP device '{name}': {source}{hint}")]
    Attach {
        /// The TAP's name.
        name: String,
        /// What the kernel said.
        source: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

/// An open TAP device.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
    offload: bool,
}

/// The least link MTU offloads are used on.
pub const MIN_OFFLOAD_MTU: u16 = 1280;

/// `virtio_net_hdr`'s size: what each frame is preceded by when offloading.
const VNET_HDR_LEN: libc::c_int = 10;
// From <linux/if_tun.h>; not in the libc crate.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const TUN_F_CSUM: libc::c_ulong = 0x01;
const TUN_F_TSO4: libc::c_ulong = 0x02;
const TUN_F_TSO6: libc::c_ulong = 0x04;

const IFNAMSIZ: usize = 16;

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() < IFNAMSIZ && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn ifreq_for(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req
}

impl Tap {
    /// Attaches to the existing TAP device `name`, moving plain Ethernet
    /// frames.
    pub fn open(name: &str) -> Result<Tap, TapError> {
        Tap::attach(name, false)
    }

    /// As [`Tap::open`], but with the kernel's offloads when `offload` asks
    /// and the kernel agrees: every frame read or written is preceded by a
    /// 10-byte `virtio_net_hdr`, TCP segments may be up to 64 KiB both ways
    /// (TSO over IPv4 and IPv6), and checksums may be left partial.
    /// [`Tap::offload`] says which it got.
    pub fn open_offloading(name: &str, offload: bool) -> Result<Tap, TapError> {
        if !offload {
            return Tap::open(name);
        }
        // A kernel that refuses the offloads gets plain frames; a TAP that
        // cannot be attached at all fails there too, with its own error.
        // So does a link too small for segments to be cut sensibly (below
        // IPv6's minimum MTU).
        let offloading = Tap::attach(name, true);
        if offloading.as_ref().is_ok_and(|tap| tap.mtu() >= MIN_OFFLOAD_MTU) {
            return offloading;
        }
        // Detached first: a TAP takes one reader at a time.
        drop(offloading);
        Tap::open(name)
    }

    fn attach(name: &str, offload: bool) -> Result<Tap, TapError> {
        if !valid_name(name) {
            return Err(TapError::BadName(name.into()));
        }
        // TUNSETIFF would create a missing TAP; look it up first, in this
        // process's network namespace (unlike /sys/class/net, which shows
        // the namespace sysfs was mounted in).
        let c_name = std::ffi::CString::new(name).map_err(|_| TapError::BadName(name.into()))?;
        // SAFETY: if_nametoindex reads the NUL-terminated string, which
        // lives across the call.
        if unsafe { libc::if_nametoindex(c_name.as_ptr()) } == 0 {
            return Err(TapError::NoSuchTap(name.into()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::OpenTun)?;
        let mut req = ifreq_for(name);
        let vnet = if offload { libc::IFF_VNET_HDR } else { 0 };
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI | vnet) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes the ifreq we pass, which is
        // valid and lives across the call.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
            let source = io::Error::last_os_error();
            let hint = match source.raw_os_error() {
                Some(libc::EPERM) => " (attaching needs CAP_NET_ADMIN or a TAP created for this user)",
                Some(libc::EBUSY) => " (another program is attached to it)",
                Some(libc::EINVAL) => " (an interface of that name exists and is not a TAP)",
                _ => "",
            };
            return Err(TapError::Attach { name: name.into(), source, hint });
        }
        let attach_error = |source: io::Error| TapError::Attach { name: name.into(), source, hint: "" };
        if offload {
            // The header size is the device's, and persists: set it, in
            // case another program (QEMU uses 12) left it otherwise.
            let size: libc::c_int = VNET_HDR_LEN;
            // SAFETY: TUNSETVNETHDRSZ reads the int we point to, which lives
            // across the call.
            if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETVNETHDRSZ as _, &size) } < 0 {
                return Err(attach_error(io::Error::last_os_error()));
            }
        }
        // Offloads persist on the device too: a plain reader turns off any
        // an earlier offloading one left on, or it would get 64 KiB frames.
        let features = if offload { TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 } else { 0 };
        // SAFETY: TUNSETOFFLOAD takes its argument by value.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD as _, features) } < 0 && offload {
            return Err(attach_error(io::Error::last_os_error()));
        }
        Ok(Tap { file, name: name.into(), offload })
    }

    /// Whether frames carry a `virtio_net_hdr` (see [`Tap::open_offloading`]).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// The TAP's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file to read frames from and write frames to.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The interface's MTU, or 1500 when it cannot be read.
    pub fn mtu(&self) -> u16 {
        // SAFETY: a fresh datagram socket, closed by OwnedFd; only used for
        // the SIOCGIFMTU query.
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if sock < 0 {
            return 1500;
        }
        // SAFETY: `sock` was just returned by socket() and is owned here.
        let sock = unsafe { OwnedFd::from_raw_fd(sock) };
        let mut req = ifreq_for(&self.name);
        // SAFETY: SIOCGIFMTU writes the MTU into the ifreq we pass.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut req) } < 0 {
            return 1500;
        }
        // SAFETY: after SIOCGIFMTU the union holds the MTU.
        let mtu = unsafe { req.ifr_ifru.ifru_mtu };
        u16::try_from(mtu).unwrap_or(1500)
    }
}

/// A stable, locally administered unicast MAC address derived from
/// `seed` (FNV-1a), so a device keeps its address across runs.
pub fn derived_mac(seed: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_le_bytes();
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// Parses `aa:bb:cc:dd:ee:ff`, refusing multicast addresses.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut out {
        let part = parts.next().ok_or("expected six hex bytes separated by ':'")?;
        if part.len() != 2 {
            return Err("expected six hex bytes separated by ':'".into());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| "expected six hex bytes separated by ':'".to_string())?;
    }
    if parts.next().is_some() {
        return Err("expected six hex bytes separated by ':'".into());
    }
    if out[0] & 1 != 0 {
        return Err("a multicast address cannot be a device's own".into());
    }
    if out == [0; 6] {
        return Err("the all-zero address cannot be a device's own".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_macs_are_stable_local_unicast_and_distinct() {
        let a = derived_mac("service@tap0");
        assert_eq!(a, derived_mac("service@tap0"));
        assert_ne!(a, derived_mac("service@tap1"));
        assert_eq!(a[0] & 0x03, 0x02);
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:00:00:aa:bb:cc"), Ok([2, 0, 0, 0xaa, 0xbb, 0xcc]));
        assert!(parse_mac("01:00:00:00:00:00").is_err());
        assert!(parse_mac("02:00:00:00:00").is_err());
        assert!(parse_mac("02:00:00:00:00:00:00").is_err());
        assert!(parse_mac("zz:00:00:00:00:00").is_err());
        assert!(valid_name("tap0") && !valid_name("") && !valid_name("a/b") && !valid_name("sixteen-chars-xx"));
    }

    #[test]
    fn a_missing_tap_is_refused_not_created() {
        let name = format!("oasnotap{}", std::process::id() % 100_000);
        let err = Tap::open(&name).expect_err("no such interface");
        assert!(matches!(err, TapError::NoSuchTap(ref n) if *n == name), "{err}");
        assert!(err.to_string().contains("ip tuntap add"), "{err}");
        assert!(!std::path::Path::new("/sys/class/net").join(&name).exists(), "{name} was created");
    }
}
