//! Networking on the unix target: the host's sockets, or a TAP device
//! under the unikernel's own stack.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use oasis_devices::{DeviceError, NetDevice, NetInfo};
use oasis_net::{NetError, Stack, TcpListener, TcpStream, UdpSocket};
use oasis_tap::Tap;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::reactor;

fn net_error(e: &io::Error) -> NetError {
    match e.kind() {
        io::ErrorKind::AddrInUse => NetError::AddressInUse,
        io::ErrorKind::ConnectionRefused => NetError::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
            NetError::Reset
        }
        io::ErrorKind::TimedOut => NetError::TimedOut,
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            NetError::Unreachable
        }
        _ => NetError::Device,
    }
}

/// Shows IPv4 peers of a dual-stack socket as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The host's TCP/IP stack through ordinary sockets: no privileges, no
/// TAP, the host's addresses. For development; the unikernel's own stack
/// is not involved.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostStack;

/// A listening host socket (dual-stack where the host allows).
#[derive(Debug)]
pub struct HostListener {
    socket: std::net::TcpListener,
    port: u16,
}

/// A host TCP connection.
#[derive(Debug)]
pub struct HostStream {
    socket: std::net::TcpStream,
    /// The last read took less than it asked for: the socket is most
    /// likely empty, so the next read waits for the reactor to say it is
    /// readable instead of trying first (a `recv` that would only fail
    /// with EAGAIN, one per request on a request-reply connection).
    drained: bool,
}

/// A host UDP socket.
#[derive(Debug)]
pub struct HostUdp {
    socket: std::net::UdpSocket,
    port: u16,
}

fn bind_socket(ty: Type, proto: Protocol, port: u16) -> io::Result<Socket> {
    let dual = Socket::new(Domain::IPV6, ty, Some(proto)).and_then(|s| {
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.bind(&SockAddr::from(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))))?;
        Ok(s)
    });
    let socket = match dual {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
        Err(_) => {
            let s = Socket::new(Domain::IPV4, ty, Some(proto))?;
            s.set_reuse_address(true)?;
            s.bind(&SockAddr::from(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))))?;
            s
        }
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}

impl Stack for HostStack {
    type Listener = HostListener;
    type Stream = HostStream;
    type Udp = HostUdp;

    async fn tcp_listen(&self, port: u16) -> Result<HostListener, NetError> {
        let s = bind_socket(Type::STREAM, Protocol::TCP, port).map_err(|e| net_error(&e))?;
        s.listen(1024).map_err(|e| net_error(&e))?;
        let socket: std::net::TcpListener = s.into();
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(HostListener { socket, port })
    }

    async fn tcp_connect(&self, remote: SocketAddr) -> Result<HostStream, NetError> {
        let s =
            Socket::new(Domain::for_address(remote), Type::STREAM, Some(Protocol::TCP)).map_err(|e| net_error(&e))?;
        s.set_nonblocking(true).map_err(|e| net_error(&e))?;
        match s.connect(&SockAddr::from(remote)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                reactor::writable(s.as_raw_fd()).await;
                if let Some(e) = s.take_error().map_err(|e| net_error(&e))? {
                    return Err(net_error(&e));
                }
            }
            Err(e) => return Err(net_error(&e)),
        }
        let _ = s.set_tcp_nodelay(true);
        Ok(HostStream { socket: s.into(), drained: false })
    }

    async fn udp_bind(&self, port: u16) -> Result<HostUdp, NetError> {
        let s = bind_socket(Type::DGRAM, Protocol::UDP, port).map_err(|e| net_error(&e))?;
        let socket: std::net::UdpSocket = s.into();
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(HostUdp { socket, port })
    }
}

oasis_net::impl_embedded_nal!(HostStack);

impl TcpListener for HostListener {
    type Stream = HostStream;

