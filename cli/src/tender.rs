//! The raw tenders as subcommands.

use std::ffi::OsString;
use std::process::ExitCode;

use oasis_abi::exit;
use oasis_tender::TenderArgs;
use oasis_tender::config::OPTIONS_HELP;

fn usage(name: &str) -> String {
    format!("usage: oasis {name} IMAGE [OPTIONS] [-- ARGS...]\n\noptions:\n{OPTIONS_HELP}\n")
}

/// `oasis spt …`: exits with the guest's status, or 253 when the guest
/// cannot be started.
pub fn spt_main(args: Vec<OsString>) -> ExitCode {
    if args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || a == "-h")
    {
        print!("{}", usage("spt"));
        return ExitCode::SUCCESS;
    }
    let parsed = match TenderArgs::parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "oasis-spt: refused: {e}\n{}",
                usage("spt").lines().next().unwrap_or_default()
            );
            return ExitCode::from(exit::REFUSED);
        }
    };
    match oasis_spt::run(&parsed) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("oasis-spt: refused: {e}");
            ExitCode::from(exit::REFUSED)
        }
    }
}
