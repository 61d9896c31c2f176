//! Socket calls the standard library does not offer: a connect that does
//! not wait, and the per-process descriptor limit.

use std::io;
use std::net::{SocketAddrV4, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};

/// Starts a TCP connection to `to` from a non-blocking socket made in
/// the calling thread's network namespace, without waiting for it: the
/// socket becomes writable when the connection is made or has failed
/// (then `TcpStream::take_error` says why).
pub fn connect_nonblocking(to: SocketAddrV4) -> io::Result<TcpStream> {
    // SAFETY: socket takes no pointers; a non-negative result is a new
    // descriptor that nothing else owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned open and is owned by no one else; the
    // OwnedFd closes it on every way out.
    let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*to.ip()).to_be() },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in of `len` bytes that the kernel
    // only reads; the descriptor is open.
    let rc = unsafe {
        libc::connect(std::os::fd::AsRawFd::as_raw_fd(&stream), (&raw const addr).cast::<libc::sockaddr>(), len)
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(stream)
}

/// Sets how many connections `listener` queues before they are accepted
/// (the standard library's 128 drops the SYNs of a burst of thousands;
/// the kernel caps it at `net.core.somaxconn`).
pub fn set_backlog(listener: &std::net::TcpListener, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen takes no pointers; on a listening socket it only
    // changes the queue length.
    if unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(listener), backlog) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises this process's limit on open descriptors as far as it may go,
/// up to `want`: the hard limit too when the process may (CAP_SYS_RESOURCE,
/// capped by `fs.nr_open`), else the soft limit to the hard one. Returns
/// the soft limit in force afterwards.
pub fn raise_nofile_limit(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit the kernel writes.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(lim.rlim_max);
    let target = want.min(nr_open).max(lim.rlim_cur);
    if target > lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: target, rlim_max: target };
        // SAFETY: `raised` is a valid rlimit the kernel only reads.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(target);
        }
    }
    let soft = libc::rlimit { rlim_cur: target.min(lim.rlim_max), rlim_max: lim.rlim_max };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(soft.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    #[test]
    fn connects_without_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(addr) = listener.local_addr().unwrap() else { unreachable!() };
        let s = connect_nonblocking(addr).unwrap();
        let (_peer, from) = listener.accept().unwrap();
        assert_eq!(from, s.local_addr().unwrap());
        assert!(s.take_error().unwrap().is_none());
        // A closed port: the failure shows in SO_ERROR (or at once).
        drop(listener);
        if let Ok(s) = connect_nonblocking(SocketAddrV4::new(Ipv4Addr::LOCALHOST, addr.port())) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(s.take_error().unwrap().is_some());
        }
    }

    #[test]
    fn the_limit_is_raised_at_least_to_the_soft_one() {
        let now = raise_nofile_limit(0).unwrap();
        assert!(raise_nofile_limit(now + 1).unwrap() >= now);
    }
}
