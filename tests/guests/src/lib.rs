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
