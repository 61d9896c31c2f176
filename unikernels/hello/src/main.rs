//! hello: greets, prints its boot arguments, then `--ticks N` times
//! (default 4) sleeps 500 ms and prints a tick. The same source runs on
//! hvt, spt and unix.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::Write;

use oasis::{Duration, Os};

#[oasis::main]
async fn main(os: Os) -> Result<(), oasis::ArgError> {
    let mut console = os.console();
    let _ = writeln!(console, "Hello from Oasis");
    let _ = writeln!(console, "target: {}", os.platform_name());
    let _ = write!(console, "arguments:");
    for arg in os.args().as_slice() {
        let _ = write!(console, " {arg}");
    }
    let _ = writeln!(console);
    let mut args = os.args().parser();
    let ticks: u32 = args.value("--ticks")?.unwrap_or(4);
    args.rest();
    for i in 1..=ticks {
        os.sleep(Duration::from_millis(500)).await;
        let _ = writeln!(console, "tick {i}");
    }
    Ok(())
}
