//! Declares `cfg(fuzzing)` (set by cargo-fuzz): under it the checksum
//! checks also accept a stored zero, so the fuzzer reaches the parsers
//! behind them (see `disk/format.rs`).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
