//! Host resources behind declared devices: a TAP device for each network
//! device. Opened before the sandbox; the sandbox then allows reads and
//! writes on exactly these descriptors.

use std::fs::File;
use std::os::fd::AsRawFd;

use oasis_abi::{DeviceKind, net_offload};
use oasis_tap::{Tap, TapError};

use crate::config::Binding;
use crate::faults::{FaultSpec, FaultyLink};
use crate::link::{Link, TapLink};
use crate::seccomp::{Bound, Policy};

/// A network device: its link (a TAP, maybe behind injected faults), and
/// the MAC, MTU and frame format the guest is told.
#[derive(Debug)]
pub struct NetBackend {
    /// Where its frames go.
    pub link: Box<dyn Link>,
    /// The guest's MAC address.
    pub mac: [u8; 6],
    /// The MTU.
    pub mtu: u16,
    /// Frames carry offload headers (`oasis_abi::net_offload`).
    pub offload: bool,
}

impl NetBackend {
    /// Whether frames carry offload headers (`oasis_abi::net_offload`).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Largest frame: MTU plus the Ethernet header, or an offloaded frame.
    pub fn max_frame(&self) -> u64 {
        max_frame(self.mtu, self.offload)
    }
}

/// The least `gso_size` a guest may ask the host to cut segments to: one
/// frame then becomes at most 256 packets.
pub const MIN_GSO_SIZE: u16 = 256;

/// Checks the `virtio_net_hdr` a guest put before a `frame_len`-byte
/// offloaded frame (header included), so the host kernel's offload code
/// only ever sees what a well-behaved Oasis guest sends: a partial TCP or
/// UDP checksum inside the frame, and TCP segments cut to at least
/// [`MIN_GSO_SIZE`] bytes after headers that fit the frame.
pub fn check_offload_header(header: &[u8; net_offload::HEADER_LEN], frame_len: u64) -> Result<(), &'static str> {
    let word = |i: usize| u64::from(u16::from_le_bytes([header[i], header[i + 1]]));
    let (flags, gso_type) = (header[0], header[1]);
    let (hdr_len, gso_size, csum_start, csum_offset) = (word(2), word(4), word(6), word(8));
    let frame = frame_len.saturating_sub(net_offload::HEADER_LEN as u64);
    if flags & !net_offload::NEEDS_CSUM != 0 {
        return Err("flags other than NEEDS_CSUM");
    }
    let needs_csum = flags & net_offload::NEEDS_CSUM != 0;
    if needs_csum && csum_start + csum_offset + 2 > frame {
        return Err("the checksum field lies outside the frame");
    }
    match gso_type {
        net_offload::GSO_NONE => Ok(()),
        net_offload::GSO_TCPV4 | net_offload::GSO_TCPV6 => {
            if !needs_csum {
                Err("a segment to cut without NEEDS_CSUM")
            } else if hdr_len == 0 || hdr_len >= frame {
                Err("hdr_len does not fit the frame")
            } else if gso_size < u64::from(MIN_GSO_SIZE) {
                Err("gso_size below 256")
            } else {
                Ok(())
            }
        }
        _ => Err("a gso_type other than none, TCP over IPv4 or TCP over IPv6"),
    }
}

fn max_frame(mtu: u16, offload: bool) -> u64 {
    if offload { oasis_abi::net_offload::MAX_FRAME } else { u64::from(mtu) + 14 }
}

pub use oasis_abi::BLOCK_SIZE;

/// A block device: a file, used whole blocks at a time.
#[derive(Debug)]
pub struct BlockBackend {
    file: File,
    /// Capacity in bytes (the file's size, rounded down to whole blocks).
    pub capacity: u64,
}

impl BlockBackend {
    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// The host side of one declared device, in handle order.
#[derive(Debug)]
pub enum Backend {
    /// A network device.
    Net(NetBackend),
    /// A block device.
    Block(BlockBackend),
}

impl Backend {
    /// Its kind.
    pub fn kind(&self) -> DeviceKind {
        match self {
            Backend::Net(_) => DeviceKind::Net,
            Backend::Block(_) => DeviceKind::Block,
        }
    }

