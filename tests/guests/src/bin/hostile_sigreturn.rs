//! Returns from a signal that never came, through a forged frame, to change
//! what the tender relies on: the blocked signals (`--mask all|none`) and
//! the alternate signal stack (`--altstack off`); then `--then spin`
//! (stopped only from outside: `--timeout`, SIGTERM), `null` or
//! `wild-stack` (a fault no handler can catch), `forbidden` (a system call
//! the sandbox traps while SIGSYS is blocked). Each must still end the run
//! with status 254 and one line.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) -> Result<(), oasis::ArgError> {
    use oasis::alloc::string::String;
    use oasis_test_guests::raw::{Then, forge_sigreturn};
    let mut args = os.args().parser();
    let mask: String = args.value("--mask")?.unwrap_or_else(|| "all".into());
    let altstack: String = args.value("--altstack")?.unwrap_or_else(|| "on".into());
    let then: String = args.value("--then")?.unwrap_or_else(|| "spin".into());
    args.finish()?;
    let then = match then.as_str() {
        "null" => Then::NullDeref,
        "forbidden" => Then::Forbidden,
        "wild-stack" => Then::WildStack,
        _ => Then::Spin,
    };
    // Flush what the runtime buffered: nothing after this goes through it.
    os.console().flush();
    forge_sigreturn(if mask == "all" { u64::MAX } else { 0 }, altstack == "off", then)
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_sigreturn is a guest-only test image");
    std::process::exit(2);
}
