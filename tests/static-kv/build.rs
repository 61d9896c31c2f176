//! Embeds ./files (or `$OASIS_KV_FILES`, which `oasis build --kv
//! files=DIR` sets) as the read-only store `files`.

fn main() {
    if let Err(e) = oasis_kv_build::embed("files", "files.rs") {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
