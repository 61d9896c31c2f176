//! The socket API applications program against, the same on every target.
//!
//! Async methods in traits, used generically: an application's `main`
//! takes `impl Stack` and is monomorphised for the target's stack.
//!
//! A TCP connection is a byte stream in the embedded ecosystem's terms:
//! [`TcpStream`] is `embedded_io_async::Read + Write` (with
//! [`NetError`] as their error), so no_std crates written against those
//! traits (TLS, HTTP, MQTT clients) take an Oasis connection as it is. The
//! stacks also implement `embedded-nal-async`'s `TcpConnect` and
//! `UdpStack` (see [`crate::nal`]).

#![allow(async_fn_in_trait)]

use core::fmt;
use core::net::SocketAddr;

/// Why a network operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The stack has no address yet (DHCP has not finished).
    NotConfigured,
    /// The port is taken.
    AddressInUse,
    /// No route to the address, or it cannot be used here.
    Unreachable,
    /// The peer refused the connection.
    Refused,
    /// The peer reset the connection.
    Reset,
    /// The operation or the connection timed out.
    TimedOut,
    /// The socket is closed for this operation (write after shutdown).
    Closed,
    /// A datagram larger than the socket can carry.
    TooLarge,
    /// The host-side device failed.
    Device,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetError::NotConfigured => "the network has no address yet",
            NetError::AddressInUse => "address in use",
            NetError::Unreachable => "address unreachable",
            NetError::Refused => "connection refused",
            NetError::Reset => "connection reset by peer",
            NetError::TimedOut => "timed out",
            NetError::Closed => "socket closed",
            NetError::TooLarge => "datagram too large",
            NetError::Device => "network device failed",
        })
    }
}

impl core::error::Error for NetError {}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        use embedded_io_async::ErrorKind;
        match self {
            NetError::NotConfigured => ErrorKind::NotConnected,
            NetError::AddressInUse => ErrorKind::AddrInUse,
            NetError::Unreachable => ErrorKind::AddrNotAvailable,
            NetError::Refused => ErrorKind::ConnectionRefused,
            NetError::Reset => ErrorKind::ConnectionReset,
            NetError::TimedOut => ErrorKind::TimedOut,
            NetError::Closed => ErrorKind::BrokenPipe,
            NetError::TooLarge => ErrorKind::InvalidInput,
            NetError::Device => ErrorKind::Other,
        }
    }
}

/// A TCP/IP stack.
pub trait Stack {
    /// Its listening sockets.
    type Listener: TcpListener<Stream = Self::Stream> + 'static;
    /// Its connections (`'static`, so a task of their own can own them).
    type Stream: TcpStream + 'static;
    /// Its UDP sockets.
    type Udp: UdpSocket + 'static;

    /// Listens for TCP connections on `port` (all addresses).
    async fn tcp_listen(&self, port: u16) -> Result<Self::Listener, NetError>;

    /// Connects to `remote`.
    async fn tcp_connect(&self, remote: SocketAddr) -> Result<Self::Stream, NetError>;

    /// Binds a UDP socket to `port` (all addresses); 0 picks a free
    /// ephemeral port.
    async fn udp_bind(&self, port: u16) -> Result<Self::Udp, NetError>;
}

/// A listening TCP socket.
pub trait TcpListener {
    /// The connections it accepts.
    type Stream: TcpStream;

    /// Waits for the next connection.
    async fn accept(&self) -> Result<(Self::Stream, SocketAddr), NetError>;

    /// The port it listens on.
    fn local_port(&self) -> u16;
}

/// A TCP connection. Dropping it closes it gracefully.
///
/// Reading and writing are `embedded_io_async`'s [`Read`](embedded_io_async::Read)
/// and [`Write`](embedded_io_async::Write): `read` returns 0 only when the
/// peer closed its side, `write` queues some of the buffer (never 0 of a
/// non-empty one), `write_all` queues all of it, and `flush` waits until
/// everything written has been acknowledged by the peer (on the host
/// socket stack, until the kernel has it).
pub trait TcpStream:
    embedded_io_async::Read + embedded_io_async::Write + embedded_io_async::ErrorType<Error = NetError>
{
    /// Closes the sending side (sends FIN); reading still works.
    async fn shutdown(&mut self) -> Result<(), NetError>;

    /// The peer's address.
    fn peer_addr(&self) -> Option<SocketAddr>;
}

/// A UDP socket.
pub trait UdpSocket {
    /// Receives one datagram into `buf` (cut if longer) and its sender.
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError>;

    /// Sends one datagram to `to`.
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<(), NetError>;

    /// The port it is bound to.
    fn local_port(&self) -> u16;
}
