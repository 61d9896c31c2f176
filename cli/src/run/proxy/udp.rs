//! UDP behind `-p HOST:GUEST/udp`: one socket in the run's namespace per
//! client, so the guest sees each client as a peer of its own and its
//! replies find their way back.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// UDP clients relayed at once per port; each takes a socket.
pub const MAX_SESSIONS: usize = 1024;
/// A client silent (both ways) this long loses its session.
pub const IDLE: Duration = Duration::from_secs(60);

/// A published UDP port.
#[derive(Debug)]
pub struct Port {
    /// Bound on 127.0.0.1 in the host's namespace.
    pub socket: UdpSocket,
    /// The guest's address and port.
    pub target: SocketAddrV4,
    /// Each client's session, by the client's address.
    pub sessions: HashMap<SocketAddr, usize>,
}

/// One client's socket in the namespace, connected to the guest.
#[derive(Debug)]
pub struct Session {
    /// Index of its [`Port`].
    pub port: usize,
    pub client: SocketAddr,
    pub socket: UdpSocket,
    /// The last datagram either way.
    pub last: Instant,
    /// Told apart from a later session in the same slot.
    pub serial: u64,
}
