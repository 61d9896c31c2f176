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
pub use images::{Images, guest_images, images, oasis_binary, unix_images, unix_tap_images, workspace_root};
pub use netns::{NetNs, netns_available};
pub use process::{Outcome, children_of, guest_process, run, run_with_input};

/// Prints why a test is skipped, in a form that stands out in test output.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
}

pub use oasis_targets::{Invocation, Launch, Need, Target};

/// `Ok` when hvt can run here (a usable `/dev/kvm`), else the reason.
pub fn kvm_available() -> Result<(), String> {
    oasis_targets::Need::Kvm.check()
}

/// Whether KVM here is the software-emulated kind (`kvm_pvm`), where guests
/// run about 10^4 times slower.
pub fn kvm_is_emulated() -> bool {
    oasis_targets::kvm_is_emulated()
}

/// The targets of the table available here, each left out with a printed
/// reason.
pub fn targets(test: &str) -> Vec<&'static Target> {
    oasis_targets::TARGETS
        .iter()
        .filter(|t| match t.available() {
            Ok(()) => true,
            Err(why) => {
                skip(&format!("{test} on {}", t.name), &why);
                false
            }
        })
        .collect()
}

/// The targets a tender launches (hvt, spt), those available here.
pub fn tenders(test: &str) -> Vec<&'static Target> {
    targets(test).into_iter().filter(|t| t.is_tender()).collect()
}

/// The target named `name` (a test's own choice of one).
pub fn target(name: &str) -> &'static Target {
    oasis_targets::find(name).unwrap_or_else(|| panic!("no target {name} in the table"))
}

/// The command that runs image `name` (built for `target`) on `target`,
/// the way `oasis run` launches it: `configure` adds options, bindings
/// and arguments.
pub fn command(target: &Target, name: &str, configure: impl FnOnce(&mut Invocation<'_>)) -> std::process::Command {
    command_with(&oasis_binary(), target, name, configure)
}

/// [`command`] with the `oasis` executable at `oasis` (the CLI's own tests
/// use the binary cargo built for them).
pub fn command_with(
    oasis: &std::path::Path,
    target: &Target,
    name: &str,
    configure: impl FnOnce(&mut Invocation<'_>),
) -> std::process::Command {
    let image = images(target).path(name);
    let mut run = Invocation::new(oasis, &image);
    configure(&mut run);
    argv_command(&target.command(&run))
}

/// A `Command` for an argument vector.
pub fn argv_command(argv: &[std::ffi::OsString]) -> std::process::Command {
    let mut c = std::process::Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}
