//! The Oasis network stack: Ethernet, ARP, IPv4, ICMP echo, UDP, TCP, IPv6
//! with neighbour discovery, and a DHCP client, built on `smoltcp` and
//! offered to applications through the async [`Stack`] API.
//!
//! The stack runs as one task of the runtime (the *driver*): it receives
//! frames from a [`NetDevice`](oasis_devices::NetDevice), feeds them to
//! smoltcp, transmits what sockets queued, and sleeps until the device has
//! input, smoltcp's next timer, or a socket operation needs it. Frames that
//! are malformed (truncated, bad checksum, lengths that lie) are dropped
//! before smoltcp and counted in [`NetStats`].
//!
//! It is `no_std` + `alloc` and has no `unsafe`. It is not a device
//! driver: the platforms provide devices (`oasis-platform-tender` through hypercalls,
//! `oasis-platform-unix` on a TAP). The unix target's host-socket stack implements
//! the same [`Stack`] trait without this crate's machinery.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

pub mod api;
mod checksum;
pub mod config;
pub mod nal;
mod offload;
mod phy;
mod stack;
mod tcp;
mod udp;
pub mod validate;

pub use api::{NetError, Stack, TcpListener, TcpStream, UdpSocket};
pub use config::NetConfig;
pub use phy::NetStats;
pub use stack::SmolStack;
pub use tcp::{SmolListener, SmolStream};
pub use udp::SmolUdp;

/// The byte-stream traits [`TcpStream`] is made of.
pub use embedded_io_async as io;
#[doc(hidden)]
pub use embedded_nal_async as __nal;

impl_embedded_nal!(SmolStack<D>, D: oasis_devices::NetDevice + 'static);
