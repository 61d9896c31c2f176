//! Prints its compiled-in store `files`: every key with its size and
//! SHA-256 digest (checked against the bytes at boot), then the value of
//! each key given with `--show KEY,KEY…`, and the part `--partial
//! KEY:OFFSET:LENGTH`.
//! Tests build it with `oasis build --kv files=DIR` and read the output.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::Write;

use oasis::alloc::string::String;
use oasis::kv::{EntryKind, KvRo, StaticKv};

static FILES: StaticKv = oasis::static_kv!("files.rs");

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[oasis::main]
async fn main(os: oasis::Os) -> Result<(), String> {
    let mut args = os.args().parser();
    let show: Option<String> = args.value("--show").map_err(|e| oasis::alloc::format!("{e}"))?;
    let partial: Option<String> = args.value("--partial").map_err(|e| oasis::alloc::format!("{e}"))?;
    args.finish().map_err(|e| oasis::alloc::format!("{e}"))?;
    FILES.validate().map_err(|e| oasis::alloc::format!("the compiled-in store is damaged: {e}"))?;
    let mut out = os.console();
    let _ = writeln!(out, "files: {} values", FILES.len());
    for &(key, bytes, digest) in FILES.entries() {
        let _ = writeln!(out, "entry {key} {} {}", bytes.len(), hex(&digest));
    }
    for (key, kind) in FILES.list("").await.map_err(|e| oasis::alloc::format!("{e}"))? {
        let _ = writeln!(out, "top {key} {}", if kind == EntryKind::Dictionary { "dir" } else { "value" });
    }
    for key in show.iter().flat_map(|keys| keys.split(',')) {
        match FILES.get(key).await {
            // Borrowed from the image: no copy.
            Ok(bytes) => {
                let _ = writeln!(out, "show {key}: {}", String::from_utf8_lossy(bytes).trim_end());
            }
            Err(e) => {
                let _ = writeln!(out, "show {key}: error: {e}");
            }
        }
    }
    if let Some(spec) = partial {
        let mut parts = spec.splitn(3, ':');
        let (Some(key), Some(off), Some(len)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("--partial takes KEY:OFFSET:LENGTH".into());
        };
        let off: u64 = off.parse().map_err(|_| "--partial: bad offset")?;
        let len: usize = len.parse().map_err(|_| "--partial: bad length")?;
        let bytes = FILES.get_partial(key, off, len).await.map_err(|e| oasis::alloc::format!("{e}"))?;
        let _ = writeln!(out, "partial {key}: {}", String::from_utf8_lossy(bytes));
    }
    Ok(())
}
