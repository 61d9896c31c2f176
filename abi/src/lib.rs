//! The Oasis hypercall ABI: the whole contract between a unikernel and the
//! tender that runs it (hvt on KVM, spt in a seccomp-sandboxed process).
//!
//! This crate is data, not behaviour: call numbers, `#[repr(C)]` argument
//! structs, the boot-info structure, the device manifest carried in an ELF
//! note, and the memory layout both sides agree on. It has no dependencies,
//! is `no_std`, and every struct has its layout checked at compile time, so
//! the guest and the host cannot disagree silently. `docs/abi.md` is the
//! prose form of the same contract.
//!
//! It is not an implementation: the guest side lives in `oasis-platform-tender`, the
//! host side in `oasis-tender`.
//!
//! Words used as in RFC 2119: a guest that breaks a MUST is stopped by the
//! tender with a one-line error and [`exit::STOPPED`].

#![no_std]
#![forbid(unsafe_code)]

pub mod boot;
pub mod call;
pub mod cmdline;
pub mod exit;
pub mod layout;
pub mod manifest;

pub use boot::{BootInfo, Tender};
pub use call::*;
pub use manifest::{DeviceEntry, DeviceKind, ManifestHeader, ManifestNote};

/// Version of this contract. A tender refuses an image whose manifest
/// carries another version, printing both; a guest refuses boot info that
/// carries another version.
///
/// Bump it on any change to a call number, an argument struct, the boot
/// info, the manifest or the memory layout.
pub const ABI_VERSION: u32 = 2;
