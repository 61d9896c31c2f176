//! Sending one query and waiting for its response, bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// How a query travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// One datagram each way.
    Udp,
    /// A fresh connection, two-byte length prefixes.
    Tcp,
}

/// Sends `query` to `server` and returns the response, or `None` when
/// nothing came back within `wait` (a dropped query).
pub fn exchange(server: SocketAddr, query: &[u8], via: Via, wait: Duration) -> std::io::Result<Option<Vec<u8>>> {
    match via {
        Via::Udp => {
            // Loopback servers from loopback; others (in a namespace's
            // network) from any address.
            let local = match server {
                SocketAddr::V4(a) if a.ip().is_loopback() => "127.0.0.1:0",
                SocketAddr::V4(_) => "0.0.0.0:0",
                SocketAddr::V6(_) => "[::]:0",
            };
            let socket = UdpSocket::bind(local)?;
            socket.set_read_timeout(Some(wait))?;
            socket.send_to(query, server)?;
            let mut buf = vec![0u8; 65535];
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) if from == server => return Ok(Some(buf[..n].to_vec())),
                    Ok(_) => continue,
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Via::Tcp => {
            let mut stream = TcpStream::connect_timeout(&server, wait)?;
            stream.set_read_timeout(Some(wait))?;
            stream.set_nodelay(true)?;
            let mut framed = (query.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(query);
            stream.write_all(&framed)?;
            let mut len = [0u8; 2];
            match stream.read_exact(&mut len) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut buf)?;
            Ok(Some(buf))
        }
    }
}
