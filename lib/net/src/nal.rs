//! `embedded-nal-async`'s socket traits over any [`Stack`], so crates
//! written against them (HTTP clients such as `reqwless`, MQTT clients)
//! take an Oasis stack as it is.
//!
//! `TcpConnect` and `UdpStack` are foreign traits and so cannot be given
//! to every `Stack` at once; [`impl_embedded_nal!`](crate::impl_embedded_nal)
//! implements both for one stack type through the adapters here. TCP
//! connections are the stack's own streams (already `embedded_io_async`
//! streams). UDP sockets are wrapped: [`NalUdp`] is an unconnected socket,
//! [`NalConnectedUdp`] one that talks to a single peer.
//!
//! Limits of the mapping: an Oasis UDP socket is bound to a port on every
//! address of the stack, so the local address a datagram arrived on is
//! reported as the unspecified address with the socket's port, and a send
//! may name any local IP but must name the socket's own port (or 0).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use embedded_nal_async::{ConnectedUdp, UnconnectedUdp};

use crate::api::{NetError, Stack, UdpSocket};

/// An unconnected UDP socket in `embedded-nal-async`'s terms.
#[derive(Debug)]
pub struct NalUdp<U> {
    socket: U,
}

impl<U: UdpSocket> NalUdp<U> {
    /// Wraps a bound socket.
    pub fn new(socket: U) -> NalUdp<U> {
        NalUdp { socket }
    }

    /// The socket inside.
    pub fn into_inner(self) -> U {
        self.socket
    }

    fn local(&self, like: &SocketAddr) -> SocketAddr {
        unspecified_like(like, self.socket.local_port())
    }
}

impl<U: UdpSocket> UnconnectedUdp for NalUdp<U> {
    type Error = NetError;

    async fn send(&mut self, local: SocketAddr, remote: SocketAddr, data: &[u8]) -> Result<(), NetError> {
        if local.port() != 0 && local.port() != self.socket.local_port() {
            return Err(NetError::Unreachable);
        }
        self.socket.send_to(data, remote).await
    }

    async fn receive_into(&mut self, buffer: &mut [u8]) -> Result<(usize, SocketAddr, SocketAddr), NetError> {
        let (n, remote) = self.socket.recv_from(buffer).await?;
        Ok((n, self.local(&remote), remote))
    }
}

/// A UDP socket that sends to one peer and receives only from it
/// (datagrams from anyone else are dropped).
#[derive(Debug)]
pub struct NalConnectedUdp<U> {
    socket: U,
    remote: SocketAddr,
}

impl<U: UdpSocket> ConnectedUdp for NalConnectedUdp<U> {
    type Error = NetError;

    async fn send(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.socket.send_to(data, self.remote).await
    }

    async fn receive_into(&mut self, buffer: &mut [u8]) -> Result<usize, NetError> {
        loop {
            let (n, from) = self.socket.recv_from(buffer).await?;
            if same_peer(&from, &self.remote) {
                return Ok(n);
            }
        }
    }
}

/// Whether two addresses name the same peer, an IPv4 address and its
/// IPv4-mapped IPv6 form being the same.
fn same_peer(a: &SocketAddr, b: &SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

fn unspecified_like(like: &SocketAddr, port: u16) -> SocketAddr {
    let ip = match like.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, port)
}

/// A socket bound where `local` asks; only the port can be chosen.
async fn bind<S: Stack>(stack: &S, local: SocketAddr) -> Result<S::Udp, NetError> {
    if !local.ip().is_unspecified() {
        // The stack's sockets listen on every address it has.
        return Err(NetError::Unreachable);
    }
    stack.udp_bind(local.port()).await
}

/// `UdpStack::connect_from` for any stack.
#[doc(hidden)]
pub async fn connect_from<S: Stack>(
    stack: &S,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<(SocketAddr, NalConnectedUdp<S::Udp>), NetError> {
    let socket = bind(stack, local).await?;
    let local = unspecified_like(&remote, socket.local_port());
    Ok((local, NalConnectedUdp { socket, remote }))
}

/// `UdpStack::bind_single` and `bind_multiple` for any stack.
#[doc(hidden)]
pub async fn bind_unconnected<S: Stack>(
    stack: &S,
    local: SocketAddr,
) -> Result<(SocketAddr, NalUdp<S::Udp>), NetError> {
    let socket = bind(stack, local).await?;
    let local = unspecified_like(&local, socket.local_port());
    Ok((local, NalUdp::new(socket)))
}

/// Implements `embedded_nal_async::TcpConnect` and `UdpStack` for a
/// [`Stack`] type of this crate or another.
#[macro_export]
macro_rules! impl_embedded_nal {
    ($stack:ty $(, $($generics:tt)*)?) => {
        impl$(<$($generics)*>)? $crate::__nal::TcpConnect for $stack {
            type Error = $crate::NetError;
            type Connection<'a>
                = <$stack as $crate::Stack>::Stream
            where
                Self: 'a;

            async fn connect<'a>(
                &'a self,
                remote: ::core::net::SocketAddr,
            ) -> ::core::result::Result<Self::Connection<'a>, $crate::NetError> {
                $crate::Stack::tcp_connect(self, remote).await
            }
        }

        impl$(<$($generics)*>)? $crate::__nal::UdpStack for $stack {
            type Error = $crate::NetError;
            type Connected = $crate::nal::NalConnectedUdp<<$stack as $crate::Stack>::Udp>;
            type UniquelyBound = $crate::nal::NalUdp<<$stack as $crate::Stack>::Udp>;
            type MultiplyBound = $crate::nal::NalUdp<<$stack as $crate::Stack>::Udp>;

            async fn connect_from(
                &self,
                local: ::core::net::SocketAddr,
                remote: ::core::net::SocketAddr,
            ) -> ::core::result::Result<(::core::net::SocketAddr, Self::Connected), $crate::NetError> {
                $crate::nal::connect_from(self, local, remote).await
            }

            async fn bind_single(
                &self,
                local: ::core::net::SocketAddr,
            ) -> ::core::result::Result<(::core::net::SocketAddr, Self::UniquelyBound), $crate::NetError> {
                $crate::nal::bind_unconnected(self, local).await
            }

            async fn bind_multiple(
                &self,
                local: ::core::net::SocketAddr,
            ) -> ::core::result::Result<Self::MultiplyBound, $crate::NetError> {
                $crate::nal::bind_unconnected(self, local).await.map(|(_, socket)| socket)
            }
        }
    };
}
