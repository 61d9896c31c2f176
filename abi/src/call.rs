//! Hypercalls: numbers, argument structs and result codes.
//!
//! A hypercall names a call number and the guest address of its argument
//! struct. The tender reads the struct, checks every field, acts, and writes
//! the `out` fields back. Each argument struct is `#[repr(C)]`, 8-byte
//! aligned, and made of little-endian `u64`s (or byte arrays), so its layout
//! is the same for every compiler.
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

/// hvt: the I/O port of call `n` is `HVT_PORT_BASE + n`.
pub const HVT_PORT_BASE: u16 = 0x500;

/// Call numbers.
pub mod nr {
    /// Write bytes to the console: [`ConsoleWrite`](super::ConsoleWrite).
    pub const CONSOLE_WRITE: u64 = 1;
    /// Wall-clock time: [`Clock`](super::Clock).
    pub const CLOCK_WALL: u64 = 2;
    /// Monotonic time: [`Clock`](super::Clock).
    pub const CLOCK_MONOTONIC: u64 = 3;
    /// Sleep until a deadline or device input: [`Yield`](super::Yield).
    pub const YIELD: u64 = 4;
    /// Leave with a status: [`Exit`](super::Exit).
    pub const EXIT: u64 = 5;
    /// Leave abnormally, with an optional message: [`Abort`](super::Abort).
    pub const ABORT: u64 = 6;
    /// Report a CPU exception caught by the guest's handlers (hvt):
    /// [`Fault`](super::Fault).
    pub const FAULT: u64 = 7;
    /// Network device information: [`NetInfo`](super::NetInfo).
    pub const NET_INFO: u64 = 16;
    /// Send one Ethernet frame: [`NetIo`](super::NetIo).
    pub const NET_WRITE: u64 = 17;
    /// Receive one Ethernet frame: [`NetIo`](super::NetIo).
    pub const NET_READ: u64 = 18;
    /// Send up to [`NET_BATCH_MAX`](super::NET_BATCH_MAX) frames in one
    /// call: [`NetBatch`](super::NetBatch).
    pub const NET_WRITE_BATCH: u64 = 19;
    /// Receive up to [`NET_BATCH_MAX`](super::NET_BATCH_MAX) frames in one
    /// call: [`NetBatch`](super::NetBatch).
    pub const NET_READ_BATCH: u64 = 20;
    /// Block device information: [`BlockInfo`](super::BlockInfo).
    pub const BLOCK_INFO: u64 = 32;
    /// Write whole blocks: [`BlockIo`](super::BlockIo).
    pub const BLOCK_WRITE: u64 = 33;
    /// Read whole blocks: [`BlockIo`](super::BlockIo).
    pub const BLOCK_READ: u64 = 34;
    /// Make earlier writes durable: [`BlockFlush`](super::BlockFlush).
    pub const BLOCK_FLUSH: u64 = 35;
    /// One past the highest call number.
    pub const COUNT: u64 = 36;

    /// A short name for diagnostics (`"console-write"`), or `None` for a
    /// number that is not a call.
    pub const fn name(n: u64) -> Option<&'static str> {
        Some(match n {
            CONSOLE_WRITE => "console-write",
            CLOCK_WALL => "clock-wall",
            CLOCK_MONOTONIC => "clock-monotonic",
            YIELD => "yield",
            EXIT => "exit",
            ABORT => "abort",
            FAULT => "fault",
            NET_INFO => "net-info",
            NET_WRITE => "net-write",
            NET_READ => "net-read",
            NET_WRITE_BATCH => "net-write-batch",
            NET_READ_BATCH => "net-read-batch",
            BLOCK_INFO => "block-info",
            BLOCK_WRITE => "block-write",
            BLOCK_READ => "block-read",
            BLOCK_FLUSH => "block-flush",
            _ => return None,
        })
    }
}

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

/// Longest console write in one call. Longer writes are a contract
/// violation; the guest splits them.
pub const CONSOLE_WRITE_MAX: u64 = 64 * 1024;

/// Longest abort message; a longer one is cut, not refused.
pub const ABORT_MESSAGE_MAX: u64 = 4096;

/// `CONSOLE_WRITE`: `len` bytes at `data` go to the console. The tender
/// never blocks on a slow console for longer than the write itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleWrite {
    /// in: address of the bytes.
    pub data: u64,
    /// in: number of bytes, at most [`CONSOLE_WRITE_MAX`].
    pub len: u64,
}

