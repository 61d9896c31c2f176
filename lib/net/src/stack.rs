//! The stack: smoltcp's interface and sockets, driven by one task.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{RefCell, RefMut};
use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use oasis_devices::NetDevice;
use oasis_runtime::{Duration, Os, Sleep};
use slab::Slab;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Cidr, Ipv6Address, Ipv6Cidr};

use crate::api::{NetError, Stack};
use crate::config::NetConfig;
use crate::phy::{NetStats, Phy};
use crate::tcp::{SmolListener, SmolStream};
use crate::udp::SmolUdp;

/// Received frames handled before the driver lets other tasks run.
const INGRESS_BUDGET: usize = 128;
/// How long a dropped connection may take to finish closing.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// UDP socket buffers.
const UDP_PACKETS: usize = 64;
const UDP_PAYLOAD: usize = 64 * 1024;

pub(crate) struct ListenerState {
    pub(crate) port: u16,
    pub(crate) listening: Vec<SocketHandle>,
    pub(crate) ready: VecDeque<SocketHandle>,
    pub(crate) waker: Option<Waker>,
}

pub(crate) struct Inner<D> {
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    pub(crate) phy: Phy<D>,
    pub(crate) listeners: Slab<ListenerState>,
    closing: Vec<SocketHandle>,
    dhcp: Option<SocketHandle>,
    pub(crate) config: NetConfig,
    driver: Option<Waker>,
    notified: bool,
    next_port: u16,
}

/// A TCP/IP stack on one network device. Cheap to clone; clones share it.
pub struct SmolStack<D: NetDevice> {
    pub(crate) inner: Rc<RefCell<Inner<D>>>,
    pub(crate) os: Os,
}

impl<D: NetDevice> Clone for SmolStack<D> {
    fn clone(&self) -> Self {
        SmolStack { inner: self.inner.clone(), os: self.os.clone() }
    }
}

pub(crate) fn smol_now(os: &Os) -> SInstant {
    SInstant::from_micros((os.now().as_nanos() / 1000) as i64)
}

pub(crate) fn to_endpoint(addr: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(addr.ip().into(), addr.port())
}

pub(crate) fn to_socket_addr(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(e.addr), e.port)
}

/// The EUI-64 link-local address of `mac`.
fn link_local(mac: [u8; 6]) -> Ipv6Address {
    Ipv6Address::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([mac[0] ^ 0x02, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]]),
    )
}

impl<D: NetDevice> Inner<D> {
    /// Wakes the driver: a socket has something to send or room to receive.
    pub(crate) fn notify(&mut self) {
        self.notified = true;
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }

