//! Image files are hostile: parsing one never panics, and an accepted
//! image's segments are sorted, non-overlapping and inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_tender::Image;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = Image::parse(data) {
        for pair in image.segments.windows(2) {
            assert!(pair[0].addr + pair[0].mem_len <= pair[1].addr);
        }
        for s in &image.segments {
            assert!(s.file_offset + s.file_len <= data.len() as u64);
            assert!(s.addr >= oasis_abi::layout::KERNEL_BASE);
        }
    }
});
