//! The console: output buffered in guest memory and written with one
//! hypercall per flush, so a boot that prints a few lines costs one exit.

use oasis_abi::{CONSOLE_WRITE_MAX, ConsoleWrite, op};

use crate::hypercall;

const BUFFER_SIZE: usize = 4096;
const _: () = assert!(BUFFER_SIZE as u64 <= CONSOLE_WRITE_MAX);

struct Buffer {
    bytes: [u8; BUFFER_SIZE],
    len: usize,
}

static CONSOLE: spin::Mutex<Buffer> = spin::Mutex::new(Buffer { bytes: [0; BUFFER_SIZE], len: 0 });

fn write_now(bytes: &[u8]) {
    if hypercall::is_pvh() {
        crate::pvh::uart::write(bytes);
        return;
    }
    for chunk in bytes.chunks(CONSOLE_WRITE_MAX as usize) {
        let mut arg = ConsoleWrite { data: chunk.as_ptr().addr() as u64, len: chunk.len() as u64 };
        hypercall::call::<op::ConsoleWrite>(&mut arg);
    }
}

fn flush_locked(buf: &mut Buffer) {
    if buf.len > 0 {
        write_now(&buf.bytes[..buf.len]);
        buf.len = 0;
    }
}

/// Appends to the buffer, flushing when it fills.
pub(crate) fn write(mut bytes: &[u8]) {
    let mut buf = CONSOLE.lock();
    while !bytes.is_empty() {
        if buf.len == BUFFER_SIZE {
            flush_locked(&mut buf);
        }
        if buf.len == 0 && bytes.len() >= BUFFER_SIZE {
            write_now(bytes);
            return;
        }
        let n = bytes.len().min(BUFFER_SIZE - buf.len);
        let at = buf.len;
        buf.bytes[at..at + n].copy_from_slice(&bytes[..n]);
        buf.len += n;
        bytes = &bytes[n..];
    }
}

/// Sends what is buffered.
pub(crate) fn flush() {
    flush_locked(&mut CONSOLE.lock());
}

/// Flushes unless the buffer is locked (a panic inside console code):
/// then the buffered bytes are lost rather than the abort deadlocking.
pub(crate) fn flush_for_exit() {
    if let Some(mut buf) = CONSOLE.try_lock() {
        flush_locked(&mut buf);
    }
}