    pub(crate) fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    pub(crate) fn new_tcp_socket(&mut self) -> SocketHandle {
        let size = self.config.tcp_buffer;
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; size]), tcp::SocketBuffer::new(vec![0; size]));
        // smoltcp's Nagle holds back anything short of a full segment while
        // data is in flight; offloading, a full segment is 64 KiB, so a
        // reply of a few KiB would wait for the peer's (maybe delayed) ACK.
        // What servers set anyway (TCP_NODELAY): each poll sends what is
        // queued, so small writes still share segments.
        if self.phy.offload() {
            socket.set_nagle_enabled(false);
        }
        self.sockets.add(socket)
    }

    pub(crate) fn new_udp_socket(&mut self) -> SocketHandle {
        let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_PACKETS], vec![0; UDP_PAYLOAD]);
        self.sockets.add(udp::Socket::new(buffer(), buffer()))
    }

    /// Whether a TCP socket already listens on, or a connection uses, `port`.
    pub(crate) fn tcp_port_in_use(&self, port: u16) -> bool {
        self.listeners.iter().any(|(_, l)| l.port == port)
            || self.sockets.iter().any(|(_, s)| match s {
                smoltcp::socket::Socket::Tcp(t) => t.local_endpoint().is_some_and(|e| e.port == port),
                _ => false,
            })
    }

    /// Whether a UDP socket is bound to `port`.
    fn udp_port_in_use(&self, port: u16) -> bool {
        self.sockets.iter().any(|(_, s)| matches!(s, smoltcp::socket::Socket::Udp(u) if u.endpoint().port == port))
    }

    /// The next ephemeral port for which `in_use` says no.
    fn free_port(&mut self, in_use: fn(&Self, u16) -> bool) -> u16 {
        for _ in 0..16384 {
            let p = self.next_port;
            self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
            if !in_use(self, p) {
                return p;
            }
        }
        self.next_port
    }

    /// A free ephemeral TCP port.
    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        self.free_port(Self::tcp_port_in_use)
    }

    /// Hands a connection's socket to the reaper, which removes it once
    /// it has closed.
    pub(crate) fn release(&mut self, h: SocketHandle) {
        let s = self.tcp(h);
        s.close();
        s.set_timeout(Some(smoltcp::time::Duration::from_millis(CLOSE_TIMEOUT.as_millis() as u64)));
        self.closing.push(h);
        self.notify();
    }

    fn poll(&mut self, now: SInstant) -> bool {
        self.iface.poll_maintenance(now);
        let mut budget = INGRESS_BUDGET;
        let mut more = false;
        while budget > 0 {
            match self.iface.poll_ingress_single(now, &mut self.phy, &mut self.sockets) {
                PollIngressSingleResult::None => break,
                _ => budget -= 1,
            }
            if budget == 0 {
                more = true;
            }
        }
        while self.iface.poll_egress(now, &mut self.phy, &mut self.sockets) != PollResult::None {}
        self.dhcp_events();
        self.update_listeners();
        self.reap();
        more
    }

    fn dhcp_events(&mut self) {
        let Some(h) = self.dhcp else { return };
        match self.sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            Some(dhcpv4::Event::Configured(lease)) => {
                let (addr, router) = (lease.address, lease.router);
                log::info!("DHCP lease: {addr}{}", router.map(|r| alloc::format!(" via {r}")).unwrap_or_default());
                self.iface.update_ip_addrs(|addrs| {
                    addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
                    let _ = addrs.push(IpCidr::Ipv4(addr));
                });
                match router {
                    Some(r) => {
                        let _ = self.iface.routes_mut().add_default_ipv4_route(r);
                    }
                    None => {
                        self.iface.routes_mut().remove_default_ipv4_route();
                    }
                }
            }
            Some(dhcpv4::Event::Deconfigured) => {
                log::warn!("DHCP lease lost");
                self.iface.update_ip_addrs(|addrs| addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_))));
                self.iface.routes_mut().remove_default_ipv4_route();
            }
            None => {}
        }
    }

    /// Moves connected sockets to their listener's accept queue and keeps
    /// `tcp_backlog` sockets listening.
    fn update_listeners(&mut self) {
        let backlog = self.config.tcp_backlog;
        let keys: Vec<usize> = self.listeners.iter().map(|(k, _)| k).collect();
        for k in keys {
            let port = self.listeners[k].port;
            let listening = core::mem::take(&mut self.listeners[k].listening);
            let mut still = Vec::with_capacity(listening.len());
            let mut woke = false;
            for h in listening {
                match self.tcp(h).state() {
                    tcp::State::Listen | tcp::State::SynReceived => still.push(h),
                    tcp::State::Closed => {
                        // A handshake that failed: listen again.
                        if self.tcp(h).listen(port).is_ok() {
                            still.push(h);
                        } else {
                            self.sockets.remove(h);
                        }
                    }
                    _ => {
                        self.listeners[k].ready.push_back(h);
                        woke = true;
                    }
                }
            }
            let room = backlog.saturating_sub(still.len() + self.listeners[k].ready.len());
            for _ in 0..room {
                let h = self.new_tcp_socket();
                if self.tcp(h).listen(port).is_ok() {
                    still.push(h);
                } else {
                    self.sockets.remove(h);
                }
            }
            let free = still.iter().filter(|&&h| self.tcp(h).state() == tcp::State::Listen).count();
            self.phy.syn_gate.insert(port, free);
            let l = &mut self.listeners[k];
            l.listening = still;
            if woke && let Some(w) = l.waker.take() {
                w.wake();
            }
        }
    }

    fn reap(&mut self) {
        let closing = core::mem::take(&mut self.closing);
        for h in closing {
            if self.tcp(h).state() == tcp::State::Closed {
                self.sockets.remove(h);
            } else {
                self.closing.push(h);
            }
        }
    }
}

impl<D: NetDevice> SmolStack<D> {
    pub(crate) fn borrow(&self) -> RefMut<'_, Inner<D>> {
        self.inner.borrow_mut()
    }
}