    /// Its host descriptor (a TAP, a file).
    pub fn fd(&self) -> i32 {
        match self {
            Backend::Net(n) => n.link.fd(),
            Backend::Block(b) => b.file().as_raw_fd(),
        }
    }

    /// The descriptor to poll for input, if the device has input.
    pub fn poll_fd(&self) -> Option<i32> {
        match self {
            Backend::Net(n) => Some(n.link.fd()),
            Backend::Block(_) => None,
        }
    }
}

/// Why a device could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DeviceSetupError {
    /// The TAP could not be used.
    #[error("--net {name}={tap}: {source}")]
    Tap {
        /// The device.
        name: String,
        /// The TAP asked for.
        tap: String,
        /// Why not.
        source: TapError,
    },
    /// The block device's file could not be used.
    #[error("--block {name}={path}: {why}")]
    File {
        /// The device.
        name: String,
        /// The file asked for.
        path: String,
        /// Why not.
        why: String,
    },
}

/// Opens the host resource of every binding (in handle order). `macs`
/// overrides the MAC of named network devices (others get one derived
/// from the device and TAP names); `faults` makes named links faulty;
/// net devices whose `offload` entry is true get the TAP's offloads where
/// the kernel allows.
pub fn open(
    bound: &[Binding],
    offload: &[bool],
    macs: &[(String, [u8; 6])],
    faults: &[(String, FaultSpec)],
) -> Result<Vec<Backend>, DeviceSetupError> {
    refuse_shared_files(bound)?;
    bound
        .iter()
        .zip(offload.iter().copied().chain(core::iter::repeat(false)))
        .map(|(b, offload)| match b.kind {
            DeviceKind::Net => {
                let tap = Tap::open_offloading(&b.value, offload).map_err(|source| DeviceSetupError::Tap {
                    name: b.name.clone(),
                    tap: b.value.clone(),
                    source,
                })?;
                let mac = macs
                    .iter()
                    .find(|(n, _)| *n == b.name)
                    .map(|(_, m)| *m)
                    .unwrap_or_else(|| oasis_tap::derived_mac(&format!("{}@{}", b.name, b.value)));
                let (mtu, offload) = (tap.mtu(), tap.offload());
                let tap = TapLink::new(tap);
                let link: Box<dyn Link> = match faults.iter().find(|(n, _)| *n == b.name) {
                    Some((_, spec)) => Box::new(FaultyLink::new(tap, *spec, max_frame(mtu, offload) as usize)),
                    None => Box::new(tap),
                };
                Ok(Backend::Net(NetBackend { link, mac, mtu, offload }))
            }
            DeviceKind::Block => {
                let err = |why: String| DeviceSetupError::File { name: b.name.clone(), path: b.value.clone(), why };
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&b.value)
                    .map_err(|e| err(e.to_string()))?;
                let meta = file.metadata().map_err(|e| err(e.to_string()))?;
                if !meta.is_file() {
                    return Err(err("not a regular file".into()));
                }
                // Two writers on one store would corrupt it: the lock (flock,
                // held as long as the file is open, dropped by the kernel
                // however the tender ends) keeps out other tenders, unix
                // builds and `oasis kv`, which take it too.
                lock_block_file_waiting(&file, true, &b.value, LOCK_WAIT).map_err(err)?;
                let capacity = meta.len() / BLOCK_SIZE * BLOCK_SIZE;
                if capacity == 0 {
                    return Err(err(format!("the file is smaller than one {BLOCK_SIZE}-byte block")));
                }
                Ok(Backend::Block(BlockBackend { file, capacity }))
            }
        })
        .collect()
}

/// How long a tender waits for a block file's lock before refusing it:
/// a run just stopped (its supervisor killed) may still be leaving, and a
/// restart right after should not be refused for that.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Locks a block file (`flock`: exclusive to use it, shared to look),
/// failing if someone else holds it. Where the file system cannot lock
/// (some network file systems), it warns and goes on unlocked.
pub fn lock_block_file(file: &File, exclusive: bool, path: &str) -> Result<(), String> {
    lock_block_file_waiting(file, exclusive, path, std::time::Duration::ZERO)
}

