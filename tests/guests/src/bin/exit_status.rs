//! Exits with `--status N` (default 42).

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[oasis::main]
async fn main(os: oasis::Os) -> Result<u8, oasis::ArgError> {
    let mut args = os.args().parser();
    let status = args.value("--status")?.unwrap_or(42);
    args.finish()?;
    Ok(status)
}
