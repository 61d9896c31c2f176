//! UDP sockets over smoltcp.

use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use oasis_devices::NetDevice;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;

use crate::api::{NetError, UdpSocket};
use crate::stack::{SmolStack, to_endpoint, to_socket_addr};

/// A bound UDP socket.
pub struct SmolUdp<D: NetDevice> {
    stack: SmolStack<D>,
    handle: SocketHandle,
    port: u16,
}

impl<D: NetDevice> SmolUdp<D> {
    pub(crate) fn new(stack: SmolStack<D>, handle: SocketHandle, port: u16) -> SmolUdp<D> {
        SmolUdp { stack, handle, port }
    }
}

impl<D: NetDevice> UdpSocket for SmolUdp<D> {
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.sockets.get_mut::<udp::Socket>(self.handle);
            match s.recv() {
                Ok((data, meta)) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    Poll::Ready(Ok((n, to_socket_addr(meta.endpoint))))
                }
                Err(_) => {
                    s.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> Result<(), NetError> {
        poll_fn(|cx| {
            let mut inner = self.stack.borrow();
            let s = inner.sockets.get_mut::<udp::Socket>(self.handle);
            if buf.len() > s.payload_send_capacity() {
                return Poll::Ready(Err(NetError::TooLarge));
            }
            match s.send_slice(buf, to_endpoint(to)) {
                Ok(()) => {
                    inner.notify();
                    Poll::Ready(Ok(()))
                }
                Err(udp::SendError::BufferFull) => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Err(udp::SendError::Unaddressable) => Poll::Ready(Err(NetError::Unreachable)),
            }
        })
        .await
    }

    fn local_port(&self) -> u16 {
        self.port
    }
}

impl<D: NetDevice> Drop for SmolUdp<D> {
    fn drop(&mut self) {
        let mut inner = self.stack.borrow();
        inner.sockets.remove(self.handle);
    }
}
