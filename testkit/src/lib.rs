//! The Oasis test bed: builds the unikernels and test images once per test
//! process, runs them under a tender (or as unix programs) with a hard time
//! limit, and says plainly when a test is skipped and why.
//!
//! It is test code: it panics with a description when something is wrong.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

mod guest;
mod images;
mod netns;
mod process;

pub use guest::Running;
pub use images::{Images, guest_images, oasis_binary, unix_images, unix_tap_images, workspace_root};
pub use netns::{NetNs, netns_available};
pub use process::{Outcome, run, run_with_input};

/// Prints why a test is skipped, in a form that stands out in test output.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
}

/// `Ok` when hvt can run here (a usable `/dev/kvm`), else the reason.
pub fn kvm_available() -> Result<(), String> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("/dev/kvm is not usable ({e})")),
    }
}

/// Whether KVM here is the software-emulated kind (`kvm_pvm`), where guests
/// run about 10^4 times slower.
pub fn kvm_is_emulated() -> bool {
    std::path::Path::new("/sys/module/kvm_pvm").exists()
}

/// A target to run an image on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The KVM tender.
    Hvt,
    /// The seccomp tender.
    Spt,
    /// A plain Linux process.
    Unix,
}

impl Target {
    /// The name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Target::Hvt => "hvt",
            Target::Spt => "spt",
            Target::Unix => "unix",
        }
    }
}

/// The targets available here, each with a printed reason for any left out.
pub fn targets(test: &str) -> Vec<Target> {
    let mut out = vec![Target::Spt, Target::Unix];
    match kvm_available() {
        Ok(()) => out.insert(0, Target::Hvt),
        Err(why) => skip(&format!("{test} on hvt"), &why),
    }
    out
}
