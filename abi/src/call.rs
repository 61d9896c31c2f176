//! Hypercalls: numbers, argument structs and result codes.
//!
//! A hypercall names a call number and the guest address of its argument
//! struct. The tender reads the whole struct, checks every field, acts, and
//! writes the whole struct back (the `out` fields changed). Each argument
//! struct is `#[repr(C)]`, 8-byte aligned, without padding, and made of
//! little-endian `u64`s (or byte arrays), so its layout is the same for
//! every compiler.
//!
//! Each call is tied to its argument struct in one table (`hypercalls!`
//! below): the [`Hypercall`] marker types in [`op`] carry the number, the
//! name and the struct, so the guest cannot pass one call's struct to
//! another ([`op::ClockWall`] takes a [`Clock`], nothing else), and the
//! tender reads and writes a struct through [`Wire`], whose encoding is
//! derived from the struct's own field offsets: reordering fields changes
//! both sides together, never one silently.
//!
//! How the call is made depends on the tender, named in
//! [`BootInfo::platform`](crate::BootInfo):
//! - **hvt**: `out dx, eax` with `dx = HVT_PORT_BASE + number` and
//!   `eax` the argument struct's address (every guest address fits in 32 bits).
//! - **spt**: a call, System V ABI, to the address in
//!   [`BootInfo::spt_hypercall`](crate::BootInfo) with `rdi = number` and
//!   `rsi` the argument struct's address.
//!
//! For every call the guest MUST pass an argument address that is 8-byte
//! aligned, at or above [`GUEST_MIN_ADDR`](crate::layout::GUEST_MIN_ADDR), with
//! the whole struct inside guest memory; every buffer it names MUST lie
//! wholly inside guest memory above `GUEST_MIN_ADDR`; device handles MUST be
//! indices of declared devices of the kind the call is for. Otherwise the
//! tender stops the guest.

/// Wire encoding of an argument struct: what the tender reads from and
/// writes to guest memory. The byte at each field's offset is where that
/// field lies in the guest's `#[repr(C)]` struct on x86-64 (little-endian),
/// so the guest passes its struct as it is and the tender decodes the same
/// bytes.
pub trait Wire: Copy + Default {
    /// Bytes in the encoding: `size_of::<Self>()`, at most [`MAX_ARG_SIZE`].
    const SIZE: usize;

    /// Decodes `bytes` (at least [`Wire::SIZE`] long; missing bytes read
    /// as zero, which the caller never lets happen).
    fn decode(bytes: &[u8]) -> Self;

    /// Encodes into the first [`Wire::SIZE`] bytes of `out`.
    fn encode(&self, out: &mut [u8]);
}

/// The largest argument struct, so a tender can read any into a buffer on
/// its stack.
pub const MAX_ARG_SIZE: usize = 40;

/// A field of an argument struct: a little-endian `u64` or bytes.
trait WireField: Sized {
    const SIZE: usize;
    fn get(bytes: &[u8]) -> Self;
    fn put(&self, out: &mut [u8]);
}

impl WireField for u64 {
    const SIZE: usize = 8;
    fn get(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(bytes) {
            *d = *s;
        }
        u64::from_le_bytes(b)
    }
    fn put(&self, out: &mut [u8]) {
        for (d, s) in out.iter_mut().zip(self.to_le_bytes()) {
            *d = s;
        }
    }
}

impl<const N: usize> WireField for [u8; N] {
    const SIZE: usize = N;
    fn get(bytes: &[u8]) -> [u8; N] {
        let mut b = [0u8; N];
        for (d, s) in b.iter_mut().zip(bytes) {
            *d = *s;
        }
        b
    }
    fn put(&self, out: &mut [u8]) {
        for (d, s) in out.iter_mut().zip(self) {
            *d = *s;
        }
    }
}

/// Defines an argument struct with its [`Wire`] encoding, and checks at
/// compile time that it is 8-byte aligned, has no padding and fits
/// [`MAX_ARG_SIZE`].
macro_rules! wire_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Wire for $name {
            const SIZE: usize = core::mem::size_of::<$name>();

            fn decode(bytes: &[u8]) -> $name {
                $name {
                    $($field: <$ty as WireField>::get(bytes.get(core::mem::offset_of!($name, $field)..).unwrap_or(&[])),)*
                }
            }

            fn encode(&self, out: &mut [u8]) {
                $(if let Some(at) = out.get_mut(core::mem::offset_of!($name, $field)..) {
                    WireField::put(&self.$field, at);
                })*
            }
        }

        const _: () = {
            assert!(core::mem::align_of::<$name>() == 8);
            assert!(core::mem::size_of::<$name>() == 0 $(+ <$ty as WireField>::SIZE)*, "padding in an argument struct");
            assert!(core::mem::size_of::<$name>() <= MAX_ARG_SIZE);
        };
    };
}

