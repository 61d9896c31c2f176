//! Clearing what a guest sharing this process must not read: the
//! environment and the command line the kernel placed on the initial stack,
//! the bytes of `AT_RANDOM`, and descriptors the guest's devices do not
//! need. Called in the spt guest's process before its sandbox closes.

use std::io;
use std::os::fd::RawFd;

/// `/proc/self/stat` fields 48 to 51 (1-based): where the kernel put the
/// argument and environment strings.
fn string_area() -> io::Result<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: the last ')' ends it.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| io::Error::other("no ')' in /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let field = |n: usize| -> io::Result<usize> {
        fields.get(n - 3).and_then(|v| v.parse().ok()).ok_or_else(|| io::Error::other(format!("field {n}")))
    };
    Ok((field(48)?, field(51)?))
}

/// Zeroes the argument and environment strings the kernel placed on the
/// initial stack (so `environ` and `argv` then point at empty strings),
/// the 16 `AT_RANDOM` bytes and the `AT_EXECFN` string. Returns how many
/// bytes were cleared.
pub fn scrub_process_strings() -> io::Result<usize> {
    let (start, end) = string_area()?;
    if end <= start {
        return Ok(0);
    }
    // SAFETY: the kernel reports [arg_start, env_end) as the argument and
    // environment strings of this process, mapped and writable on the
    // initial stack; nothing in Oasis reads them after parsing its command
    // line, so overwriting them cannot break a live borrow.
    unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    let mut cleared = end - start;
    // SAFETY: getauxval has no preconditions.
    let random = unsafe { libc::getauxval(libc::AT_RANDOM) } as usize;
    if random != 0 {
        // SAFETY: AT_RANDOM points at 16 bytes on the initial stack.
        unsafe { std::ptr::write_bytes(random as *mut u8, 0, 16) };
        cleared += 16;
    }
    // SAFETY: getauxval has no preconditions.
    let execfn = unsafe { libc::getauxval(libc::AT_EXECFN) } as usize;
    if execfn != 0 {
        // SAFETY: AT_EXECFN points at a NUL-terminated string on the
        // initial stack, writable like the rest of it.
        unsafe {
            let len = libc::strlen(execfn as *const libc::c_char);
            std::ptr::write_bytes(execfn as *mut u8, 0, len);
            cleared += len;
        }
    }
    Ok(cleared)
}

/// Closes every descriptor of this process except those in `keep`.
pub fn close_other_fds(keep: &[RawFd]) -> io::Result<()> {
    let open: Vec<RawFd> =
        std::fs::read_dir("/proc/self/fd")?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in open {
        if !keep.contains(&fd) {
            // SAFETY: closing a descriptor this process owns and no Rust
            // object of the caller's wraps (the caller keeps those in
            // `keep`); the directory stream's own descriptor is already
            // closed, and closing it again only fails with EBADF.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}
