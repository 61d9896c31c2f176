//! Precompressed variants: `KEY.gz` and `KEY.br` beside each file worth
//! compressing, made once at build time so a server only picks one
//! (`oasis-http`'s static files do, from `Accept-Encoding`).

use std::io::Write as _;
use std::path::Path;

/// Files smaller than this are not worth a variant (the headers cost more).
pub const MIN_SIZE: usize = 128;

/// Which variants to make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Precompress {
    /// gzip at the best compression (`KEY.gz`).
    pub gzip: bool,
    /// Brotli at quality 11 (`KEY.br`).
    pub brotli: bool,
}

impl Precompress {
    /// Both gzip and brotli.
    pub const ALL: Precompress = Precompress { gzip: true, brotli: true };
    /// Neither: the files as they are (what [`crate::embed`] does).
    pub const NONE: Precompress = Precompress { gzip: false, brotli: false };
}

/// Whether a file named `key` holds text-like data that compresses
/// (already-compressed images, fonts, audio and archives do not).
pub fn compressible(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    let Some((_, ext)) = name.rsplit_once('.') else { return false };
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "html"
            | "htm"
            | "css"
            | "js"
            | "mjs"
            | "json"
            | "map"
            | "svg"
            | "txt"
            | "md"
            | "xml"
            | "csv"
            | "rss"
            | "atom"
            | "webmanifest"
            | "wasm"
            | "ico"
            | "ttf"
            | "otf"
    )
}

/// `bytes` gzipped (deterministic: no name, no time in the header).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// `bytes` compressed with brotli at its best quality.
pub fn brotli(bytes: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    let mut out = Vec::new();
    let _ = brotli::BrotliCompress(&mut &bytes[..], &mut out, &params);
    out
}

/// The variants of `bytes` (a file keyed `key`) worth keeping: those
/// smaller than the original, as (suffix, compressed bytes).
pub fn variants(key: &str, bytes: &[u8], which: Precompress) -> Vec<(&'static str, Vec<u8>)> {
    if bytes.len() < MIN_SIZE || !compressible(key) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if which.brotli {
        out.push((".br", brotli(bytes)));
    }
    if which.gzip {
        out.push((".gz", gzip(bytes)));
    }
    out.retain(|(_, compressed)| compressed.len() < bytes.len());
    out
}

/// Writes `bytes` to `path` unless it already holds them.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
}
