//! Allocates until memory runs out: must end with a clear message and a
//! non-zero status, not a hang or a corrupt heap.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use oasis::alloc::vec::Vec;

#[oasis::main]
async fn main(_os: oasis::Os) {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(1 << 20);
        chunk.resize(1 << 20, 1);
        hoard.push(core::hint::black_box(chunk));
    }
}
