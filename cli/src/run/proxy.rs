//! The proxy behind `-p`: listens on 127.0.0.1 in the host's namespace and
//! reaches the guest from inside the run's namespace.
//!
//! One thread, event-driven (edge-triggered epoll). A socket belongs to
//! the namespace of the thread that made it: the listening sockets are
//! made before the thread starts, in the host's namespace; the thread then
//! enters the run's namespace, so the sockets it makes to reach the guest
//! are there, while the ones it accepts are the host's. TCP bytes go from
//! socket to socket through a pipe with `splice` and never enter this
//! process; a pipe is taken from a pool while a direction has bytes in
//! flight, so an idle connection holds two descriptors, a busy one at most
//! six, and at most a pipe's 64 KiB waits per direction (a slow reader
//! slows its writer down, nothing grows). UDP datagrams go through one
//! buffer. No thread is made per connection, no allocation is made per
//! byte, and every descriptor is owned, so a failing connection closes
//! both of its sockets and nothing leaks.

mod tcp;
mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use oasis_sys::{Epoll, Event, Events, Interest};
use slab::Slab;

use self::tcp::{Flow, PipePool, Relay};
use self::udp::{Port, Session};
use super::netns;
use super::publish::{Proto, Publish};

/// How long to wait for the guest to answer a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to the guest being made at once; more clients wait (their
/// bytes in their own sockets) for a turn. The guest's stack keeps a
/// backlog of 16 by default (`--tcp-backlog`) and drops SYNs beyond it,
/// which Linux retries only after a second, then three, then seven: a
/// burst of thousands of connects at once would time out.
const MAX_CONNECTING: usize = 16;
/// Pause after a failed accept (e.g. out of descriptors), so the loop
/// does not spin; the connection waits in the backlog meanwhile.
const BACKOFF: Duration = Duration::from_millis(50);
/// Connections the kernel queues per published TCP port before they are
/// accepted (capped by `net.core.somaxconn`).
const BACKLOG: u32 = 4096;
/// Descriptors a process asks for (as many as the kernel allows, up to
/// this).
const WANT_FILES: u64 = 1 << 20;
/// Descriptors kept for everything but relays' sockets: the tender's
/// pipes, the namespace, the listeners, UDP sessions, pooled pipes.
const RESERVED_FILES: u64 = 128 + (udp::MAX_SESSIONS as u64) + 2 * tcp::POOL as u64;
/// Descriptors a relayed connection holds: its two sockets (a pipe only
/// while a bulk transfer is blocked, and none when no pipe can be had:
/// the bytes are then copied).
const FILES_PER_RELAY: u64 = 2;
/// Connections `oasis run` makes room for, with helper processes if one
/// process's descriptor limit is too low.
const WANT_RELAYS: usize = 12_000;
/// At most this many helper processes.
const MAX_HELPERS: usize = 3;
/// Events taken per wait.
const EVENTS: usize = 1024;
/// The shared buffer: a TCP read that fills it goes on by splice; the
/// largest datagram.
const SCRATCH: usize = 65536;

/// What a token names: its kind in the top bits, an index below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Listener(usize),
    UdpPort(usize),
    Client(usize),
    Guest(usize),
    Session(usize),
}

const KIND_SHIFT: u32 = 60;
const INDEX: u64 = (1 << KIND_SHIFT) - 1;

impl Token {
    fn encode(self) -> u64 {
        let (kind, i) = match self {
            Token::Listener(i) => (0, i),
            Token::UdpPort(i) => (1, i),
            Token::Client(i) => (2, i),
            Token::Guest(i) => (3, i),
            Token::Session(i) => (4, i),
        };
        (kind << KIND_SHIFT) | (i as u64 & INDEX)
    }

    fn decode(token: u64) -> Option<Token> {
        let i = (token & INDEX) as usize;
        Some(match token >> KIND_SHIFT {
            0 => Token::Listener(i),
            1 => Token::UdpPort(i),
            2 => Token::Client(i),
            3 => Token::Guest(i),
            4 => Token::Session(i),
            _ => return None,
        })
    }
}

/// Something to do at a time: give up a connect, or look at a UDP
/// session's silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Connect { relay: usize, serial: u64 },
    Idle { session: usize, serial: u64 },
}

/// Says a warning once per kind, then counts the repeats quietly.
#[derive(Debug, Default)]
struct Warned {
    full: bool,
    udp_full: bool,
    accept: bool,
    connect: u64,
}

