//! Embeds the zone files in `./zones` (or `$OASIS_KV_ZONES`, which
//! `oasis build --kv zones=DIR` sets) as the read-only store `zones`.
//! The files are checked when the server boots, which names the file,
//! line and reason of the first problem.

fn main() {
    if let Err(e) = oasis_kv_build::embed("zones", "zones.rs") {
        eprintln!("error: embedding the zones: {e}");
        std::process::exit(1);
    }
}
