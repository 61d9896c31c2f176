//! Tender command lines (NUL-separated arguments) never panic the parser.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use oasis_tender::TenderArgs;

fuzz_target!(|data: &[u8]| {
    let args = data.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec()));
    if let Ok(parsed) = TenderArgs::parse(args) {
        assert!(parsed.mem >= oasis_abi::layout::MIN_MEM_SIZE && parsed.mem <= oasis_abi::layout::MAX_MEM_SIZE);
    }
});