/// The proxy's state, owned by its thread.
struct Proxy {
    epoll: Epoll,
    listeners: Vec<(TcpListener, SocketAddrV4)>,
    ports: Vec<Port>,
    /// `None`: closed in this batch of events, removed after it (so a
    /// stale event cannot reach a newer connection in the same slot).
    relays: Slab<Option<Relay>>,
    sessions: Slab<Option<Session>>,
    closed_relays: Vec<usize>,
    /// Accepted clients waiting for a turn to connect to the guest.
    waiting: std::collections::VecDeque<(TcpStream, SocketAddrV4)>,
    /// Relays whose connection to the guest is being made.
    connecting: usize,
    closed_sessions: Vec<usize>,
    pool: PipePool,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    serial: u64,
    max_relays: usize,
    accept_paused_until: Option<Instant>,
    warned: Warned,
    /// The buffer TCP bytes are copied through (small messages) and UDP
    /// datagrams relayed in.
    scratch: Vec<u8>,
}

/// Binds every published port, then serves them all from one thread (and,
/// where the open-file limit is too low for [`WANT_RELAYS`] connections
/// and cannot be raised, from helper processes sharing the TCP listeners);
/// prints one line per port. A port that cannot be bound, or a namespace
/// that cannot be entered, fails the run before any is served.
pub fn start(list: &[Publish], ns: &File, guest: Ipv4Addr) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let (listeners, ports) = bind(list, guest)?;
    let max_relays = relay_capacity();
    if !listeners.is_empty() && max_relays < WANT_RELAYS {
        let helpers = WANT_RELAYS.div_ceil(max_relays.max(1)).saturating_sub(1).min(MAX_HELPERS);
        spawn_helpers(helpers, &listeners, ns)?;
        let total = max_relays * (helpers + 1);
        if total < WANT_RELAYS {
            eprintln!("oasis: warning: the open-file limit lets at most {total} TCP connections be relayed at once");
        }
    }
    let ns = ns.try_clone().context("duplicating the namespace descriptor")?;
    serve_in_thread(listeners, ports, max_relays, move || {
        netns::enter(&ns).context("entering the run's network namespace")
    })?;
    announce(list, guest);
    Ok(())
}

/// [`start`] without helpers, the proxy thread first calling `enter`
/// (which moves it into the namespace the guest is reached from).
#[cfg(test)]
fn start_with(list: &[Publish], guest: Ipv4Addr, enter: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    let (listeners, ports) = bind(list, guest)?;
    serve_in_thread(listeners, ports, relay_capacity(), enter)?;
    announce(list, guest);
    Ok(())
}

fn announce(list: &[Publish], guest: Ipv4Addr) {
    for p in list {
        eprintln!("oasis: publishing {}:{} -> {guest}:{}/{}", p.ip, p.host, p.guest, p.proto);
    }
}

type Listeners = Vec<(TcpListener, SocketAddrV4)>;

/// Binds the published ports on 127.0.0.1, in this thread's namespace.
fn bind(list: &[Publish], guest: Ipv4Addr) -> Result<(Listeners, Vec<Port>)> {
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    for p in list {
        let addr = SocketAddrV4::new(p.ip, p.host);
        let target = SocketAddrV4::new(guest, p.guest);
        let what = || format!("publishing {}:{}/{}", p.ip, p.host, p.proto);
        match p.proto {
            Proto::Tcp => {
                let l = TcpListener::bind(addr).with_context(what)?;
                // Best effort: a short queue only slows a burst down.
                let _ = oasis_sys::set_backlog(&l, BACKLOG);
                l.set_nonblocking(true).with_context(what)?;
                listeners.push((l, target));
            }
            Proto::Udp => {
                let s = UdpSocket::bind(addr).with_context(what)?;
                s.set_nonblocking(true).with_context(what)?;
                ports.push(Port { socket: s, target, sessions: HashMap::new() });
            }
        }
    }
    Ok((listeners, ports))
}

/// How many connections one process may relay: the open-file limit,
/// raised as far as it goes, over the two sockets each takes.
fn relay_capacity() -> usize {
    let files = oasis_sys::raise_nofile_limit(WANT_FILES).unwrap_or(1024);
    usize::try_from(files.saturating_sub(RESERVED_FILES) / FILES_PER_RELAY).unwrap_or(usize::MAX)
}

