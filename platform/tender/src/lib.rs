//! The tender platform: the guest side of Oasis's own tenders, hvt (KVM)
//! and spt (a seccomp-sandboxed process).
//!
//! One image serves both tenders: boot info names the tender, and the
//! hypercall path (an `out` instruction on hvt, a call into the tender on
//! spt) is picked from it at boot. The same image also boots on a VMM
//! (QEMU, Firecracker) through its PVH entry: a third kind of machine with
//! a UART, the TSC and port I/O instead of hypercalls (`pvh`). This crate provides the entry point, the
//! heap, the panic handler, the buffered console, clocks, RDRAND seed
//! mixing, CPU exception reporting and the device drivers (net and block
//! through hypercalls), and implements [`oasis_platform::Platform`] as
//! `Guest`. It is the only guest code with `unsafe`.
//!
//! It is not an API for applications: they use the `oasis` crate, which
//! picks this platform for `target_os = "none"`. Everything here compiles
//! only for that target; on the host the crate is empty.

#![no_std]
#![cfg(target_os = "none")]
#![allow(clippy::missing_safety_doc)]

extern crate alloc;

pub mod block;
mod boot;
mod clock;
mod console;
mod entry;
mod exceptions;
mod heap;
pub mod hypercall;
pub mod net;
mod news;
mod panic;
mod platform;
mod pvh;
mod rdrand;

pub use platform::Guest;