    async fn accept(&self) -> Result<(HostStream, SocketAddr), NetError> {
        loop {
            match self.socket.accept() {
                Ok((socket, addr)) => {
                    socket.set_nonblocking(true).map_err(|e| net_error(&e))?;
                    let _ = socket.set_nodelay(true);
                    return Ok((HostStream { socket, drained: false }, canonical(addr)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => reactor::readable(self.socket.as_raw_fd()).await,
                Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(net_error(&e)),
            }
        }
    }

    fn local_port(&self) -> u16 {
        self.port
    }
}

impl oasis_net::io::ErrorType for HostStream {
    type Error = NetError;
}

impl oasis_net::io::Read for HostStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if self.drained && !buf.is_empty() {
            reactor::readable(self.socket.as_raw_fd()).await;
        }
        loop {
            match self.socket.read(buf) {
                Ok(n) => {
                    self.drained = n < buf.len();
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => reactor::readable(self.socket.as_raw_fd()).await,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(net_error(&e)),
            }
        }
    }
}

impl oasis_net::io::Write for HostStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        loop {
            match self.socket.write(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => reactor::writable(self.socket.as_raw_fd()).await,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(net_error(&e)),
            }
        }
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        // The kernel sends what was written; there is no user-space buffer.
        Ok(())
    }
}

impl TcpStream for HostStream {
    async fn shutdown(&mut self) -> Result<(), NetError> {
        self.socket.shutdown(std::net::Shutdown::Write).map_err(|e| net_error(&e))
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.socket.peer_addr().ok().map(canonical)
    }
}

impl UdpSocket for HostUdp {
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        loop {
            match self.socket.recv_from(buf) {
                Ok((n, a)) => return Ok((n, canonical(a))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => reactor::readable(self.socket.as_raw_fd()).await,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(net_error(&e)),
            }
        }
    }

    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<(), NetError> {
        loop {
            match self.socket.send_to(buf, to) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => reactor::writable(self.socket.as_raw_fd()).await,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => return Err(NetError::TooLarge),
                Err(e) => return Err(net_error(&e)),
            }
        }
    }

    fn local_port(&self) -> u16 {
        self.port
    }
}

/// A TAP device as the unikernel's network device on the unix target:
/// the same stack as on hvt and spt, on a host TAP.
pub struct TapNet {
    tap: Tap,
    info: NetInfo,
    /// The last read found the TAP empty: wait for the reactor to say it
    /// is readable before reading again.
    empty: bool,
    /// The wait for that, while a task waits.
    readable: Option<reactor::FdReady>,
}

impl std::fmt::Debug for TapNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapNet").field("tap", &self.tap).field("info", &self.info).finish()
    }
}

impl TapNet {
    /// Attaches to TAP `name` for device `device`, with `mac` (or one
    /// derived from the names) and the TAP's MTU.
    pub fn open(name: &str, device: &str, mac: Option<[u8; 6]>) -> Result<TapNet, oasis_tap::TapError> {
        // The stack on top (`oasis-net`) takes offloaded frames.
        let tap = Tap::open_offloading(name, true)?;
        let mac = mac.unwrap_or_else(|| oasis_tap::derived_mac(&format!("{device}@{name}")));
        let info = NetInfo { mac, mtu: tap.mtu(), offload: tap.offload() };
        Ok(TapNet { tap, info, empty: false, readable: None })
    }
}

impl NetDevice for TapNet {
    fn info(&self) -> NetInfo {
        self.info
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.empty {
            return Poll::Ready(());
        }
        let fd = self.tap.file().as_raw_fd();
        let readable = self.readable.get_or_insert_with(|| reactor::readable(fd));
        match Pin::new(readable).poll(cx) {
            Poll::Ready(()) => {
                self.readable = None;
                self.empty = false;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        match self.tap.file().read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                self.empty = true;
                Ok(None)
            }
            Err(_) => Err(DeviceError::Io),
        }
    }

    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError> {
        match self.tap.file().write(frame) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            // The kernel refused this frame (a malformed offload header):
            // dropped, the device still works.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(true),
            Err(_) => Err(DeviceError::Io),
        }
    }
}

/// Parses a MAC address (`aa:bb:cc:dd:ee:ff`) for `--net-mac`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    oasis_tap::parse_mac(s)
}