/// Starts `count` helper processes (`oasis publish-worker`) in the run's
/// namespace, each serving the same TCP listeners with a descriptor limit
/// of its own. They die with this process.
fn spawn_helpers(count: usize, listeners: &Listeners, ns: &File) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let exe = std::env::current_exe().context("finding the oasis executable")?;
    let fds: Vec<RawFd> = listeners.iter().map(|(l, _)| l.as_raw_fd()).collect();
    for _ in 0..count {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("publish-worker").stdin(std::process::Stdio::null());
        for (l, target) in listeners {
            cmd.arg("--tcp").arg(format!("{}={target}", l.as_raw_fd()));
        }
        oasis_sys::child_in_netns_keeping(&mut cmd, ns, &fds);
        // Not waited for: it lives as long as this process (PDEATHSIG).
        cmd.spawn().context("starting a proxy helper process")?;
    }
    Ok(())
}

/// `oasis publish-worker`: serves inherited TCP listeners (descriptor =
/// guest address) from this process, which was started in the run's
/// namespace. Runs until killed.
pub fn worker(tcp: &[(RawFd, SocketAddrV4)]) -> Result<()> {
    let mut listeners = Vec::new();
    for &(fd, target) in tcp {
        let l = oasis_sys::inherited_listener(fd).with_context(|| format!("descriptor {fd}"))?;
        l.set_nonblocking(true)?;
        listeners.push((l, target));
    }
    let mut proxy = Proxy::new(listeners, Vec::new(), relay_capacity())?;
    proxy.run();
    Ok(())
}

