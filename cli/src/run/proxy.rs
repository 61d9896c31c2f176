//! The proxies behind `-p`: listen on 127.0.0.1 in the host's namespace
//! and reach the guest from inside the run's namespace.
//!
//! A socket belongs to the namespace of the thread that made it, so each
//! connection's thread enters the namespace before it connects; the
//! listening sockets were made before, in the host's. Plain threads: the
//! load is one developer's traffic, and the caps below bound it.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::netns;
use super::publish::{Proto, Publish};

/// TCP connections relayed at once, over all ports; each takes two threads.
const MAX_TCP: usize = 1024;
/// UDP clients relayed at once per port; each takes a thread and a socket.
const MAX_UDP: usize = 1024;
/// A UDP client silent (both ways) this long loses its session.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// How long to wait for the guest to answer a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Relay threads copy through heap buffers; a small stack keeps many cheap.
const STACK: usize = 256 * 1024;
/// Pause after a failed accept or receive (e.g. out of descriptors), so the
/// loop does not spin.
const BACKOFF: Duration = Duration::from_millis(50);

enum Bound {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Binds every published port, then serves them on threads of their own;
/// prints one line per port. A port that cannot be bound fails the run
/// before any is served.
pub fn start(list: &[Publish], ns: &File, guest: Ipv4Addr) -> Result<()> {
    let mut bound = Vec::new();
    for p in list {
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, p.host);
        let what = || format!("publishing 127.0.0.1:{}/{}", p.host, p.proto);
        let socket = match p.proto {
            Proto::Tcp => Bound::Tcp(TcpListener::bind(addr).with_context(what)?),
            Proto::Udp => Bound::Udp(UdpSocket::bind(addr).with_context(what)?),
        };
        bound.push((p, socket));
    }
    let tcp_active = Arc::new(AtomicUsize::new(0));
    for (p, socket) in bound {
        let ns = Arc::new(ns.try_clone().context("duplicating the namespace descriptor")?);
        let target = SocketAddrV4::new(guest, p.guest);
        let name = format!("oasis-publish-{}", p.host);
        let active = tcp_active.clone();
        let spawned = match socket {
            Bound::Tcp(l) => thread::Builder::new().name(name).spawn(move || serve_tcp(&l, target, &ns, &active)),
            Bound::Udp(s) => thread::Builder::new().name(name).spawn(move || serve_udp(s, target, ns)),
        };
        spawned.context("starting a proxy thread")?;
        eprintln!("oasis: publishing 127.0.0.1:{} -> {target}/{}", p.host, p.proto);
    }
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new().name(name.into()).stack_size(STACK).spawn(f).map(drop)
}

/// Says once that a cap was reached, rather than once per refusal.
fn warn_once(flag: &AtomicBool, what: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        eprintln!("oasis: warning: {what}");
    }
}

/// A place among the `MAX_TCP`, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn serve_tcp(listener: &TcpListener, target: SocketAddrV4, ns: &Arc<File>, active: &Arc<AtomicUsize>) {
    let full = AtomicBool::new(false);
    loop {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(_) => {
                thread::sleep(BACKOFF);
                continue;
            }
        };
        if active.fetch_add(1, Ordering::Relaxed) >= MAX_TCP {
            active.fetch_sub(1, Ordering::Relaxed);
            warn_once(&full, &format!("{MAX_TCP} connections are open; closing new ones to {target}"));
            continue;
        }
        let slot = Slot(active.clone());
        let ns = ns.clone();
        // On failure the closure, with the client and the slot, is dropped.
        let _ = spawn("oasis-tcp", move || {
            let _slot = slot;
            relay_tcp(client, target, &ns);
        });
    }
}

fn relay_tcp(client: TcpStream, target: SocketAddrV4, ns: &File) {
    if let Err(e) = netns::enter(ns) {
        eprintln!("oasis: warning: entering the run's network namespace: {e}");
        return;
    }
    let guest = match TcpStream::connect_timeout(&target.into(), CONNECT_TIMEOUT) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("oasis: connecting to {target}: {e}");
            return;
        }
    };
    let _ = (client.set_nodelay(true), guest.set_nodelay(true));
    let (Ok(client2), Ok(guest2)) = (client.try_clone(), guest.try_clone()) else { return };
    if spawn("oasis-tcp", move || pipe(guest2, client2)).is_err() {
        let _ = (client.shutdown(Shutdown::Both), guest.shutdown(Shutdown::Both));
        return;
    }
    pipe(client, guest);
}

