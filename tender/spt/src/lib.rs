//! The spt tender: runs an Oasis image inside this very process, at the
//! same addresses hvt would use, confined by a seccomp filter that allows
//! only what the hypercalls need on already-open descriptors.
//!
//! The guest calls the tender through an entry address handed over in boot
//! info (see `docs/tenders.md` for why that, not raw system calls from the
//! guest): the entry switches to the tender's stack and runs the same
//! checked hypercall server as hvt (`oasis_tender::Hypercalls`). CPU faults,
//! forbidden system calls and `--timeout` arrive as signals, whose handlers
//! steer the thread back out of the guest so the run ends as a typed
//! [`oasis_tender::Stop`].
//!
//! It is not a hypervisor: the guest shares this process's address space,
//! and the boundary is the seccomp filter, exactly as with Solo5's spt.

mod enter;
mod run;
mod signals;

pub use run::{Spt, SptError, run};
