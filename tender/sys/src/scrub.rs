//! Clearing what a guest sharing this process must not read: the
//! environment and the command line the kernel placed on the initial stack,
//! the bytes of `AT_RANDOM`, and descriptors the guest's devices do not
//! need. Called in the spt guest's process before its sandbox closes.

use std::io;
use std::os::fd::RawFd;

/// Longest `/proc/self/stat` read: 52 fields of at most 20 digits each
/// and a command name of at most 64 bytes fit in well under this.
const STAT_MAX: usize = 2048;

/// `/proc/self/stat` fields 48 to 51 (1-based): where the kernel put the
/// argument and environment strings. Read with one `open` and raw `read`s
/// into a stack buffer: this runs at every boot, and a `std::fs` read
/// would add an `fstat` and two allocations.
fn string_area() -> io::Result<(usize, usize)> {
    let mut buf = [0u8; STAT_MAX];
    let len = read_small(c"/proc/self/stat", &mut buf)?;
    parse_string_area(&buf[..len])
}

/// Reads the whole of a small file into `buf`; more than `buf` holds is
/// an error.
fn read_small(path: &std::ffi::CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `path` is a NUL-terminated string; the descriptor is closed
    // below on every path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut len = 0;
    let result = loop {
        if len == buf.len() {
            break Err(io::Error::other("/proc/self/stat is longer than expected"));
        }
        // SAFETY: writes at most `buf.len() - len` bytes into `buf` past
        // its first `len` bytes, inside the buffer.
        let n = unsafe { libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len) };
        match n {
            0 => break Ok(len),
            n if n > 0 => len += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    break Err(e);
                }
            }
        }
    };
    // SAFETY: `fd` was opened above and nothing else owns it.
    unsafe { libc::close(fd) };
    result
}

/// Fields 48 and 51 of the text of `/proc/self/stat`.
fn parse_string_area(stat: &[u8]) -> io::Result<(usize, usize)> {
    // Fields after the command name, which is in parentheses and may hold
    // spaces or ')': the last ')' ends it.
    let close = stat.iter().rposition(|&b| b == b')').ok_or_else(|| io::Error::other("no ')' in /proc/self/stat"))?;
    // What follows the name starts at field 3.
    let mut fields = stat[close + 1..].split(u8::is_ascii_whitespace).filter(|f| !f.is_empty());
    let number = |f: Option<&[u8]>, n: usize| -> io::Result<usize> {
        f.and_then(|f| std::str::from_utf8(f).ok()?.parse().ok()).ok_or_else(|| io::Error::other(format!("field {n}")))
    };
    let start = number(fields.nth(48 - 3), 48)?;
    let end = number(fields.nth(51 - 48 - 1), 51)?;
    Ok((start, end))
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

/// Closes every descriptor of this process except those in `keep`: with
/// `close_range` over the gaps between the kept ones, or, where the kernel
/// has no `close_range` (before 5.9), by walking `/proc/self/fd` (slower:
/// reading that directory costs more than the rest of this together).
pub fn close_other_fds(keep: &[RawFd]) -> io::Result<()> {
    let mut kept: Vec<u32> = keep.iter().filter_map(|&fd| u32::try_from(fd).ok()).collect();
    kept.sort_unstable();
    kept.dedup();
    let mut from = 0u32;
    for fd in kept.iter().copied().chain([u32::MAX]) {
        if fd > from && close_range(from, fd - 1).is_err() {
            return close_other_fds_by_proc(keep);
        }
        // Past the last kept one, `u32::MAX` itself is left: no descriptor
        // can have that number (the limit is below `i32::MAX`).
        from = fd.saturating_add(1);
    }
    Ok(())
}

/// Closes descriptors `first..=last`.
fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: closes descriptors of this process that no Rust object of
    // the caller's wraps (the caller keeps those); no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// [`close_other_fds`] by the list in `/proc/self/fd`.
fn close_other_fds_by_proc(keep: &[RawFd]) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_area_matches_the_full_parse() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let rest = stat.rsplit_once(')').unwrap().1;
        let fields: Vec<usize> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
        assert_eq!(string_area().unwrap(), (fields[48 - 3], fields[51 - 3]));
    }

    #[test]
    fn a_command_name_with_parentheses_and_spaces() {
        let mut stat = b"42 (a) b ) c) S".to_vec();
        for n in 4..=52 {
            stat.extend_from_slice(format!(" {n}").as_bytes());
        }
        stat.push(b'\n');
        assert_eq!(parse_string_area(&stat).unwrap(), (48, 51));
        assert!(parse_string_area(b"42 (x) S 1 2").is_err());
        assert!(parse_string_area(b"no name").is_err());
    }
}
