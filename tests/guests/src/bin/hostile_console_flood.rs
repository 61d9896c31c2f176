//! Writes console output as fast as the console takes it, forever, through
//! the console hypercall: with nobody reading the tender's stdout, only the
//! supervisor's `--timeout` can end the run, and it must.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) {
    let line = [b'x'; 4096];
    loop {
        os.console().write_bytes(&line);
        os.console().flush();
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_console_flood is a guest-only test image");
    std::process::exit(2);
}
