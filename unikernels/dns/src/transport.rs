//! UDP and TCP: one task answers every datagram; every TCP connection
//! gets a task of its own, reads length-prefixed messages (several per
//! connection, pipelined: every whole message in what arrived is
//! answered, in order, then the answers go out in one write), streams
//! zone transfers, and is closed when idle, at the connection limit, or
//! when the responder says to drop a message.

use core::net::SocketAddr;

use oasis::alloc::rc::Rc;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::net::{Stack, TcpListener, TcpStream, UdpSocket};
use oasis::{Duration, Instant};
use oasis_dns::transfer::AxfrStream;
use oasis_dns::{Action, Transport};

use crate::server::{Handled, Outgoing, Server, frame_len, push_frame};

/// Bytes asked of a TCP connection per read.
const TCP_CHUNK: usize = 16 << 10;

impl<N: Stack + 'static, D: BlockDevice + 'static> Server<N, D> {
    /// Answers datagrams for ever.
    pub async fn serve_udp<U: UdpSocket>(self: Rc<Self>, socket: U) {
        // A datagram can be 64 KiB; queries are small, updates may not be.
        let mut buf = oasis::alloc::vec![0u8; 65535];
        let mut out = Vec::with_capacity(4096);
        let transport = Transport::Udp { max: self.config.udp_size };
        loop {
            let (n, from) = match socket.recv_from(&mut buf).await {
                Ok(got) => got,
                Err(e) => {
                    oasis::log::warn!("udp: {e}");
                    continue;
                }
            };
            let msg = &buf[..n];
            // The fast path inline; the rest through `handle`.
            let action = self.responder.borrow_mut().respond(msg, transport, &mut out);
            let reply = match action {
                Action::Reply => true,
                Action::Drop => false,
                Action::Pass(_) => matches!(self.handle(msg, transport, from, &mut out).await, Handled::Reply),
            };
            if reply && let Err(e) = socket.send_to(&out, from).await {
                oasis::log::debug!("udp: answering {from}: {e}");
            }
        }
    }

    /// Accepts TCP connections for ever, up to the limit at once.
    pub async fn serve_tcp<L: TcpListener>(self: Rc<Self>, listener: L)
    where
        L::Stream: 'static,
    {
        loop {
            let (conn, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    oasis::log::warn!("tcp accept: {e}");
                    continue;
                }
            };
            if self.tcp_open.get() >= self.config.tcp_max {
                oasis::log::debug!("{peer}: closed at once (connection limit {})", self.config.tcp_max);
                drop(conn);
                continue;
            }
            self.tcp_open.set(self.tcp_open.get() + 1);
            let server = self.clone();
            self.os.spawn(async move {
                server.connection(conn, peer).await;
                server.tcp_open.set(server.tcp_open.get() - 1);
            });
        }
    }

    async fn connection<S: TcpStream>(self: &Rc<Self>, mut conn: S, peer: SocketAddr) {
        let mut input: Vec<u8> = Vec::with_capacity(TCP_CHUNK);
        let mut chunk = oasis::alloc::vec![0u8; TCP_CHUNK];
        let mut out = Vec::new();
        let mut pending = Vec::new();
        let mut last_query = self.os.now();
        'connection: loop {
            let mut used = 0;
            let mut close = false;
            while let Some(len) = frame_len(&input[used..]) {
                if input.len() - used < 2 + len {
                    break;
                }
                let msg = &input[used + 2..used + 2 + len];
                used += 2 + len;
                last_query = self.os.now();
                match self.handle(msg, Transport::Tcp, peer, &mut out).await {
                    Handled::Reply => push_frame(&mut pending, &out),
                    Handled::Drop => {
                        close = true;
                        break;
                    }
                    Handled::Transfer(outgoing) => {
                        if !pending.is_empty() && conn.write_all(&pending).await.is_err() {
                            break 'connection;
                        }
                        pending.clear();
                        if let Err(e) = self.send_transfer(&mut conn, outgoing).await {
                            oasis::log::info!("{peer}: transfer cut short: {e}");
                            break 'connection;
                        }
                    }
                }
            }
            input.drain(..used);
            if !pending.is_empty() {
                if conn.write_all(&pending).await.is_err() {
                    return;
                }
                pending.clear();
            }
            if close {
                break;
            }
            let idle_until = last_query.saturating_add(self.config.tcp_idle);
            let left = idle_until.saturating_duration_since(self.os.now());
            match self.os.timeout(left, conn.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => input.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let _ = conn.shutdown().await;
        let _ = self.os.timeout(Duration::from_secs(2), conn.flush()).await;
    }

    /// Streams an AXFR, each message signed when the request was.
    async fn send_transfer<S: TcpStream>(&self, conn: &mut S, outgoing: Outgoing) -> Result<(), oasis::net::NetError> {
        let Outgoing { zone, request, mut signer } = outgoing;
        let mut stream = AxfrStream::new(&zone, request);
        let mut msg = Vec::new();
        let mut framed = Vec::new();
        let started: Instant = self.os.now();
        let mut messages = 0u32;
        while stream.next_message(&mut msg) {
            if let Some(s) = signer.as_mut() {
                s.sign(&mut msg, self.now());
            }
            framed.clear();
            push_frame(&mut framed, &msg);
            conn.write_all(&framed).await?;
            messages += 1;
        }
        conn.flush().await?;
        oasis::log::debug!(
            "transfer of {}: {messages} messages in {} ms",
            zone.origin(),
            self.os.now().saturating_duration_since(started).as_millis()
        );
        Ok(())
    }
}
