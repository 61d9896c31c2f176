//! TCP listeners and connections over smoltcp sockets.

use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use oasis_devices::NetDevice;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::api::{NetError, TcpListener, TcpStream};
use crate::stack::{SmolStack, to_socket_addr};

/// A listening socket; keeps a backlog of sockets listening for it.
pub struct SmolListener<D: NetDevice> {
    pub(crate) stack: SmolStack<D>,
    pub(crate) key: usize,
    pub(crate) port: u16,
}

impl<D: NetDevice + 'static> TcpListener for SmolListener<D> {
    type Stream = SmolStream<D>;

    async fn accept(&self) -> Result<(SmolStream<D>, SocketAddr), NetError> {
        let handle = poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let l = &mut inner.listeners[self.key];
            match l.ready.pop_front() {
                Some(h) => Poll::Ready(h),
                None => {
                    l.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await;
        let peer = self.stack.borrow().tcp(handle).remote_endpoint().map(to_socket_addr);
        // A listening socket was used up: let the driver open another.
        self.stack.borrow().notify();
        let stream = SmolStream::new(self.stack.clone(), handle, peer);
        let addr = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok((stream, addr))
    }

    fn local_port(&self) -> u16 {
        self.port
    }
}

impl<D: NetDevice> Drop for SmolListener<D> {
    fn drop(&mut self) {
        let mut inner = self.stack.borrow();
        let Some(l) = inner.listeners.try_remove(self.key) else { return };
        inner.phy.syn_gate.remove(&l.port);
        for h in l.listening {
            inner.tcp(h).abort();
            inner.sockets.remove(h);
        }
        for h in l.ready {
            inner.release(h);
        }
    }
}

/// A TCP connection. Dropping it closes it gracefully (FIN after the data
/// already written); the stack frees it once closed.
pub struct SmolStream<D: NetDevice> {
    stack: SmolStack<D>,
    handle: SocketHandle,
    peer: Option<SocketAddr>,
}

impl<D: NetDevice> SmolStream<D> {
    pub(crate) fn new(stack: SmolStack<D>, handle: SocketHandle, peer: Option<SocketAddr>) -> SmolStream<D> {
        SmolStream { stack, handle, peer }
    }

    /// Completes when the handshake is done, or fails when it cannot be.
    pub(crate) async fn established(&self) -> Result<(), NetError> {
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.tcp(self.handle);
            match s.state() {
                tcp::State::SynSent | tcp::State::SynReceived => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                tcp::State::Closed => Poll::Ready(Err(NetError::Refused)),
                _ => Poll::Ready(Ok(())),
            }
        })
        .await
    }
}

impl<D: NetDevice> embedded_io_async::ErrorType for SmolStream<D> {
    type Error = NetError;
}

impl<D: NetDevice> embedded_io_async::Read for SmolStream<D> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.tcp(self.handle);
            let r = match s.recv_slice(buf) {
                Ok(0) => {
                    s.register_recv_waker(cx.waker());
                    return Poll::Pending;
                }
                Ok(n) => Ok(n),
                Err(tcp::RecvError::Finished) => Ok(0),
                Err(tcp::RecvError::InvalidState) => {
                    Err(if s.state() == tcp::State::Closed { NetError::Reset } else { NetError::Closed })
                }
            };
            // Freed receive space may open the window: let the driver say so.
            inner.notify();
            Poll::Ready(r)
        })
        .await
    }
}

impl<D: NetDevice> embedded_io_async::Write for SmolStream<D> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.tcp(self.handle);
            if !s.may_send() {
                return Poll::Ready(Err(if s.state() == tcp::State::Closed {
                    NetError::Reset
                } else {
                    NetError::Closed
                }));
            }
            match s.send_slice(buf) {
                Ok(0) => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Ok(n) => {
                    inner.notify();
                    Poll::Ready(Ok(n))
                }
                Err(_) => Poll::Ready(Err(NetError::Closed)),
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.tcp(self.handle);
            if s.send_queue() == 0 {
                return Poll::Ready(Ok(()));
            }
            if s.state() == tcp::State::Closed {
                return Poll::Ready(Err(NetError::Reset));
            }
            s.register_send_waker(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl<D: NetDevice> TcpStream for SmolStream<D> {
    async fn shutdown(&mut self) -> Result<(), NetError> {
        let mut inner = self.stack.borrow();
        inner.tcp(self.handle).close();
        inner.notify();
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl<D: NetDevice> Drop for SmolStream<D> {
    fn drop(&mut self) {
        self.stack.borrow().release(self.handle);
    }
}