/// `CLOCK_WALL` and `CLOCK_MONOTONIC`.
///
/// Monotonic time is nanoseconds since an arbitrary point before boot and
/// never goes back. Wall time is nanoseconds since the Unix epoch and may
/// jump. On hvt the guest reads both from the TSC without a call (see
/// [`BootInfo`](crate::BootInfo)); the calls remain valid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// out: the time in nanoseconds.
    pub ns: u64,
}

/// `YIELD`: give the CPU back until monotonic time reaches `deadline_ns` or
/// a declared device has input, whichever is first. The tender MAY return
/// early; the guest re-checks its own deadlines. A deadline in the past
/// polls the devices and returns at once.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Yield {
    /// in: absolute monotonic deadline in nanoseconds; `u64::MAX` for none.
    pub deadline_ns: u64,
    /// out: bit `h` set when device handle `h` has input waiting.
    pub ready: u64,
}

/// `EXIT`: the guest is done; the tender exits with `status`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exit {
    /// in: 0..=255. Larger values are a contract violation.
    pub status: u64,
}

/// `ABORT`: the guest gives up (a panic, a failed check). The tender prints
/// the message, if any, and exits with [`crate::exit::ABORT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Abort {
    /// in: address of a UTF-8 message, or 0 for none.
    pub message: u64,
    /// in: its length in bytes (cut at [`ABORT_MESSAGE_MAX`]).
    pub len: u64,
}

/// `FAULT`: on hvt the guest's exception handlers report a CPU exception
/// and the tender stops the guest, naming it. The fields are the guest's
/// own account and are printed, never trusted for anything else.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// `NET_INFO`: the MAC address, MTU and frame format of network device
/// `handle`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// `NET_WRITE` and `NET_READ`: one Ethernet frame (no FCS), with its
/// [`net_offload`] header first on an offloading device.
///
/// Write: `len` bytes at `data` are sent; `len` MUST be at most
/// `NET_INFO`'s `max_frame`. Read: at most `len` bytes are stored at
/// `data`; `len` MUST be at least `max_frame`; `out_len` is the frame's
/// length, `result` is [`result::AGAIN`] when no frame is waiting.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// Most frames in one batch call.
pub const NET_BATCH_MAX: u64 = 64;

/// One frame of a batch: a buffer and its length.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetFrame {
    /// in: buffer address.
    pub data: u64,
    /// in: frame length (write) or buffer length, at least `max_frame` (read);
    /// out (read): the frame's length.
    pub len: u64,
}

/// `NET_WRITE_BATCH` and `NET_READ_BATCH`: many frames per exit, the same
/// rules as `NET_WRITE` and `NET_READ` applying to each frame.
///
/// Write: frames `0..count` are sent in order; `out_count` is how many
/// were (fewer only when the device is busy: `result` is then `AGAIN`).
/// Read: frames are stored in buffers `0..` until none waits or `count`
/// are filled; `out_count` says how many, each `len` the frame's length;
/// `result` is `AGAIN` when none waited.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// `BLOCK_INFO`: geometry of block device `handle`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockInfo {
    /// in: device handle.
    pub handle: u64,
    /// out: capacity in bytes, a multiple of `block_size`.
    pub capacity: u64,
    /// out: block size in bytes, a power of two of at least 512.
    pub block_size: u64,
}

/// `BLOCK_READ` and `BLOCK_WRITE`: whole blocks. `offset` and `len` MUST be
/// multiples of the block size, `len` non-zero and `offset + len` at most
/// the capacity. A write is durable only after a later `BLOCK_FLUSH`
/// returns [`result::OK`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// `BLOCK_FLUSH`: returns once every earlier write to `handle` is durable.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockFlush {
    /// in: device handle.
    pub handle: u64,
    /// out: a [`result`] code.
    pub result: u64,
}

macro_rules! assert_layout {
    ($($t:ty => $size:expr),* $(,)?) => {
        $(const _: () = {
            assert!(core::mem::size_of::<$t>() == $size);
            assert!(core::mem::align_of::<$t>() == 8);
        };)*
    };
}

assert_layout! {
    ConsoleWrite => 16,
    Clock => 8,
    Yield => 16,
    Exit => 8,
    Abort => 16,
    Fault => 32,
    NetInfo => 40,
    NetIo => 40,
    NetFrame => 16,
    NetBatch => 40,
    BlockInfo => 24,
    BlockIo => 40,
    BlockFlush => 16,
}
