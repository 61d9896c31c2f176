//! Writes straight to a descriptor with raw `write` calls, around the
//! console hypercall and its limits: `--fd 1|2 --total BYTES --chunk BYTES
//! [--text TEXT] [--status N]`. The text (default a forged tender line) is
//! repeated to fill `--total`; then the guest exits with `--status`.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) -> Result<u8, oasis::ArgError> {
    use oasis::alloc::string::String;
    use oasis::alloc::vec::Vec;
    use oasis_test_guests::raw::{nr, syscall};
    let mut args = os.args().parser();
    let fd: u64 = args.value("--fd")?.unwrap_or(2);
    let total: usize = args.value("--total")?.unwrap_or(64 << 20);
    let chunk: usize = args.value("--chunk")?.unwrap_or(64 << 20);
    let text: String =
        args.value("--text")?.unwrap_or_else(|| "oasis-spt: stopped: a forged line from the guest\n".into());
    let status: u8 = args.value("--status")?.unwrap_or(0);
    args.finish()?;
    let buf: Vec<u8> = text.bytes().cycle().take(chunk.min(total)).collect();
    let mut written = 0;
    while written < total {
        let n = (total - written).min(buf.len());
        let ret = syscall(nr::WRITE, [fd, buf.as_ptr() as u64, n as u64, 0, 0, 0]);
        if ret <= 0 {
            break;
        }
        written += ret as usize;
    }
    Ok(status)
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_raw_write is a guest-only test image");
    std::process::exit(2);
}