// The guest passes its structs as they lie in memory; the encoding above
// is that layout only on a little-endian machine.
const _: () = assert!(cfg!(target_endian = "little"));

/// A hypercall: its number, its name and its argument struct. Implemented
/// only by the marker types in [`op`].
pub trait Hypercall {
    /// The call number.
    const NR: u64;
    /// A short name for diagnostics (`"console-write"`).
    const NAME: &'static str;
    /// The argument struct.
    type Arg: Wire;
}

/// The one table of calls: number, marker type, name, argument struct.
/// Generates [`nr`], [`op`] and [`arg_size`].
macro_rules! hypercalls {
    ($($(#[$doc:meta])* $konst:ident = $number:literal, $marker:ident, $name:literal, $arg:ident;)*) => {
        /// Call numbers.
        pub mod nr {
            $($(#[$doc])* pub const $konst: u64 = $number;)*

            /// One past the highest call number.
            pub const COUNT: u64 = {
                let mut max = 0;
                $(if $number > max { max = $number; })*
                max + 1
            };

            /// A short name for diagnostics (`"console-write"`), or `None` for a
            /// number that is not a call.
            pub const fn name(n: u64) -> Option<&'static str> {
                match n {
                    $($number => Some($name),)*
                    _ => None,
                }
            }
        }

        /// The calls as types: `op::ConsoleWrite` is call
        /// [`nr::CONSOLE_WRITE`] with a [`ConsoleWrite`] argument.
        pub mod op {
            $(
                $(#[$doc])*
                #[derive(Debug)]
                pub enum $marker {}

                impl super::Hypercall for $marker {
                    const NR: u64 = $number;
                    const NAME: &'static str = $name;
                    type Arg = super::$arg;
                }
            )*
        }

        /// Size of call `number`'s argument struct, or `None` for a number
        /// that is not a call.
        pub const fn arg_size(number: u64) -> Option<usize> {
            match number {
                $($number => Some(<$arg as Wire>::SIZE),)*
                _ => None,
            }
        }
    };
}

hypercalls! {
    /// Write bytes to the console: [`ConsoleWrite`](super::ConsoleWrite).
    CONSOLE_WRITE = 1, ConsoleWrite, "console-write", ConsoleWrite;
    /// Wall-clock time: [`Clock`](super::Clock).
    CLOCK_WALL = 2, ClockWall, "clock-wall", Clock;
    /// Monotonic time: [`Clock`](super::Clock).
    CLOCK_MONOTONIC = 3, ClockMonotonic, "clock-monotonic", Clock;
    /// Sleep until a deadline or device input: [`Yield`](super::Yield).
    YIELD = 4, Yield, "yield", Yield;
    /// Leave with a status: [`Exit`](super::Exit).
    EXIT = 5, Exit, "exit", Exit;
    /// Leave abnormally, with an optional message: [`Abort`](super::Abort).
    ABORT = 6, Abort, "abort", Abort;
    /// Report a CPU exception caught by the guest's handlers (hvt):
    /// [`Fault`](super::Fault).
    FAULT = 7, Fault, "fault", Fault;
    /// Network device information: [`NetInfo`](super::NetInfo).
    NET_INFO = 16, NetInfo, "net-info", NetInfo;
    /// Send one Ethernet frame: [`NetIo`](super::NetIo).
    NET_WRITE = 17, NetWrite, "net-write", NetIo;
    /// Receive one Ethernet frame: [`NetIo`](super::NetIo).
    NET_READ = 18, NetRead, "net-read", NetIo;
    /// Send up to [`NET_BATCH_MAX`](super::NET_BATCH_MAX) frames in one
    /// call: [`NetBatch`](super::NetBatch).
    NET_WRITE_BATCH = 19, NetWriteBatch, "net-write-batch", NetBatch;
    /// Receive up to [`NET_BATCH_MAX`](super::NET_BATCH_MAX) frames in one
    /// call: [`NetBatch`](super::NetBatch).
    NET_READ_BATCH = 20, NetReadBatch, "net-read-batch", NetBatch;
    /// Block device information: [`BlockInfo`](super::BlockInfo).
    BLOCK_INFO = 32, BlockInfo, "block-info", BlockInfo;
    /// Write whole blocks: [`BlockIo`](super::BlockIo).
    BLOCK_WRITE = 33, BlockWrite, "block-write", BlockIo;
    /// Read whole blocks: [`BlockIo`](super::BlockIo).
    BLOCK_READ = 34, BlockRead, "block-read", BlockIo;
    /// Make earlier writes durable: [`BlockFlush`](super::BlockFlush).
    BLOCK_FLUSH = 35, BlockFlush, "block-flush", BlockFlush;
}

/// hvt: the I/O port of call `n` is `HVT_PORT_BASE + n`.
pub const HVT_PORT_BASE: u16 = 0x500;

/// Result codes written to the `result` field of device calls.
pub mod result {
    /// Done.
    pub const OK: u64 = 0;
    /// Nothing to do now (no frame to read, device busy); try again after a
    /// yield reports the device ready.
    pub const AGAIN: u64 = 1;
    /// The host-side device failed (I/O error, TAP gone). The guest is not at
    /// fault and keeps running.
    pub const IO_ERROR: u64 = 2;
}

/// The block size of every block device: offsets and lengths of block
/// I/O are multiples of it.
pub const BLOCK_SIZE: u64 = 512;

/// Longest console write in one call. Longer writes are a contract
/// violation; the guest splits them.
pub const CONSOLE_WRITE_MAX: u64 = 64 * 1024;

/// Longest abort message; a longer one is cut, not refused.
pub const ABORT_MESSAGE_MAX: u64 = 4096;

wire_struct! {
    /// `CONSOLE_WRITE`: `len` bytes at `data` go to the console. The tender
    /// never blocks on a slow console for longer than the write itself.
    pub struct ConsoleWrite {
        /// in: address of the bytes.
        pub data: u64,
        /// in: number of bytes, at most [`CONSOLE_WRITE_MAX`].
        pub len: u64,
    }
}

wire_struct! {
    /// `CLOCK_WALL` and `CLOCK_MONOTONIC`.
    ///
    /// Monotonic time is nanoseconds since an arbitrary point before boot and
    /// never goes back. Wall time is nanoseconds since the Unix epoch and may
    /// jump. On hvt the guest reads both from the TSC without a call (see
    /// [`BootInfo`](crate::BootInfo)); the calls remain valid.
    pub struct Clock {
        /// out: the time in nanoseconds.
        pub ns: u64,
    }
}

wire_struct! {
    /// `YIELD`: give the CPU back until monotonic time reaches `deadline_ns` or
    /// a declared device has input, whichever is first. The tender MAY return
    /// early; the guest re-checks its own deadlines. A deadline in the past
    /// polls the devices and returns at once.
    pub struct Yield {
        /// in: absolute monotonic deadline in nanoseconds; `u64::MAX` for none.
        pub deadline_ns: u64,
        /// out: bit `h` set when device handle `h` has input waiting.
        pub ready: u64,
    }
}

wire_struct! {
    /// `EXIT`: the guest is done; the tender exits with `status`.
    pub struct Exit {
        /// in: 0..=255. Larger values are a contract violation.
        pub status: u64,
    }
}

wire_struct! {
    /// `ABORT`: the guest gives up (a panic, a failed check). The tender prints
    /// the message, if any, and exits with [`crate::exit::ABORT`].
    pub struct Abort {
        /// in: address of a UTF-8 message, or 0 for none.
        pub message: u64,
        /// in: its length in bytes (cut at [`ABORT_MESSAGE_MAX`]).
        pub len: u64,
    }
}

wire_struct! {
    /// `FAULT`: on hvt the guest's exception handlers report a CPU exception
    /// and the tender stops the guest, naming it. The fields are the guest's
    /// own account and are printed, never trusted for anything else.
    pub struct Fault {
        /// in: exception vector (14 = page fault, 6 = invalid opcode, …).
        pub vector: u64,
        /// in: the CPU's error code, or 0.
        pub error_code: u64,
        /// in: instruction pointer of the faulting instruction.
        pub rip: u64,
        /// in: faulting address (CR2) for a page fault, else 0.
        pub address: u64,
    }
}

wire_struct! {
    /// `NET_INFO`: the MAC address, MTU and frame format of network device
    /// `handle`.
    pub struct NetInfo {
        /// in: device handle.
        pub handle: u64,
        /// out: the MAC address in bytes 0..6; bytes 6..8 are zero.
        pub mac: [u8; 8],
        /// out: the link's MTU (largest IP packet on the wire).
        pub mtu: u64,
        /// out: 1 when the device moves offloaded frames (see [`net_offload`]),
        /// 0 for plain Ethernet frames.
        pub offload: u64,
        /// out: the largest frame a read may return and a write may send:
        /// MTU + 14 for plain frames, [`net_offload::MAX_FRAME`] offloaded.
        pub max_frame: u64,
    }
}

/// Offloaded frames: what a net device declared with
/// [`manifest::NET_OFFLOAD`](crate::manifest::NET_OFFLOAD) moves when the
/// tender could set it up (`NET_INFO`'s `offload` is 1).
///
/// Each frame, read or written, is a 10-byte header (the `virtio_net_hdr`
/// of the virtio specification, 5.1.6, little-endian) followed by the
/// Ethernet frame. A TCP segment may then be up to 64 KiB: the host
/// splits one the guest sends into `gso_size` segments, and hands the
/// guest many received segments joined in one. Checksums may be left to
/// the other side (`NEEDS_CSUM`) or vouched for (`DATA_VALID`). This is how
/// the TAP's offloads reach the guest, so a 64 KiB transfer costs one
/// frame instead of 45.
pub mod net_offload {
    /// Bytes of header before each frame.
    pub const HEADER_LEN: usize = 10;
    /// The largest offloaded frame: a header, Ethernet, and a 64 KiB IP
    /// packet.
    pub const MAX_FRAME: u64 = HEADER_LEN as u64 + 14 + 65535;
    /// `flags`: the TCP or UDP checksum is partial (the pseudo-header sum
    /// only): the bytes from `csum_start` to the end are to be summed into
    /// the field at `csum_start + csum_offset`.
    pub const NEEDS_CSUM: u8 = 1;
    /// `flags` (received only): the host has checked the checksums.
    pub const DATA_VALID: u8 = 2;
    /// `gso_type`: one segment.
    pub const GSO_NONE: u8 = 0;
    /// `gso_type`: TCP over IPv4, to be cut in `gso_size` segments.
    pub const GSO_TCPV4: u8 = 1;
    /// `gso_type`: TCP over IPv6.
    pub const GSO_TCPV6: u8 = 4;
    /// `gso_type` bit: ECN (not used by Oasis, refused by its guests).
    pub const GSO_ECN: u8 = 0x80;

    // The header's layout, 10 bytes, little-endian: `flags: u8`,
    // `gso_type: u8`, `hdr_len: u16` (bytes of Ethernet, IP and TCP
    // headers), `gso_size: u16` (payload bytes per segment), `csum_start:
    // u16` (from the Ethernet header), `csum_offset: u16` (from
    // `csum_start`). `oasis_devices::OffloadHeader` reads and writes it.
}

wire_struct! {
    /// `NET_WRITE` and `NET_READ`: one Ethernet frame (no FCS), with its
    /// [`net_offload`] header first on an offloading device.
    ///
    /// Write: `len` bytes at `data` are sent; `len` MUST be at most
    /// `NET_INFO`'s `max_frame`. Read: at most `len` bytes are stored at
    /// `data`; `len` MUST be at least `max_frame`; `out_len` is the frame's
    /// length, `result` is [`result::AGAIN`] when no frame is waiting.
    pub struct NetIo {
        /// in: device handle.
        pub handle: u64,
        /// in: buffer address.
        pub data: u64,
        /// in: buffer length.
        pub len: u64,
        /// out: bytes read (`NET_READ`), 0 for writes.
        pub out_len: u64,
        /// out: a [`result`] code.
        pub result: u64,
    }
}

/// Most frames in one batch call.
pub const NET_BATCH_MAX: u64 = 64;

wire_struct! {
    /// One frame of a batch: a buffer and its length.
    pub struct NetFrame {
        /// in: buffer address.
        pub data: u64,
        /// in: frame length (write) or buffer length, at least `max_frame` (read);
        /// out (read): the frame's length.
        pub len: u64,
    }
}

wire_struct! {
    /// `NET_WRITE_BATCH` and `NET_READ_BATCH`: many frames per exit, the same
    /// rules as `NET_WRITE` and `NET_READ` applying to each frame.
    ///
    /// Write: frames `0..count` are sent in order; `out_count` is how many
    /// were (fewer only when the device is busy: `result` is then `AGAIN`).
    /// Read: frames are stored in buffers `0..` until none waits or `count`
    /// are filled; `out_count` says how many, each `len` the frame's length;
    /// `result` is `AGAIN` when none waited.
    pub struct NetBatch {
        /// in: device handle.
        pub handle: u64,
        /// in: address of `count` [`NetFrame`]s.
        pub frames: u64,
        /// in: how many, at most [`NET_BATCH_MAX`].
        pub count: u64,
        /// out: how many were sent or received.
        pub out_count: u64,
        /// out: a [`result`] code.
        pub result: u64,
    }
}

wire_struct! {
    /// `BLOCK_INFO`: geometry of block device `handle`.
    pub struct BlockInfo {
        /// in: device handle.
        pub handle: u64,
        /// out: capacity in bytes, a multiple of `block_size`.
        pub capacity: u64,
        /// out: block size in bytes, a power of two of at least 512.
        pub block_size: u64,
    }
}

wire_struct! {
    /// `BLOCK_READ` and `BLOCK_WRITE`: whole blocks. `offset` and `len` MUST be
    /// multiples of the block size, `len` non-zero and `offset + len` at most
    /// the capacity. A write is durable only after a later `BLOCK_FLUSH`
    /// returns [`result::OK`].
    pub struct BlockIo {
        /// in: device handle.
        pub handle: u64,
        /// in: byte offset on the device.
        pub offset: u64,
        /// in: buffer address.
        pub data: u64,
        /// in: buffer length in bytes.
        pub len: u64,
        /// out: a [`result`] code.
        pub result: u64,
    }
}

wire_struct! {
    /// `BLOCK_FLUSH`: returns once every earlier write to `handle` is durable.
    pub struct BlockFlush {
        /// in: device handle.
        pub handle: u64,
        /// out: a [`result`] code.
        pub result: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Little-endian bytes of `words`, back to back.
    fn words(words: &[u64]) -> [u8; MAX_ARG_SIZE] {
        let mut out = [0u8; MAX_ARG_SIZE];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    fn encoded<T: Wire>(value: &T) -> [u8; MAX_ARG_SIZE] {
        let mut out = [0u8; MAX_ARG_SIZE];
        value.encode(&mut out);
        out
    }

    /// The documented layouts (docs/abi.md), field by field: a struct whose
    /// fields were reordered fails here instead of breaking a guest.
    #[test]
    fn encodings_are_the_documented_layouts() {
        let io = BlockIo { handle: 1, offset: 2, data: 3, len: 4, result: 5 };
        assert_eq!(encoded(&io), words(&[1, 2, 3, 4, 5]));
        let batch = NetBatch { handle: 1, frames: 2, count: 3, out_count: 4, result: 5 };
        assert_eq!(encoded(&batch), words(&[1, 2, 3, 4, 5]));
        let net = NetIo { handle: 1, data: 2, len: 3, out_len: 4, result: 5 };
        assert_eq!(encoded(&net), words(&[1, 2, 3, 4, 5]));
        let info = NetInfo { handle: 9, mac: [1, 2, 3, 4, 5, 6, 0, 0], mtu: 1500, offload: 1, max_frame: 1514 };
        assert_eq!(encoded(&info), words(&[9, 0x0605_0403_0201, 1500, 1, 1514]));
        assert_eq!(encoded(&Yield { deadline_ns: 7, ready: 8 }), words(&[7, 8]));
        assert_eq!(encoded(&Fault { vector: 14, error_code: 2, rip: 3, address: 4 }), words(&[14, 2, 3, 4]));
        assert_eq!(encoded(&BlockInfo { handle: 1, capacity: 2, block_size: 3 }), words(&[1, 2, 3]));
        assert_eq!(encoded(&NetFrame { data: 1, len: 2 }), words(&[1, 2]));
    }

    #[test]
    fn decode_inverts_encode() {
        let info = NetInfo { handle: 9, mac: [1, 2, 3, 4, 5, 6, 0, 0], mtu: 1500, offload: 1, max_frame: 1514 };
        assert_eq!(NetInfo::decode(&encoded(&info)), info);
        let io = BlockIo { handle: 1, offset: u64::MAX, data: 3, len: 4, result: 5 };
        assert_eq!(BlockIo::decode(&encoded(&io)), io);
        // Short input reads as zeros rather than panicking.
        assert_eq!(BlockIo::decode(&[1]), BlockIo { handle: 1, ..BlockIo::default() });
    }

    #[test]
    fn every_call_has_a_name_and_an_argument_size() {
        for n in 0..nr::COUNT + 8 {
            assert_eq!(nr::name(n).is_some(), arg_size(n).is_some(), "call {n}");
        }
        assert_eq!(arg_size(nr::BLOCK_READ), Some(40));
        assert_eq!(<op::ClockWall as Hypercall>::NR, nr::CLOCK_WALL);
        assert_eq!(nr::COUNT, 36);
    }
}