fn serve_in_thread(
    listeners: Listeners,
    ports: Vec<Port>,
    max_relays: usize,
    enter: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<()> {
    let (ready, started) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("oasis-publish".into())
        .spawn(move || {
            let made = enter().and_then(|()| Proxy::new(listeners, ports, max_relays));
            match made {
                Ok(mut proxy) => {
                    let _ = ready.send(Ok(()));
                    proxy.run();
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        })
        .context("starting the proxy thread")?;
    started.recv().map_err(|_| anyhow!("the proxy thread ended before starting"))?
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Proxy {
    fn new(listeners: Vec<(TcpListener, SocketAddrV4)>, ports: Vec<Port>, max_relays: usize) -> Result<Proxy> {
        let epoll = Epoll::new().context("creating an epoll instance")?;
        for (i, (l, _)) in listeners.iter().enumerate() {
            epoll.add(l, Token::Listener(i).encode(), Interest::READ.edge()).context("watching a listener")?;
        }
        for (i, p) in ports.iter().enumerate() {
            epoll.add(&p.socket, Token::UdpPort(i).encode(), Interest::READ.edge()).context("watching a UDP port")?;
        }
        Ok(Proxy {
            epoll,
            listeners,
            ports,
            relays: Slab::new(),
            sessions: Slab::new(),
            closed_relays: Vec::new(),
            waiting: std::collections::VecDeque::new(),
            connecting: 0,
            closed_sessions: Vec::new(),
            pool: PipePool::default(),
            timers: BinaryHeap::new(),
            serial: 0,
            max_relays,
            accept_paused_until: None,
            warned: Warned::default(),
            scratch: vec![0; SCRATCH],
        })
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(EVENTS);
        loop {
            let timeout = self.next_wake().map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.epoll.wait(&mut events, timeout) {
                eprintln!("oasis: warning: the port proxy stopped: {e}");
                return;
            }
            for event in events.iter() {
                self.dispatch(event);
            }
            self.expire(Instant::now());
            self.start_connects();
            for key in self.closed_relays.drain(..) {
                self.relays.remove(key);
            }
            for key in self.closed_sessions.drain(..) {
                self.sessions.remove(key);
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (timer, self.accept_paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn dispatch(&mut self, event: Event) {
        match Token::decode(event.token) {
            Some(Token::Listener(i)) if self.accept_paused_until.is_none() => self.accept(i),
            Some(Token::Listener(_)) => {}
            Some(Token::UdpPort(i)) => self.relay_datagrams_in(i),
            Some(Token::Client(key)) => self.relay_event(key, false, event),
            Some(Token::Guest(key)) => self.relay_event(key, true, event),
            Some(Token::Session(key)) => self.relay_replies(key),
            None => {}
        }
    }

    /// Runs what is due: connects that took too long, silent sessions,
    /// and accepting again after a pause.
    fn expire(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
            for i in 0..self.listeners.len() {
                self.accept(i);
            }
        }
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Connect { relay, serial } => {
                    let late = matches!(self.relays.get(relay), Some(Some(r)) if r.serial == serial && !r.connected);
                    if late {
                        let target = self.relays[relay].as_ref().and_then(|r| r.guest.peer_addr().ok());
                        self.warn_connect(target, "timed out");
                        self.close_relay(relay);
                    }
                }
                Timer::Idle { session, serial } => {
                    let Some(Some(s)) = self.sessions.get(session) else { continue };
                    if s.serial != serial {
                        continue;
                    }
                    let quiet_until = s.last + udp::IDLE;
                    if quiet_until <= now {
                        self.close_session(session);
                    } else {
                        self.timers.push(Reverse((quiet_until, timer)));
                    }
                }
            }
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Accepts every waiting connection on listener `i`.
    fn accept(&mut self, i: usize) {
        loop {
            if self.relays.len() + self.waiting.len() >= self.max_relays {
                // Left in the backlog, for a helper process with room or
                // for when a connection here ends.
                if !std::mem::replace(&mut self.warned.full, true) {
                    eprintln!(
                        "oasis: warning: {} connections are open, the most the open-file limit allows here; new ones wait",
                        self.max_relays
                    );
                }
                self.accept_paused_until = Some(Instant::now() + BACKOFF);
                return;
            }
            let client = match self.listeners[i].0.accept() {
                Ok((c, _)) => c,
                Err(e) if would_block(&e) => return,
                Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {
                    continue;
                }
                Err(e) => {
                    // Out of descriptors or memory: the connection waits in
                    // the backlog until the pause is over.
                    if !std::mem::replace(&mut self.warned.accept, true) {
                        eprintln!("oasis: warning: accepting a connection: {e}; pausing");
                    }
                    self.accept_paused_until = Some(Instant::now() + BACKOFF);
                    return;
                }
            };
            let target = self.listeners[i].1;
            self.waiting.push_back((client, target));
        }
    }

    /// Starts connections to the guest for waiting clients, while fewer
    /// than [`MAX_CONNECTING`] are being made.
    fn start_connects(&mut self) {
        while self.connecting < MAX_CONNECTING {
            let Some((client, target)) = self.waiting.pop_front() else { return };
            self.open_relay(client, target);
        }
    }

    fn open_relay(&mut self, client: TcpStream, target: SocketAddrV4) {
        if client.set_nonblocking(true).is_err() {
            return;
        }
        let guest = match oasis_sys::connect_nonblocking(target) {
            Ok(g) => g,
            Err(e) => {
                self.warn_connect(Some(target.into()), &e.to_string());
                return;
            }
        };
        // Requests and replies are passed on as they come: no waiting to
        // fill segments on either side.
        let _ = (client.set_nodelay(true), guest.set_nodelay(true));
        let serial = self.next_serial();
        let relay = Relay { client, guest, connected: false, up: Flow::default(), down: Flow::default(), serial };
        let key = self.relays.insert(Some(relay));
        self.connecting += 1;
        let Some(Some(r)) = self.relays.get(key) else { return };
        let watched = self
            .epoll
            .add(&r.client, Token::Client(key).encode(), Interest::BOTH.edge())
            .and_then(|()| self.epoll.add(&r.guest, Token::Guest(key).encode(), Interest::BOTH.edge()));
        if watched.is_err() {
            self.close_relay(key);
            return;
        }
        self.timers.push(Reverse((Instant::now() + CONNECT_TIMEOUT, Timer::Connect { relay: key, serial })));
    }

    fn relay_event(&mut self, key: usize, guest_side: bool, event: Event) {
        let Some(Some(relay)) = self.relays.get_mut(key) else { return };
        if event.read_closed() {
            match guest_side {
                false => relay.up.source_closed = true,
                true => relay.down.source_closed = true,
            }
        }
        let fresh = !relay.connected;
        if !relay.connected {
            // Client data waits in its socket until the guest answers;
            // the pump after connecting reads it (edges are not lost).
            if !guest_side || !(event.writable() || event.failed()) {
                return;
            }
            match relay.guest.take_error() {
                Ok(None) if event.writable() => {
                    relay.connected = true;
                    self.connecting -= 1;
                }
                Ok(None) => return,
                Ok(Some(e)) | Err(e) => {
                    let target = relay.guest.peer_addr().ok();
                    self.warn_connect(target, &e.to_string());
                    self.close_relay(key);
                    return;
                }
            }
        }
        // Each direction only on the events that can move it: input on its
        // source, room at its destination (after connecting, or on an
        // error, both).
        let (up, down) = if fresh || event.failed() {
            (true, true)
        } else if guest_side {
            (event.writable(), event.readable())
        } else {
            (event.readable(), event.writable())
        };
        match relay.pump(up, down, &mut self.pool, &mut self.scratch) {
            Ok(false) => {}
            // Over both ways, or broken: both sockets are closed.
            Ok(true) | Err(_) => self.close_relay(key),
        }
    }

    fn close_relay(&mut self, key: usize) {
        if let Some(slot) = self.relays.get_mut(key)
            && let Some(relay) = slot.take()
        {
            if !relay.connected {
                self.connecting -= 1;
            }
            self.closed_relays.push(key);
        }
    }

    /// Says why the guest could not be reached: the first time in full,
    /// then every thousandth (a guest still booting refuses many).
    fn warn_connect(&mut self, target: Option<SocketAddr>, why: &str) {
        self.warned.connect += 1;
        let n = self.warned.connect;
        if n == 1 || n.is_multiple_of(1000) {
            let target = target.map_or_else(|| "the guest".to_string(), |t| t.to_string());
            let count = if n > 1 { format!(" ({n} failures so far)") } else { String::new() };
            eprintln!("oasis: connecting to {target}: {why}{count}");
        }
    }

    /// Datagrams from clients on UDP port `i`, each sent on by the
    /// client's session (made on its first datagram).
    fn relay_datagrams_in(&mut self, i: usize) {
        loop {
            let (n, client) = match self.ports[i].socket.recv_from(&mut self.scratch) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let key = match self.ports[i].sessions.get(&client) {
                Some(&k) => k,
                None => match self.open_session(i, client) {
                    Some(k) => k,
                    None => continue,
                },
            };
            if let Some(Some(s)) = self.sessions.get_mut(key) {
                s.last = Instant::now();
                // A full socket buffer drops the datagram, as a network would.
                let _ = s.socket.send(&self.scratch[..n]);
            }
        }
    }

    fn open_session(&mut self, port: usize, client: SocketAddr) -> Option<usize> {
        let p = &self.ports[port];
        if p.sessions.len() >= udp::MAX_SESSIONS {
            if !std::mem::replace(&mut self.warned.udp_full, true) {
                eprintln!(
                    "oasis: warning: {} UDP clients are active; dropping datagrams from new ones",
                    udp::MAX_SESSIONS
                );
            }
            return None;
        }
        let target = p.target;
        // Made in this thread, so in the run's namespace.
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.connect(target).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s));
        let socket = match socket {
            Ok(s) => s,
            Err(e) => {
                eprintln!("oasis: warning: a socket to {target} in the run's namespace: {e}");
                return None;
            }
        };
        let serial = self.next_serial();
        let now = Instant::now();
        let key = self.sessions.insert(Some(Session { port, client, socket, last: now, serial }));
        let Some(Some(s)) = self.sessions.get(key) else { return None };
        if self.epoll.add(&s.socket, Token::Session(key).encode(), Interest::READ.edge()).is_err() {
            self.sessions.remove(key);
            return None;
        }
        self.ports[port].sessions.insert(client, key);
        self.timers.push(Reverse((now + udp::IDLE, Timer::Idle { session: key, serial })));
        Some(key)
    }

    /// The guest's replies on session `key`, sent back to its client.
    fn relay_replies(&mut self, key: usize) {
        loop {
            let Some(Some(s)) = self.sessions.get_mut(key) else { return };
            match s.socket.recv(&mut self.scratch) {
                Ok(n) => {
                    s.last = Instant::now();
                    let _ = self.ports[s.port].socket.send_to(&self.scratch[..n], s.client);
                }
                Err(e) if would_block(&e) => return,
                // A refusal (ICMP) means the guest is not listening (yet),
                // which the client learns by silence.
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) => {}
                Err(_) => {
                    self.close_session(key);
                    return;
                }
            }
        }
    }

    fn close_session(&mut self, key: usize) {
        if let Some(slot) = self.sessions.get_mut(key)
            && let Some(s) = slot.take()
        {
            self.ports[s.port].sessions.remove(&s.client);
            self.closed_sessions.push(key);
        }
    }
}

#[cfg(test)]
mod tests;
