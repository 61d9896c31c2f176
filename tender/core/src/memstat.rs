//! `--stats` memory figures: the tender's peak resident set and how much
//! of guest memory the guest actually touched.
//!
//! Both are read at the end of the run, inside the sandbox, without
//! allocating: `/proc/self/status` is opened before the sandbox and read
//! with `pread` (`VmHWM` is per address space, so it is this process's own
//! peak, unlike `ru_maxrss`, which counts the parent's pages from before
//! `exec`); residency comes from `mincore` into a buffer sized up front.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::seccomp::Policy;

/// Handles for measuring memory at the end of a run.
pub struct MemoryStats {
    status: File,
    guest_host_addr: usize,
    guest_len: usize,
    residency: Vec<u8>,
}

/// The figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryReport {
    /// Peak resident set of the whole tender process, KiB.
    pub peak_rss_kib: u64,
    /// Guest memory resident at the end, KiB.
    pub guest_touched_kib: u64,
}

impl MemoryStats {
    /// Prepares to measure a process whose guest memory is mapped at
    /// `guest_host_addr` for `guest_len` bytes.
    pub fn open(guest_host_addr: usize, guest_len: usize) -> std::io::Result<MemoryStats> {
        let status = File::open("/proc/self/status")?;
        Ok(MemoryStats { status, guest_host_addr, guest_len, residency: vec![0; guest_len.div_ceil(4096)] })
    }

    /// The sandbox rules measuring needs.
    pub fn allow(&self, policy: Policy) -> Policy {
        policy
            .allow_pinned(
                libc::SYS_pread64,
                "pread64",
                0,
                self.status.as_raw_fd() as u64,
                "--stats: read VmHWM from /proc/self/status",
            )
            .allow(libc::SYS_mincore, "mincore", "--stats: count guest pages the guest touched")
    }

    /// Measures now.
    pub fn measure(&mut self) -> MemoryReport {
        let mut buf = [0u8; 4096];
        // SAFETY: `buf` is a live, writable buffer of the length passed.
        let n = unsafe { libc::pread(self.status.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let text = if n > 0 { &buf[..n as usize] } else { &buf[..0] };
        let peak_rss_kib = text
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"VmHWM:"))
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        // SAFETY: the range is the guest mapping (page-aligned), and
        // `residency` has one byte per page of it.
        let rc = unsafe {
            libc::mincore(self.guest_host_addr as *mut libc::c_void, self.guest_len, self.residency.as_mut_ptr())
        };
        let pages = if rc == 0 { self.residency.iter().filter(|&&b| b & 1 != 0).count() as u64 } else { 0 };
        MemoryReport { peak_rss_kib, guest_touched_kib: pages * 4 }
    }
}
