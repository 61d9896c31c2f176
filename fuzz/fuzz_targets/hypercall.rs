//! Hypercall argument handling, as a hostile guest drives it: the input is
//! a stretch of guest memory followed by (call number, argument address)
//! pairs. The server must never panic, and guest memory may change only
//! inside the argument struct of the call being served.
#![no_main]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use oasis_abi::layout::GUEST_MIN_ADDR;
use oasis_tender::Hypercalls;
use oasis_tender::hypercall::arg_size;
use oasis_tender::memory::AccessMap;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const MEM: u64 = 256 << 10;
const WINDOW: u64 = 0x2_0000;

fn devnull() -> &'static File {
    static NULL: OnceLock<File> = OnceLock::new();
    NULL.get_or_init(|| File::options().write(true).open("/dev/null").expect("/dev/null"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(mem) = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM as usize)]) else { return };
    let (memory, calls) = data.split_at(data.len().min(4096));
    let _ = mem.write_slice(memory, GuestAddress(WINDOW));
    let mut server = Hypercalls::new(mem, AccessMap::flat(MEM), vec![], 0)
        .with_max_sleep(Duration::from_micros(1))
        .with_console(devnull().as_raw_fd());
    for call in calls.chunks_exact(10) {
        let number = u64::from(call[0] % 40);
        let raw = u64::from_le_bytes([call[1], call[2], call[3], call[4], call[5], call[6], call[7], call[8]]);
        let addr = if call[9] & 1 == 0 { WINDOW + (raw % 4096) } else { raw };
        let mut before = vec![0u8; MEM as usize];
        let _ = server.memory().read_slice(&mut before, GuestAddress(0));
        let stopped = server.handle(number, addr).is_err();
        let mut after = vec![0u8; MEM as usize];
        let _ = server.memory().read_slice(&mut after, GuestAddress(0));
        let end = addr.saturating_add(arg_size(number));
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            let i = i as u64;
            assert!(
                a == b || (i >= addr && i < end && addr >= GUEST_MIN_ADDR),
                "byte {i:#x} changed outside the argument"
            );
        }
        if stopped {
            break;
        }
    }
});
