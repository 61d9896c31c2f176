//! Compiled-in read-only stores: the `static-kv` test unikernel embeds its
//! `files` directory at build time; `oasis build --kv files=DIR` (and
//! `oasis run --kv`) embeds another one without touching the package, and
//! a change in that directory rebuilds the image. Digests are checked
//! against `sha256sum`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use oasis_testkit::{kvm_available, run, skip, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(600);

/// Every build of the package writes the same image file: one test at a
/// time builds and boots it.
static IMAGE: Mutex<()> = Mutex::new(());

fn image_lock() -> std::sync::MutexGuard<'static, ()> {
    IMAGE.lock().unwrap_or_else(|e| e.into_inner())
}

fn package() -> PathBuf {
    workspace_root().join("tests/static-kv")
}

fn build(kv: Option<&Path>, target: &str) -> PathBuf {
    let mut c = Command::new(OASIS);
    c.args(["build", package().to_str().unwrap(), "--target", target]);
    if let Some(dir) = kv {
        c.arg("--kv").arg(format!("files={}", dir.display()));
    }
    let out = run(&mut c, LIMIT);
    assert_eq!(out.status, Some(0), "oasis build: {out:#?}");
    PathBuf::from(out.stdout.lines().last().unwrap())
}

fn boot(target: &str, image: &Path, args: &[&str]) -> String {
    let mut c = Command::new(OASIS);
    c.arg(target).arg(image).arg("--").args(args);
    let out = run(&mut c, LIMIT);
    assert_eq!(out.status, Some(0), "{target}: {out:#?}");
    out.stdout
}

/// `entry KEY SIZE SHA256` lines for every file under `dir`, as the
/// unikernel prints them.
fn expected_entries(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let sum = Command::new("sha256sum").arg(&path).output().unwrap();
                let digest = String::from_utf8(sum.stdout).unwrap().split_whitespace().next().unwrap().to_string();
                let key = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.push(format!("entry {key} {} {digest}", std::fs::metadata(&path).unwrap().len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn entries(output: &str) -> Vec<String> {
    output.lines().filter(|l| l.starts_with("entry ")).map(str::to_string).collect()
}

fn scratch_dir() -> PathBuf {
    let dir = workspace_root().join("target/oasis/kv-static-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("top.txt"), "top level\n").unwrap();
    std::fs::write(dir.join("a/b/deep.txt"), "deep down\n").unwrap();
    std::fs::write(dir.join("a/empty"), "").unwrap();
    std::fs::write(dir.join("a/binary.bin"), (0..=255u8).cycle().take(70_000).collect::<Vec<_>>()).unwrap();
    dir
}

#[test]
fn the_package_directory_is_embedded_with_digests() {
    let _image = image_lock();
    let image = build(None, "spt");
    let out = boot("spt", &image, &["--show", "hello.txt", "--partial", "docs/index.html:1:3"]);
    assert_eq!(entries(&out), expected_entries(&package().join("files")), "{out}");
    assert!(out.contains("show hello.txt: hello from the compiled-in store"), "{out}");
    assert!(out.contains("partial docs/index.html: h1>"), "{out}");
    assert!(out.contains("top docs dir") && out.contains("top hello.txt value"), "{out}");
}

#[test]
fn oasis_build_kv_swaps_the_directory_and_tracks_changes() {
    let _image = image_lock();
    let package_files = expected_entries(&package().join("files"));
    let dir = scratch_dir();
    let image = build(Some(&dir), "spt");
    let out = boot("spt", &image, &["--show", "top.txt,a/b/deep.txt,a/empty,hello.txt"]);
    assert_eq!(entries(&out), expected_entries(&dir), "{out}");
    assert!(out.contains("show top.txt: top level") && out.contains("show a/b/deep.txt: deep down"), "{out}");
    assert!(out.contains("show hello.txt: error"), "the package's own files are not there: {out}");

    // A changed file and a new one are picked up by the next build.
    std::fs::write(dir.join("top.txt"), "changed\n").unwrap();
    std::fs::write(dir.join("a/new.txt"), "new file\n").unwrap();
    let image = build(Some(&dir), "spt");
    let out = boot("spt", &image, &["--show", "top.txt,a/new.txt"]);
    assert_eq!(entries(&out), expected_entries(&dir), "{out}");
    assert!(out.contains("show top.txt: changed") && out.contains("show a/new.txt: new file"), "{out}");

    // Without --kv the package's directory is back, and it was never touched.
    let image = build(None, "spt");
    assert_eq!(entries(&boot("spt", &image, &[])), package_files);
    assert_eq!(expected_entries(&package().join("files")), package_files);
}

#[test]
fn oasis_run_kv_on_unix_and_hvt() {
    let _image = image_lock();
    let dir = workspace_root().join("target/oasis/kv-static-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("only.txt"), "only this\n").unwrap();
    let mut c = Command::new(OASIS);
    c.args(["run", package().to_str().unwrap(), "--target", "unix", "--kv"])
        .arg(format!("files={}", dir.display()))
        .args(["--", "--show", "only.txt"]);
    let out = run(&mut c, LIMIT);
    assert_eq!(out.status, Some(0), "{out:#?}");
    assert!(out.stdout.contains("show only.txt: only this"), "{out:#?}");
    match kvm_available() {
        Ok(()) => {
            let image = build(Some(&dir), "hvt");
            assert!(boot("hvt", &image, &["--show", "only.txt"]).contains("show only.txt: only this"));
        }
        Err(why) => skip("oasis_run_kv_on_unix_and_hvt on hvt", &why),
    }
}
