//! Oasis guest platform bindings: the code that lets a unikernel image run
//! on the hvt (KVM) and spt (seccomp process) tenders.
//!
//! One image serves both tenders: boot info names the tender, and the
//! hypercall path (an `out` instruction on hvt, a call into the tender on
//! spt) is picked from it at boot. This crate provides the entry point, the
//! heap, the panic handler, the buffered console, clocks, RDRAND seed mixing
//! and CPU exception reporting, and implements
//! [`oasis_runtime::Platform`]. It is the only guest code with `unsafe`.
//!
//! It is not an API for applications: they use the `oasis` crate, which
//! re-exports what they need. Everything here compiles only for
//! `target_os = "none"`; on the host the crate is empty.

#![no_std]
#![cfg_attr(target_os = "none", allow(clippy::missing_safety_doc))]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
pub mod block;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod clock;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod exceptions;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
pub mod hypercall;
#[cfg(target_os = "none")]
pub mod net;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod platform;
#[cfg(target_os = "none")]
mod rdrand;

#[cfg(target_os = "none")]
pub use platform::run;
