//! Clocks: monotonic never goes back; a 500 ms sleep lasts 500–700 ms;
//! prints the wall clock (`wall_ns=…`) for the harness to compare with the
//! host's.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::Write;

use oasis::{Duration, Os};

#[oasis::main]
async fn main(os: Os) -> Result<(), &'static str> {
    let mut console = os.console();
    let mut last = os.now();
    for _ in 0..10_000 {
        let now = os.now();
        if now < last {
            return Err("monotonic time went back");
        }
        last = now;
    }
    let _ = writeln!(console, "monotonic: ok");
    let before = os.now();
    os.sleep(Duration::from_millis(500)).await;
    let slept = os.now() - before;
    let _ = writeln!(console, "slept_ms={}", slept.as_millis());
    if slept < Duration::from_millis(500) || slept > Duration::from_millis(700) {
        return Err("a 500 ms sleep did not last 500 to 700 ms");
    }
    let _ = writeln!(console, "wall_ns={}", os.wall_clock_ns());
    Ok(())
}
