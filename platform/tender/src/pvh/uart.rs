//! The console of a PVH boot: the 16550 UART at COM1 (port 0x3f8), as
//! QEMU (`-serial`) and Firecracker (its serial console) both offer it.
//! Output only, polled: no interrupts.

use super::io::{inb, outb, pause};

const COM1: u16 = 0x3f8;
/// Line status register: bit 5, the transmit holding register is empty.
const LSR: u16 = COM1 + 5;
const LSR_THRE: u8 = 0x20;

/// 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on,
/// interrupts off.
pub(super) fn init() {
    outb(COM1 + 1, 0x00); // no interrupts
    outb(COM1 + 3, 0x80); // DLAB: the next two bytes are the divisor
    outb(COM1, 0x01); // 115200 / 1
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); // 8N1, DLAB off
    outb(COM1 + 2, 0xc7); // FIFOs on and cleared
    outb(COM1 + 4, 0x03); // DTR, RTS; OUT2 off: no interrupts
}

/// Writes `bytes`, waiting for room before each.
pub(crate) fn write(bytes: &[u8]) {
    for &b in bytes {
        // A missing UART reads as 0xff: "empty", so this never hangs there.
        while inb(LSR) & LSR_THRE == 0 {
            pause();
        }
        outb(COM1, b);
    }
}

/// A `core::fmt` writer straight to the UART (for the platform's own
/// lines: they bypass the console buffer, which may be what failed).
pub(crate) struct Uart;

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}
