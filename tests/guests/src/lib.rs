//! Helpers shared by the test guests.
//!
//! Each binary in `src/bin` is one behaviour, in the manner of Solo5's
//! `tests/`: the platform conformance suite (`time`, `quiet`, `panic`, …)
//! and the hostile guests that break the ABI on purpose. Some must do what
//! safe Rust cannot (dereference null, make a raw system call, pass a wild
//! pointer to a hypercall); they carry `unsafe` with a `SAFETY:` note
//! saying it is deliberate. Nothing else in the project does.
//!
//! Guest-only binaries (those with hand-made manifests or raw hypercalls)
//! build as stubs for the host that exit with status 2.

#![no_std]

/// Raw hypercalls for the hostile guests.
#[cfg(target_os = "none")]
pub mod hostile {
    pub use oasis::abi::nr;

    /// Makes call `number` with the argument struct `arg`, however wrong
    /// its contents are.
    pub fn call<T>(number: u64, arg: &mut T) {
        call_at(number, (arg as *mut T).addr() as u64);
    }

    /// Makes call `number` naming `addr` as its argument struct.
    pub fn call_at(number: u64, addr: u64) {
        // SAFETY: deliberately breaking the contract is the point: the
        // tender must refuse, and must only ever read or write guest memory.
        unsafe { oasis_platform_tender::hypercall::raw(number, addr) }
    }

    /// Guest memory size the hostile tests run with (`--mem=32M`).
    pub const MEM: u64 = 32 << 20;
}
