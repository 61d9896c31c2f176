//! Reading boot info and the argument strings.

use alloc::vec::Vec;

use oasis_abi::{BootInfo, boot::BOOT_MAGIC, layout};

/// Copies boot info out of guest memory. Returns `None` when it is not
/// valid boot info for this ABI version.
pub(crate) fn read(addr: u64) -> Option<BootInfo> {
    if addr != layout::BOOT_INFO_ADDR {
        return None;
    }
    // SAFETY: every tender writes a `BootInfo` at BOOT_INFO_ADDR before entry
    // and passes its address, which we just checked; the struct is plain
    // old data, so any bit pattern is a valid value to copy.
    let info = unsafe { core::ptr::read_volatile(addr as *const BootInfo) };
    (info.magic == BOOT_MAGIC && info.abi_version == oasis_abi::ABI_VERSION).then_some(info)
}

/// The boot arguments, borrowed from the boot-info area (which nothing
/// writes after boot), or the index of the first one that is not UTF-8.
pub(crate) fn args(info: &BootInfo) -> Result<Vec<&'static str>, usize> {
    let start = info.argv;
    let len = info.args_len;
    let in_area =
        start >= layout::BOOT_INFO_ADDR && start.checked_add(len).is_some_and(|end| end <= layout::BOOT_INFO_END);
    if !in_area || len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the argument area lies inside the boot-info area (checked
    // above), which the tender filled and nothing writes after boot.
    let bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(start as *const u8, len as usize) };
    bytes
        .split(|&b| b == 0)
        .take(info.argc as usize)
        .enumerate()
        .map(|(i, s)| core::str::from_utf8(s).map_err(|_| i))
        .collect()
}
