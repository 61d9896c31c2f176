//! The raw tenders as subcommands.

use std::ffi::OsString;

use oasis_abi::exit;
use oasis_tender::TenderArgs;
use oasis_tender::config::OPTIONS_HELP;

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

/// `oasis spt …`: exits with the guest's status, or 253 when the guest
/// cannot be started.
pub fn spt_main(args: Vec<OsString>) -> Result<(), u8> {
    // A guest writing to a closed stdout loses its output; it must not
    // kill the tender.
    oasis_sys::ignore_sigpipe();
    let parsed = match parse("spt", args) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        Err(code) => return Err(code),
    };
    match oasis_spt::run(&parsed) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("oasis-spt: refused: {e}");
            Err(exit::REFUSED)
        }
    }
}

/// `oasis hvt …`: exits with the guest's status, or 253 when the guest
/// cannot be started.
pub fn hvt_main(args: Vec<OsString>) -> Result<(), u8> {
    // A guest writing to a closed stdout loses its output; it must not
    // kill the tender.
    oasis_sys::ignore_sigpipe();
    let parsed = match parse("hvt", args) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(()),
        Err(code) => return Err(code),
    };
    match oasis_hvt::run(&parsed) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("oasis-hvt: refused: {e}");
            Err(exit::REFUSED)
        }
    }
}