/// [`lock_block_file`], trying again for up to `wait` while someone else
/// holds the lock.
pub fn lock_block_file_waiting(
    file: &File,
    exclusive: bool,
    path: &str,
    wait: std::time::Duration,
) -> Result<(), String> {
    let until = std::time::Instant::now() + wait;
    loop {
        let locked = if exclusive { file.try_lock() } else { file.try_lock_shared() };
        match locked {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err("in use by another process (a running unikernel or `oasis kv`); stop it first".into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                eprintln!("oasis: warning: {path}: cannot lock it ({e}); nothing keeps other processes out");
                return Ok(());
            }
        }
    }
}

/// Refuses one file bound to two block devices: each would overwrite the
/// other's blocks.
fn refuse_shared_files(bound: &[Binding]) -> Result<(), DeviceSetupError> {
    use std::os::unix::fs::MetadataExt;
    let mut seen: Vec<((u64, u64), &str)> = Vec::new();
    for b in bound.iter().filter(|b| b.kind == DeviceKind::Block) {
        // A file that cannot be read is reported when it is opened.
        let Ok(meta) = std::fs::metadata(&b.value) else { continue };
        let id = (meta.dev(), meta.ino());
        if let Some((_, other)) = seen.iter().find(|(i, _)| *i == id) {
            return Err(DeviceSetupError::File {
                name: b.name.clone(),
                path: b.value.clone(),
                why: format!("the same file is bound to device '{other}' too"),
            });
        }
        seen.push((id, &b.name));
    }
    Ok(())
}

/// The largest piece of a block request the tender reads or writes with
/// one `pread`/`pwrite`. Requests are cut into pieces whose lengths are
/// powers of two from [`BLOCK_SIZE`] to this, so the sandbox can pin each
/// piece's length exactly and its offset to where that length still ends
/// inside the device: no call it allows can reach past the capacity, and
/// so none can grow the file.
pub const BLOCK_PIECE_MAX: u64 = 256 << 10;

/// The piece lengths [`BLOCK_PIECE_MAX`] allows, smallest first.
pub fn block_piece_lengths() -> impl Iterator<Item = u64> {
    (0..).map(|k| BLOCK_SIZE << k).take_while(|&l| l <= BLOCK_PIECE_MAX)
}

/// The length of the next piece of a request with `remaining` bytes left
/// (a multiple of [`BLOCK_SIZE`], at least one block): the largest allowed
/// power of two that fits.
pub fn block_piece(remaining: u64) -> u64 {
    block_piece_lengths().take_while(|&l| l <= remaining).last().unwrap_or(BLOCK_SIZE)
}

