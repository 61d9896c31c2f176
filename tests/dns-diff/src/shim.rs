//! A std UDP + TCP server around a Responder, for tests: what the DNS
//! unikernel will do on its own network stack.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use oasis_dns::responder::error_reply;
use oasis_dns::{Action, Pass, Rcode, Responder, Transport};

use crate::nsd::EDNS_SIZE;

/// A running shim; stops its threads when dropped.
#[derive(Debug)]
pub struct Shim {
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

fn answer(responder: &Mutex<Responder>, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
    let Ok(mut r) = responder.lock() else { return false };
    match r.respond(query, transport, out) {
        Action::Reply => true,
        Action::Drop => false,
        // No transfers, notifies, updates or keys here: answer as NSD
        // does without them configured.
        Action::Pass(Pass::Transfer) => error_reply(query, Rcode::REFUSED, out),
        Action::Pass(Pass::Signed) => error_reply(query, Rcode::NOTAUTH, out),
        Action::Pass(Pass::Update) => error_reply(query, Rcode::NOTIMP, out),
        Action::Pass(Pass::Notify) => error_reply(query, Rcode::NOTAUTH, out),
    }
}

impl Shim {
    /// Serves `responder` on 127.0.0.1 at a free port.
    pub fn start(responder: Responder) -> std::io::Result<Shim> {
        let port = crate::nsd::free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let udp = UdpSocket::bind(addr)?;
        let tcp = TcpListener::bind(addr)?;
        udp.set_read_timeout(Some(Duration::from_millis(50)))?;
        tcp.set_nonblocking(true)?;
        let responder = Arc::new(Mutex::new(responder));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        {
            let (responder, stop) = (responder.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65535];
                let mut out = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = udp.recv_from(&mut buf) else { continue };
                    if answer(&responder, &buf[..n], Transport::Udp { max: EDNS_SIZE }, &mut out) {
                        let _ = udp.send_to(&out, from);
                    }
                }
            }));
        }
        {
            let (responder, stop) = (responder.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match tcp.accept() {
                        Ok((stream, _)) => serve_tcp(stream, &responder, &stop),
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            }));
        }
        Ok(Shim { addr, stop, threads })
    }
}

/// Queries on one connection, one at a time, until it closes or idles.
fn serve_tcp(mut stream: TcpStream, responder: &Mutex<Responder>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_nodelay(true);
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        if !answer(responder, &query, Transport::Tcp, &mut out) {
            return;
        }
        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&out);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
