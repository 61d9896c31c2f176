//! The raw tenders as subcommands (`oasis spt IMAGE …`), from one list.

use std::convert::Infallible;
use std::ffi::OsString;

use oasis_abi::exit;
use oasis_tender::TenderArgs;
use oasis_tender::config::OPTIONS_HELP;

/// A tender this `oasis` runs in-process.
pub struct Tender {
    /// Its subcommand, as the table of targets launches it.
    pub name: &'static str,
    /// Runs the guest `args` describe and exits with its status; returns
    /// only why it could not start one.
    run: fn(&TenderArgs) -> Result<Infallible, String>,
}

/// Every tender, by subcommand.
pub const TENDERS: &[Tender] = &[
    Tender { name: "spt", run: |args| oasis_spt::run(args).map_err(|e| e.to_string()) },
    Tender { name: "hvt", run: |args| oasis_hvt::run(args).map_err(|e| e.to_string()) },
];

/// The tender whose subcommand is `name`.
pub fn find(name: &str) -> Option<&'static Tender> {
    TENDERS.iter().find(|t| t.name == name)
}

fn usage(name: &str) -> String {
    format!("usage: oasis {name} IMAGE [OPTIONS] [-- ARGS...]\n\noptions:\n{OPTIONS_HELP}\n")
}

/// Parses a tender's arguments, or says why not; `None` means help was
/// printed.
fn parse(name: &str, args: Vec<OsString>) -> Result<Option<TenderArgs>, u8> {
    if args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h") {
        print!("{}", usage(name));
        return Ok(None);
    }
    TenderArgs::parse(args).map(Some).map_err(|e| {
        eprintln!("oasis-{name}: refused: {e}\n{}", usage(name).lines().next().unwrap_or_default());
        exit::REFUSED
    })
}

/// `oasis TENDER …`: exits with the guest's status, or 253 when the guest
/// cannot be started.
pub fn main(tender: &Tender, args: Vec<OsString>) -> Result<(), u8> {
    // A guest writing to a closed stdout loses its output; it must not
    // kill the tender.
    oasis_sys::ignore_sigpipe();
    let parsed = match parse(tender.name, args) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        Err(code) => return Err(code),
    };
    match (tender.run)(&parsed) {
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
