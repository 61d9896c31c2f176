//! Panics end the guest with `ABORT`, the message and location included.

use core::fmt::Write;
use core::panic::PanicInfo;

use crate::platform;

/// A fixed buffer: formatting a panic must not allocate (the heap may be
/// what failed).
struct Message {
    bytes: [u8; 512],
    len: usize,
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut n = s.len().min(room);
        // Cut on a character boundary so the message stays UTF-8.
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut m = Message { bytes: [0; 512], len: 0 };
    let _ = match info.location() {
        Some(l) => write!(m, "panicked at {}:{}:{}: {}", l.file(), l.line(), l.column(), info.message()),
        None => write!(m, "panicked: {}", info.message()),
    };
    let text = core::str::from_utf8(&m.bytes[..m.len]).unwrap_or("panicked");
    platform::abort_message(text)
}
