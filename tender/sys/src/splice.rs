//! Moving bytes between sockets without copying them through user space:
//! `splice(2)` into a pipe and out of it again.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// A non-blocking pipe to splice through (both ends closed on exec).
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

fn splice(from: libc::c_int, to: libc::c_int, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make the kernel use (and advance) each
    // descriptor's own position; no memory of this process is touched.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

impl Pipe {
    /// A new pipe of the kernel's default capacity (64 KiB).
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both were just returned open and are owned by no one else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }

    /// Moves up to `len` bytes from `from` (a socket or file) into the
    /// pipe; 0 is the end of `from`'s input, `WouldBlock` that `from` has
    /// nothing now or the pipe is full.
    pub fn fill_from(&self, from: &impl AsFd, len: usize) -> io::Result<usize> {
        splice(from.as_fd().as_raw_fd(), self.write.as_raw_fd(), len)
    }

    /// Moves up to `len` bytes from the pipe into `to`; `WouldBlock` when
    /// `to` has no room (or the pipe is empty).
    pub fn drain_to(&self, to: &impl AsFd, len: usize) -> io::Result<usize> {
        splice(self.read.as_raw_fd(), to.as_fd().as_raw_fd(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn bytes_go_from_socket_to_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (d, _) = listener.accept().unwrap();
        b.set_nonblocking(true).unwrap();
        let pipe = Pipe::new().unwrap();
        assert_eq!(pipe.fill_from(&b, 100).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        a.write_all(b"hello").unwrap();
        let mut got = 0;
        for _ in 0..1000 {
            match pipe.fill_from(&b, 100) {
                Ok(n) => {
                    got = n;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, 5);
        assert_eq!(pipe.drain_to(&d, 100).unwrap(), 5);
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        drop(a);
        b.set_nonblocking(false).unwrap();
        assert_eq!(pipe.fill_from(&b, 100).unwrap(), 0);
    }
}
