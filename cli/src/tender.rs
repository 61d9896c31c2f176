//! The raw tenders as subcommands (`oasis spt IMAGE …`), from one list.

use std::convert::Infallible;
use std::ffi::OsString;

use oasis_abi::exit;
use oasis_tender::TenderArgs;
use oasis_tender::config::{ArgsError, TenderOptions};

/// A tender this `oasis` runs in-process.
pub struct Tender {
    /// Its subcommand, as the table of targets launches it.
    pub name: &'static str,
    /// `oasis NAME`, for its help and messages.
    bin_name: &'static str,
    /// What it does, for its help.
    pub about: &'static str,
    /// Runs the guest `args` describe and exits with its status; returns
    /// only why it could not start one.
    run: fn(&TenderArgs) -> Result<Infallible, String>,
}

/// Every tender, by subcommand.
pub const TENDERS: &[Tender] = &[
    Tender {
        name: "spt",
        bin_name: "oasis spt",
        about: SPT_ABOUT,
        run: |args| oasis_spt::run(args).map_err(|e| e.to_string()),
    },
    Tender {
        name: "hvt",
        bin_name: "oasis hvt",
        about: HVT_ABOUT,
        run: |args| oasis_hvt::run(args).map_err(|e| e.to_string()),
    },
];

/// `oasis spt`'s description, in its help and `oasis help`.
pub const SPT_ABOUT: &str = "The spt tender: run IMAGE in this process under seccomp";
/// `oasis hvt`'s description.
pub const HVT_ABOUT: &str = "The hvt tender: run IMAGE in a KVM virtual machine";

/// The tender whose subcommand is `name`.
pub fn find(name: &str) -> Option<&'static Tender> {
    TENDERS.iter().find(|t| t.name == name)
}

/// Parses a tender's arguments, or says why not; `None` means help was
/// printed.
fn parse(tender: &Tender, args: Vec<OsString>) -> Result<Option<TenderArgs>, u8> {
    match TenderArgs::parse_as(tender.bin_name, tender.about, args) {
        Ok(parsed) => Ok(Some(parsed)),
        Err(ArgsError::Help(text)) => {
            print!("{text}");
            Ok(None)
        }
        Err(e) => {
            eprintln!("oasis-{}: refused: {e} (oasis {} --help lists the options)", tender.name, tender.name);
            Err(exit::REFUSED)
        }
    }
}

/// Runs a tender on options `clap` parsed as part of the whole command
/// line (a path only `oasis`'s own tests take: `main` hands tender
/// command lines to [`main`] before `clap` sees them).
pub fn main_parsed(tender: &Tender, options: TenderOptions) -> Result<(), u8> {
    match TenderArgs::from_options(options) {
        Ok(parsed) => start(tender, &parsed),
        Err(e) => {
            eprintln!("oasis-{}: refused: {e}", tender.name);
            Err(exit::REFUSED)
        }
    }
}

/// `oasis TENDER …`: exits with the guest's status, or 253 when the guest
/// cannot be started.
pub fn main(tender: &Tender, args: Vec<OsString>) -> Result<(), u8> {
    // A guest writing to a closed stdout loses its output; it must not
    // kill the tender.
    oasis_sys::ignore_sigpipe();
    match parse(tender, args)? {
        Some(parsed) => start(tender, &parsed),
        None => Ok(()),
    }
}

fn start(tender: &Tender, parsed: &TenderArgs) -> Result<(), u8> {
    match (tender.run)(parsed) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("oasis-{}: refused: {e}", tender.name);
            Err(exit::REFUSED)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_tender_target_has_a_tender() {
        for t in oasis_targets::TARGETS {
            if let oasis_targets::Launch::Tender { subcommand } = t.launch {
                assert!(super::find(subcommand).is_some(), "target {} needs tender {subcommand}", t.name);
            }
        }
    }
}
