//! The hvt tender: runs an Oasis image in a KVM virtual machine with one
//! vCPU, built on the rust-vmm crates (`kvm-ioctls`, `vm-memory`).
//!
//! The vCPU starts directly in 64-bit long mode (identity-mapped page
//! tables with page zero unmapped, a flat GDT, no BIOS, no bootloader, no
//! interrupts) at the image's entry point, with boot info in `rdi`.
//! Hypercalls arrive as I/O-port exits and are served by the same checked
//! code as spt (`oasis_tender::Hypercalls`). After setup the tender
//! confines itself with seccomp to what the vCPU loop needs.
//!
//! It is not a general VMM: no devices are emulated, and anything the guest
//! does besides hypercalls (other ports, MMIO, `hlt`, a triple fault) ends
//! the run with a message naming it.

mod paging;
mod run;
mod vm;

pub use paging::PagingError;
pub use run::{Hvt, HvtError, run};
