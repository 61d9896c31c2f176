//! The proxy against servers on loopback standing in for the guest (the
//! namespace step is left out: the thread stays in the test's namespace).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;

/// The tests count this process's descriptors, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const LIMIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn publish(host: u16, guest: u16, proto: Proto) -> Publish {
    Publish { ip: Ipv4Addr::LOCALHOST, host, guest, proto }
}

fn start_local(list: &[Publish]) {
    start_with(list, Ipv4Addr::LOCALHOST, || Ok(())).unwrap();
}

/// This process's open sockets: what a leaking connection would leave
/// (idle pipes are kept in a bounded pool on purpose, and not counted).
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
        .count()
}

/// Waits, bounded, until this process has at most `baseline` sockets.
fn settles_to(baseline: usize) -> usize {
    let start = Instant::now();
    loop {
        let n = open_files();
        if n <= baseline || start.elapsed() > LIMIT {
            return n;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP echo server on its own thread (a thread per connection: the
/// few connections of these tests).
fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            thread::spawn(move || {
                let mut w = c.try_clone().unwrap();
                let _ = std::io::copy(&mut c, &mut w);
                let _ = w.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn tcp_carries_both_ways_and_passes_the_half_close_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guest = echo_server();
    let host = free_port();
    start_local(&[publish(host, guest, Proto::Tcp)]);
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    for _ in 0..3 {
        let mut c = TcpStream::connect(("127.0.0.1", host)).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        let mut w = c.try_clone().unwrap();
        let sent = payload.clone();
        let writer = thread::spawn(move || {
            w.write_all(&sent).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        assert!(back == payload, "{} bytes back of {}", back.len(), payload.len());
    }
}

#[test]
fn a_guest_that_refuses_leaks_no_descriptors() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let host = free_port();
    let nobody = free_port();
    start_local(&[publish(host, nobody, Proto::Tcp)]);
    let baseline = open_files();
    for _ in 0..300 {
        let mut c = TcpStream::connect(("127.0.0.1", host)).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = c.write_all(b"anyone?");
        let mut buf = [0u8; 16];
        // Closed or reset: either way, nothing comes back.
        assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
    }
    let now = settles_to(baseline);
    assert!(now <= baseline, "{now} descriptors open, {baseline} before");
}

#[test]
fn clients_that_vanish_mid_transfer_leak_no_descriptors() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guest = echo_server();
    let host = free_port();
    start_local(&[publish(host, guest, Proto::Tcp)]);
    let baseline = open_files();
    for i in 0..50 {
        let mut c = TcpStream::connect(("127.0.0.1", host)).unwrap();
        // Writes more than the buffers hold and goes away without reading:
        // the echo's replies back up, then the connection is reset.
        c.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
        let _ = c.write_all(&vec![i as u8; 4 << 20]);
        drop(c);
    }
    let now = settles_to(baseline + 2 * 50);
    // The echo server's own threads may still hold theirs a moment; the
    // proxy's are closed (one pair per connection would leave 100+).
    assert!(now <= baseline + 2 * 50, "{now} descriptors open, {baseline} before");
    let now = settles_to(baseline);
    assert!(now <= baseline, "{now} descriptors open, {baseline} before: {}", describe_files());
}

fn describe_files() -> String {
    let mut kinds = std::collections::BTreeMap::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(e.path()).map(|p| p.display().to_string()).unwrap_or_default();
        *kinds.entry(target.split(':').next().unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    format!("{kinds:?}")
}

#[test]
fn udp_sessions_carry_datagrams_both_ways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let guest = server.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], from);
        }
    });
    let host = loop {
        let p = free_port();
        if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            break p;
        }
    };
    start_local(&[publish(host, guest, Proto::Udp)]);
    let clients: Vec<UdpSocket> = (0..5).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for (i, c) in clients.iter().enumerate() {
        c.set_read_timeout(Some(LIMIT)).unwrap();
        let msg = format!("datagram {i}");
        c.send_to(msg.as_bytes(), ("127.0.0.1", host)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.port()), (msg.as_bytes(), host));
    }
}

/// An echo server for many connections: one thread, level-triggered epoll.
fn many_echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    oasis_sys::set_backlog(&l, 4096).unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let epoll = Epoll::new().unwrap();
        epoll.add(&l, u64::MAX, Interest::READ).unwrap();
        let mut conns: Slab<TcpStream> = Slab::new();
        let mut events = Events::with_capacity(256);
        let mut buf = [0u8; 4096];
        loop {
            epoll.wait(&mut events, None).unwrap();
            for e in events.iter() {
                if e.token == u64::MAX {
                    while let Ok((c, _)) = l.accept() {
                        c.set_nonblocking(true).unwrap();
                        let entry = conns.vacant_entry();
                        epoll.add(&c, entry.key() as u64, Interest::READ).unwrap();
                        entry.insert(c);
                    }
                    continue;
                }
                let key = e.token as usize;
                let Some(c) = conns.get_mut(key) else { continue };
                match c.read(&mut buf) {
                    // Small echoes fit the socket buffer: written at once.
                    Ok(n) if n > 0 => {
                        let _ = c.write_all(&buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    _ => {
                        conns.remove(key);
                    }
                }
            }
        }
    });
    port
}

#[test]
fn ten_thousand_connections_at_once() {
    const N: usize = 10_000;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Clients, the proxy's two sockets each, and the echo's: 4 per connection.
    let files = oasis_sys::raise_nofile_limit(1 << 20).unwrap();
    if files < (4 * N + 1000) as u64 {
        eprintln!("skipped: the open-file limit is {files} and may not be raised (needs CAP_SYS_RESOURCE)");
        return;
    }
    let guest = many_echo_server();
    let host = free_port();
    start_local(&[publish(host, guest, Proto::Tcp)]);
    let start = Instant::now();
    let mut clients = Vec::with_capacity(N);
    for _ in 0..N {
        let c = TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, host)), LIMIT).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        clients.push(c);
        assert!(start.elapsed() < 10 * LIMIT, "connecting took too long");
    }
    // Every connection is open at once; each now carries a message.
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("{i:08}").as_bytes()).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut buf = [0u8; 8];
        c.read_exact(&mut buf).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(&buf, format!("{i:08}").as_bytes());
    }
}

/// A short message and the end of input arriving together: the end must
/// not be lost behind the short read that took the message.
#[test]
fn an_end_that_arrives_with_the_data_is_passed_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guest = echo_server();
    let host = free_port();
    start_local(&[publish(host, guest, Proto::Tcp)]);
    for i in 0..200 {
        let mut c = TcpStream::connect(("127.0.0.1", host)).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        c.write_all(format!("message {i}").as_bytes()).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).unwrap_or_else(|e| panic!("round {i}: {e}"));
        assert_eq!(back, format!("message {i}"));
    }
}