impl<D: NetDevice + 'static> SmolStack<D> {
    /// A stack on `device`, configured by `config`, driven by a task
    /// spawned on `os`.
    pub fn new(os: &Os, device: D, config: NetConfig) -> SmolStack<D> {
        let info = device.info();
        let mut phy = Phy::new(device);
        let mut iface_config = Config::new(HardwareAddress::Ethernet(EthernetAddress(info.mac)));
        iface_config.random_seed = os.random_u64();
        let now = smol_now(os);
        let mut iface = Interface::new(iface_config, &mut phy, now);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::Ipv6(Ipv6Cidr::new(link_local(info.mac), 64)));
            if let Some(c) = config.ipv4 {
                let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(c.addr, c.prefix)));
            }
            if let Some(c) = config.ipv6 {
                let _ = addrs.push(IpCidr::Ipv6(Ipv6Cidr::new(c.addr, c.prefix)));
            }
        });
        if let Some(g) = config.ipv4_gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(g);
        }
        if let Some(g) = config.ipv6_gateway {
            let _ = iface.routes_mut().add_default_ipv6_route(g);
        }
        let mut sockets = SocketSet::new(Vec::new());
        let dhcp = config.dhcp().then(|| sockets.add(dhcpv4::Socket::new()));
        let next_port = 49152 + (os.random_u64() % 16384) as u16;
        log::info!(
            "net: mac {} mtu {}{}{}",
            EthernetAddress(info.mac),
            info.mtu,
            config
                .ipv4
                .map(|c| alloc::format!(", ipv4 {}/{}", c.addr, c.prefix))
                .unwrap_or_else(|| ", ipv4 by DHCP".into()),
            config.ipv6.map(|c| alloc::format!(", ipv6 {}/{}", c.addr, c.prefix)).unwrap_or_default(),
        );
        let inner = Inner {
            iface,
            sockets,
            phy,
            listeners: Slab::new(),
            closing: Vec::new(),
            dhcp,
            config,
            driver: None,
            notified: false,
            next_port,
        };
        let stack = SmolStack { inner: Rc::new(RefCell::new(inner)), os: os.clone() };
        let driver = stack.clone();
        os.spawn(async move { driver.drive().await });
        stack
    }

    /// Counters of frames seen, sent and dropped.
    pub fn stats(&self) -> NetStats {
        self.inner.borrow().phy.stats
    }

    /// The configured IPv4 address, once there is one.
    pub fn ipv4(&self) -> Option<core::net::Ipv4Addr> {
        self.inner.borrow().iface.ipv4_addr()
    }

    /// Waits until the stack has an IPv4 address (static or leased).
    pub async fn wait_for_ipv4(&self) -> core::net::Ipv4Addr {
        loop {
            if let Some(a) = self.ipv4() {
                return a;
            }
            self.os.sleep(Duration::from_millis(50)).await;
        }
    }

    async fn drive(self) {
        loop {
            let (more, delay) = {
                let mut inner = self.inner.borrow_mut();
                let now = smol_now(&self.os);
                let more = inner.poll(now);
                let Inner { iface, sockets, .. } = &mut *inner;
                let timers = iface.poll_delay(now, sockets);
                let delay = match (timers, inner.phy.report_delay(now)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                (more, delay)
            };
            if more {
                self.os.yield_now().await;
                continue;
            }
            let sleep = delay.map(|d| self.os.sleep(Duration::from_micros(d.total_micros())));
            DriverWait { inner: &self.inner, sleep }.await;
        }
    }
}

/// The driver's sleep: until the device has input, smoltcp's next timer,
/// or a socket operation notifies it.
struct DriverWait<'a, D> {
    inner: &'a Rc<RefCell<Inner<D>>>,
    sleep: Option<Sleep>,
}

impl<D: NetDevice> Future for DriverWait<'_, D> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut inner = self.inner.borrow_mut();
            if core::mem::take(&mut inner.notified) {
                return Poll::Ready(());
            }
            inner.driver = Some(cx.waker().clone());
            if inner.phy.dev.poll_receive_ready(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        if let Some(s) = self.sleep.as_mut()
            && Pin::new(s).poll(cx).is_ready()
        {
            return Poll::Ready(());
        }
        // Going to sleep: frames the device holds back for a batch go out
        // now, so none waits for a wake-up that only they would bring. (Not
        // after every poll: polls that find more work at once share one
        // batch.)
        self.inner.borrow_mut().phy.flush();
        Poll::Pending
    }
}

impl<D: NetDevice + 'static> Stack for SmolStack<D> {
    type Listener = SmolListener<D>;
    type Stream = SmolStream<D>;
    type Udp = SmolUdp<D>;

    async fn tcp_listen(&self, port: u16) -> Result<SmolListener<D>, NetError> {
        let mut inner = self.borrow();
        if port == 0 || inner.tcp_port_in_use(port) {
            return Err(NetError::AddressInUse);
        }
        let key =
            inner.listeners.insert(ListenerState { port, listening: Vec::new(), ready: VecDeque::new(), waker: None });
        inner.update_listeners();
        inner.notify();
        Ok(SmolListener { stack: self.clone(), key, port })
    }

    async fn tcp_connect(&self, remote: SocketAddr) -> Result<SmolStream<D>, NetError> {
        let handle = {
            let mut inner = self.borrow();
            let port = inner.ephemeral_port();
            let h = inner.new_tcp_socket();
            let Inner { iface, sockets, .. } = &mut *inner;
            let result = sockets.get_mut::<tcp::Socket>(h).connect(iface.context(), to_endpoint(remote), port);
            if let Err(e) = result {
                inner.sockets.remove(h);
                return Err(match e {
                    tcp::ConnectError::Unaddressable => NetError::Unreachable,
                    tcp::ConnectError::InvalidState => NetError::AddressInUse,
                });
            }
            inner.notify();
            h
        };
        let stream = SmolStream::new(self.clone(), handle, Some(remote));
        let connected = self.os.timeout(CONNECT_TIMEOUT, stream.established()).await;
        match connected {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NetError::TimedOut),
        }
    }

    async fn udp_bind(&self, port: u16) -> Result<SmolUdp<D>, NetError> {
        let mut inner = self.borrow();
        let port = if port == 0 { inner.free_port(Inner::udp_port_in_use) } else { port };
        if inner.udp_port_in_use(port) {
            return Err(NetError::AddressInUse);
        }
        let h = inner.new_udp_socket();
        if inner.sockets.get_mut::<udp::Socket>(h).bind(port).is_err() {
            inner.sockets.remove(h);
            return Err(NetError::AddressInUse);
        }
        Ok(SmolUdp::new(self.clone(), h, port))
    }
}
