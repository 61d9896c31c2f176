//! Embedding real directories: keys, order, digests, the generated
//! source, and every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A fresh directory under the system's temporary directory, removed
/// when the test's process ends (each test uses its own names).
fn scratch() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oasis-kv-build-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    CREATED.lock().unwrap().push(dir.clone());
    dir
}

static CREATED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes what the tests created: the tests run in one process, and the
/// last of the three to finish cleans up (a filtered run leaves its
/// directories behind).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        if RUNNING.fetch_sub(1, Ordering::SeqCst) == 1 {
            for dir in CREATED.lock().unwrap().drain(..) {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
}

static RUNNING: AtomicU32 = AtomicU32::new(4);

fn site() -> PathBuf {
    let root = scratch();
    let dir = root.join("htdocs");
    fs::create_dir_all(dir.join("css")).unwrap();
    fs::create_dir_all(dir.join("a/b")).unwrap();
    fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
    fs::write(dir.join("css/site.css"), "h1 {}").unwrap();
    fs::write(dir.join("a/b/deep file.txt"), "deep").unwrap();
    fs::write(dir.join(".hidden"), "").unwrap();
    symlink("index.html", dir.join("home.html")).unwrap();
    symlink("a/b", dir.join("linked")).unwrap();
    dir
}

#[test]
fn keys_sorted_relative_with_digests() {
    let _cleanup = Cleanup;
    let dir = site();
    let embedded = read_dir(&dir).unwrap();
    let keys: Vec<&str> = embedded.entries.iter().map(|(key, _, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [".hidden", "a/b/deep file.txt", "css/site.css", "home.html", "index.html", "linked/deep file.txt"]
    );
    let (_, path, digest) = &embedded.entries[4];
    assert!(path.is_absolute());
    assert_eq!(digest, &<[u8; 32]>::from(Sha256::digest(b"<h1>hi</h1>")));
    let source = embedded.source();
    assert!(source.contains(r#"("css/site.css", include_bytes!("#), "{source}");
    assert!(source.contains(" as &[u8], [0x"), "{source}");
    assert!(source.trim_end().ends_with(']'));
}

#[test]
fn embed_writes_once_and_honours_the_override() {
    let _cleanup = Cleanup;
    let dir = site();
    let out_dir = scratch();
    let package = scratch();
    let env = |var: &str| match var {
        "OASIS_KV_MY_SITE" => Some(dir.clone().into_os_string()),
        "OUT_DIR" => Some(out_dir.clone().into_os_string()),
        "CARGO_MANIFEST_DIR" => Some(package.clone().into_os_string()),
        _ => None,
    };
    let (embedded, rerun) = embed_env("my-site", Path::new("site.rs"), Precompress::NONE, env).unwrap();
    assert_eq!(embedded.entries.len(), 6);
    assert_eq!(rerun[0], "cargo:rerun-if-env-changed=OASIS_KV_MY_SITE");
    assert!(rerun.iter().any(|line| line.ends_with("css/site.css")));
    assert!(rerun.iter().any(|line| line.ends_with("/htdocs/css")), "directories too: {rerun:?}");
    let written = fs::read_to_string(out_dir.join("site.rs")).unwrap();
    assert_eq!(written, embedded.source());
    // Without the override: the directory named after the store, in the
    // package.
    let env = |var: &str| match var {
        "OUT_DIR" => Some(out_dir.clone().into_os_string()),
        "CARGO_MANIFEST_DIR" => Some(package.clone().into_os_string()),
        _ => None,
    };
    assert!(
        matches!(embed_env("my-site", Path::new("x.rs"), Precompress::NONE, env), Err(Error::Io { path, .. }) if path.ends_with("my-site"))
    );
    assert!(matches!(embed_env("bad/name", Path::new("x.rs"), Precompress::NONE, |_| None), Err(Error::BadName(_))));
    assert!(matches!(
        embed_env("ok", Path::new("x.rs"), Precompress::NONE, |_| None),
        Err(Error::Io { .. } | Error::NoOutDir)
    ));
}

#[test]
fn refuses_escaping_links_cycles_and_bad_names() {
    let _cleanup = Cleanup;
    let dir = site();
    let outside = scratch().join("secret");
    fs::write(&outside, "no").unwrap();
    symlink(&outside, dir.join("escape")).unwrap();
    let error = read_dir(&dir).unwrap_err();
    assert!(matches!(error, Error::Escapes { .. }), "{error}");
    assert!(error.to_string().contains("points outside"));

    let dir = site();
    symlink("..", dir.join("a/up")).unwrap();
    assert!(matches!(read_dir(&dir), Err(Error::Cycle(_))));

    let dir = site();
    fs::write(dir.join(OsStr::from_bytes(b"bad\xffname")), "").unwrap();
    let error = read_dir(&dir).unwrap_err();
    assert!(matches!(error, Error::NotUtf8(_)), "{error}");

    let dir = site();
    symlink(dir.join("missing"), dir.join("dangling")).unwrap();
    assert!(matches!(read_dir(&dir), Err(Error::Io { .. })));

    let file = scratch().join("plain");
    fs::write(&file, "").unwrap();
    assert!(matches!(read_dir(&file), Err(Error::NotADirectory(_))));
}

#[test]
fn precompressed_variants_beside_the_files_worth_compressing() {
    let _cleanup = Cleanup;
    let dir = site();
    let page = "<p>hello, compressible world</p>\n".repeat(40);
    fs::write(dir.join("page.html"), &page).unwrap();
    fs::write(dir.join("photo.png"), vec![7u8; 4096]).unwrap();
    // A file already named like a variant is kept, and not replaced.
    fs::write(dir.join("kept.css"), "p { margin: 0 }\n".repeat(40)).unwrap();
    fs::write(dir.join("kept.css.gz"), "mine").unwrap();
    let out = scratch().join("site.rs");
    let embedded = embed_dir_with(&dir, &out, Precompress::ALL).unwrap();
    let keys: Vec<&str> = embedded.entries.iter().map(|(key, _, _)| key.as_str()).collect();
    for key in ["page.html.br", "page.html.gz", "kept.css.br"] {
        assert!(keys.contains(&key), "{key} missing: {keys:?}");
    }
    assert!(!keys.contains(&"photo.png.gz") && !keys.contains(&"index.html.gz"), "{keys:?}");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let entry = |key: &str| embedded.entries.iter().find(|(k, _, _)| k == key).unwrap().clone();
    let (_, kept, _) = entry("kept.css.gz");
    assert_eq!(fs::read(kept).unwrap(), b"mine");
    let (_, gz, digest) = entry("page.html.gz");
    let compressed = fs::read(&gz).unwrap();
    assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&compressed)));
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, page);
    let (_, br, _) = entry("page.html.br");
    let mut unbrotli = Vec::new();
    brotli::BrotliDecompress(&mut &fs::read(br).unwrap()[..], &mut unbrotli).unwrap();
    assert_eq!(unbrotli, page.as_bytes());
    assert!(embedded.source().contains("page.html.br"));
    // The same build twice writes the same bytes.
    assert_eq!(embed_dir_with(&dir, &out, Precompress::ALL).unwrap(), embedded);
}