/// Copies until `from` ends, then passes the end on as a half-close, so
/// the other direction keeps flowing. On an error both connections are
/// shut, which also ends the other direction's copy.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = (from.shutdown(Shutdown::Both), to.shutdown(Shutdown::Both));
        }
    }
}

/// A UDP client's own socket in the namespace, connected to the guest.
struct Session {
    socket: Arc<UdpSocket>,
    /// Milliseconds since the relay started at the last datagram.
    last: Arc<AtomicU64>,
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Session>>>;

fn millis(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn serve_udp(host: UdpSocket, target: SocketAddrV4, ns: Arc<File>) {
    let host = Arc::new(host);
    let sessions: Sessions = Arc::default();
    let epoch = Instant::now();
    let full = AtomicBool::new(false);
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, client) = match host.recv_from(&mut buf) {
            Ok(r) => r,
            Err(_) => {
                thread::sleep(BACKOFF);
                continue;
            }
        };
        // Looking up and marking active under the lock: a session only
        // times out, under the same lock, when it has not been marked.
        let socket = {
            let Ok(mut map) = sessions.lock() else { return };
            match map.get(&client) {
                Some(s) => {
                    s.last.store(millis(epoch), Ordering::Relaxed);
                    Some(s.socket.clone())
                }
                None if map.len() >= MAX_UDP => {
                    warn_once(&full, &format!("{MAX_UDP} UDP clients are active; dropping datagrams from new ones"));
                    None
                }
                None => open_session(client, target, &ns, &host, &sessions, epoch).map(|s| {
                    let socket = s.socket.clone();
                    map.insert(client, s);
                    socket
                }),
            }
        };
        if let Some(s) = socket {
            let _ = s.send(&buf[..n]);
        }
    }
}

/// Starts the thread that makes `client`'s socket in the namespace and
/// carries the guest's replies back; `None` if it could not.
fn open_session(
    client: SocketAddr,
    target: SocketAddrV4,
    ns: &Arc<File>,
    host: &Arc<UdpSocket>,
    sessions: &Sessions,
    epoch: Instant,
) -> Option<Session> {
    let (made, socket) = mpsc::sync_channel(1);
    let last = Arc::new(AtomicU64::new(millis(epoch)));
    let (ns, host, sessions, mine) = (ns.clone(), host.clone(), sessions.clone(), last.clone());
    let spawned = spawn("oasis-udp", move || {
        let socket = netns::enter(&ns)
            .and_then(|()| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)))
            .and_then(|s| s.connect(target).map(|()| Arc::new(s)));
        match socket {
            Ok(s) => {
                let _ = made.send(Some(s.clone()));
                relay_replies(&s, client, &host, &sessions, &mine, epoch);
            }
            Err(e) => {
                eprintln!("oasis: warning: a socket to {target} in the run's namespace: {e}");
                let _ = made.send(None);
            }
        }
    });
    if spawned.is_err() {
        return None;
    }
    let socket = socket.recv().ok().flatten()?;
    Some(Session { socket, last })
}

fn relay_replies(
    socket: &UdpSocket,
    client: SocketAddr,
    host: &UdpSocket,
    sessions: &Sessions,
    last: &Arc<AtomicU64>,
    epoch: Instant,
) {
    let idle_ms = u64::try_from(UDP_IDLE.as_millis()).unwrap_or(u64::MAX);
    let mut buf = vec![0u8; 65536];
    loop {
        let quiet = millis(epoch).saturating_sub(last.load(Ordering::Relaxed));
        if quiet >= idle_ms {
            let Ok(mut map) = sessions.lock() else { return };
            if millis(epoch).saturating_sub(last.load(Ordering::Relaxed)) >= idle_ms {
                if map.get(&client).is_some_and(|s| Arc::ptr_eq(&s.last, last)) {
                    map.remove(&client);
                }
                return;
            }
            continue;
        }
        let _ = socket.set_read_timeout(Some(Duration::from_millis(idle_ms - quiet)));
        match socket.recv(&mut buf) {
            Ok(n) => {
                last.store(millis(epoch), Ordering::Relaxed);
                let _ = host.send_to(&buf[..n], client);
            }
            // Timeouts lead to the idle check; a refusal means the guest
            // is not listening (yet), which the client learns by silence.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionRefused
                ) => {}
            Err(_) => {
                if let Ok(mut map) = sessions.lock()
                    && map.get(&client).is_some_and(|s| Arc::ptr_eq(&s.last, last))
                {
                    map.remove(&client);
                }
                return;
            }
        }
    }
}
