//! Exit statuses of a tender.
//!
//! A guest's own `EXIT` status (0..=255) passes through unchanged. The
//! tender uses the values below for everything else; they sit at the top of
//! the range, where guests rarely go, and every one of them is accompanied
//! by a one-line message on standard error naming the cause.

/// The guest aborted: `ABORT`, a panic, running out of memory.
pub const ABORT: u8 = 255;

/// The tender stopped the guest: a CPU fault, a broken contract (bad
/// address, unknown call, undeclared handle), a forbidden system call on
/// spt, or `--timeout`.
pub const STOPPED: u8 = 254;

/// The tender refused to start the guest: an unreadable or malformed image,
/// an ABI version mismatch, a bad flag, a device that cannot be bound.
pub const REFUSED: u8 = 253;