/// The sandbox rules the devices need, each bounding every argument
/// seccomp can compare: the descriptor, the length, and for block devices
/// the offset.
pub fn allow(policy: Policy, backends: &[Backend]) -> Policy {
    backends.iter().fold(policy, |p, b| match b {
        Backend::Net(n) => {
            let fd = n.link.fd() as u64;
            let frame = n.max_frame();
            p.allow_where(
                libc::SYS_read,
                "read",
                &[Bound::eq(0, fd), Bound::le(2, frame)],
                format!("net-read: one frame (at most {frame} bytes) from the TAP"),
            )
            .allow_where(
                libc::SYS_write,
                "write",
                &[Bound::eq(0, fd), Bound::le(2, frame)],
                format!("net-write: one frame (at most {frame} bytes) to the TAP"),
            )
        }
        Backend::Block(b) => {
            let fd = b.file().as_raw_fd() as u64;
            let mut p = p;
            for len in block_piece_lengths().filter(|&l| l <= b.capacity) {
                let last = b.capacity - len;
                for (call, name, verb) in
                    [(libc::SYS_pread64, "pread64", "block-read"), (libc::SYS_pwrite64, "pwrite64", "block-write")]
                {
                    p = p.allow_where(
                        call,
                        name,
                        &[Bound::eq(0, fd), Bound::eq(2, len), Bound::le(3, last)],
                        format!("{verb}: {len} bytes inside the {}-byte device", b.capacity),
                    );
                }
            }
            p.allow_pinned(libc::SYS_fdatasync, "fdatasync", 0, fd, "block-flush: make earlier writes durable")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, path: &std::path::Path) -> Binding {
        Binding { kind: DeviceKind::Block, name: name.into(), value: path.display().to_string() }
    }

    fn header(flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, start: u16, offset: u16) -> [u8; 10] {
        let mut h = [0u8; 10];
        h[0] = flags;
        h[1] = gso_type;
        h[2..4].copy_from_slice(&hdr_len.to_le_bytes());
        h[4..6].copy_from_slice(&gso_size.to_le_bytes());
        h[6..8].copy_from_slice(&start.to_le_bytes());
        h[8..10].copy_from_slice(&offset.to_le_bytes());
        h
    }

    #[test]
    fn offload_headers_of_a_well_behaved_guest_pass_and_others_are_named() {
        // What oasis-net sends: plain, a partial TCP checksum, a 64 KiB
        // segment to cut, a partial UDP checksum.
        assert_eq!(check_offload_header(&header(0, 0, 0, 0, 0, 0), 70), Ok(()));
        assert_eq!(check_offload_header(&header(1, 0, 0, 0, 34, 16), 100), Ok(()));
        assert_eq!(check_offload_header(&header(1, 1, 66, 1448, 34, 16), 65_000), Ok(()));
        assert_eq!(check_offload_header(&header(1, 4, 86, 1428, 54, 16), 65_000), Ok(()));
        assert_eq!(check_offload_header(&header(1, 0, 0, 0, 34, 6), 60), Ok(()));
        let refused = [
            (header(2, 0, 0, 0, 0, 0), 70, "flags other than NEEDS_CSUM"),
            (header(1, 0, 0, 0, 60, 16), 80, "the checksum field lies outside the frame"),
            (header(1, 0, 0, 0, u16::MAX, u16::MAX), 80, "the checksum field lies outside the frame"),
            (header(0, 1, 66, 1448, 0, 0), 65_000, "a segment to cut without NEEDS_CSUM"),
            (header(1, 1, 0, 1448, 34, 16), 65_000, "hdr_len does not fit the frame"),
            (header(1, 1, 65_000, 1448, 34, 16), 65_000, "hdr_len does not fit the frame"),
            (header(1, 1, 66, 1, 34, 16), 65_000, "gso_size below 256"),
            (header(1, 3, 66, 1448, 34, 16), 65_000, "a gso_type other than none, TCP over IPv4 or TCP over IPv6"),
            (header(1, 0x81, 66, 1448, 34, 16), 65_000, "a gso_type other than none, TCP over IPv4 or TCP over IPv6"),
        ];
        for (h, len, why) in refused {
            assert_eq!(check_offload_header(&h, len), Err(why), "{h:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_offload_header_is_judged_without_panicking(h in proptest::array::uniform10(proptest::num::u8::ANY), len in proptest::num::u64::ANY) {
            let _ = check_offload_header(&h, len);
        }
    }

    #[test]
    fn one_file_for_two_devices_is_refused_and_a_used_file_is_locked() {
        let dir = std::env::temp_dir().join(format!("oasis-devices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.img"), dir.join("b.img"));
        for f in [&a, &b] {
            std::fs::File::create(f).unwrap().set_len(1 << 20).unwrap();
        }
        // The same file under another name is still the same file.
        let alias = dir.join("alias.img");
        let _ = std::fs::remove_file(&alias);
        std::os::unix::fs::symlink(&a, &alias).unwrap();
        let err = open(&[block("one", &a), block("two", &alias)], &[], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("bound to device 'one' too"), "{err}");

        let backends = open(&[block("one", &a), block("two", &b)], &[], &[], &[]).unwrap();
        // While they are open, nobody else gets them...
        let err = open(&[block("other", &b)], &[], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("in use by another process"), "{err}");
        let look = std::fs::File::open(&a).unwrap();
        assert!(lock_block_file(&look, false, "a").is_err());
        // ...and once they are closed, the locks are gone.
        drop(backends);
        assert!(lock_block_file(&look, false, "a").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
