//! What the Oasis tenders share: reading and checking an image, binding the
//! manifest's devices, laying out guest memory, serving hypercalls, the
//! seccomp policy, and the typed reasons a guest stops.
//!
//! Every byte here may come from a hostile guest or a hostile image file:
//! parsers return errors instead of panicking, guest memory is reached only
//! through `vm-memory`'s checked accessors, and the hypercall path does not
//! allocate (spt runs it inside the sandbox).
//!
//! It is not a tender: `oasis-spt` and `oasis-hvt` are, each adding its way
//! of running guest code and delivering its calls here.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod devices;
pub mod faults;
pub mod hypercall;
pub mod image;
pub mod image_file;
pub mod launch;
pub mod link;
pub mod manifest;
pub mod memory;
pub mod memstat;
pub mod report;
pub mod seccomp;
pub mod setup;
pub mod stats;
pub mod stop;
pub mod supervise;

pub use config::{ArgsError, BindError, Binding, TenderArgs};
pub use hypercall::Hypercalls;
pub use image::{Image, ImageError};
pub use manifest::{Manifest, ManifestError};
pub use memory::LoadError;
pub use setup::{Prepared, SetupError};
pub use stop::{Stop, Violation};
