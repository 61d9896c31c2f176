//! The `oasis` command's own behaviour: builds, inspection, and one-line
//! refusals of bad input with a non-zero status.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{guest_images, run, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(600);

fn oasis(args: &[&str]) -> oasis_testkit::Outcome {
    let mut cmd = Command::new(OASIS);
    cmd.current_dir(workspace_root()).args(args);
    run(&mut cmd, LIMIT)
}

fn one_line_refusal(args: &[&str], status: i32, needle: &str) {
    let out = oasis(args);
    out.expect_status(status, &format!("oasis {args:?}")).expect_stderr(needle, &format!("oasis {args:?}"));
    assert_eq!(out.stderr.lines().filter(|l| !l.starts_with("usage:")).count(), 1, "one line only: {out:#?}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/oasis/cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn build_prints_the_image_path_last_and_inspect_reads_it() {
    let out = oasis(&["build", "unikernels/hello", "--target", "spt"]);
    out.expect_status(0, "oasis build");
    let path = out.stdout.lines().last().unwrap().to_string();
    assert!(path.ends_with("x86_64-unknown-none/guest/hello"), "{path}");
    let out = oasis(&["inspect", &path]);
    out.expect_status(0, "oasis inspect")
        .expect_stdout(&format!("abi version: {}", oasis_abi::ABI_VERSION), "inspect")
        .expect_stdout("devices: none", "inspect")
        .expect_stdout(".text", "inspect")
        .expect_stdout("entry: 0x100000", "inspect");
}

#[test]
fn build_for_unix_makes_a_program() {
    let out = oasis(&["build", "unikernels/hello", "--target", "unix"]);
    out.expect_status(0, "oasis build --target unix");
    let path = out.stdout.lines().last().unwrap().to_string();
    let ran = run(Command::new(&path).args(["--ticks", "0"]), LIMIT);
    ran.expect_status(0, "unix hello").expect_stdout("Hello from Oasis", "unix hello");
}

#[test]
fn run_picks_a_target_and_says_why() {
    let out = oasis(&["run", "unikernels/hello", "--", "--ticks", "1"]);
    out.expect_status(0, "oasis run")
        .expect_stdout("Hello from Oasis", "oasis run")
        .expect_stdout("tick 1", "oasis run");
    out.expect_stderr("oasis: target ", "oasis run");
}

#[test]
fn bad_input_is_one_line_and_non_zero() {
    let hello = guest_images().path("hello");
    let hello = hello.to_str().unwrap();
    one_line_refusal(&["spt"], 253, "oasis-spt: refused: missing IMAGE");
    one_line_refusal(&["spt", "/nonexistent/image"], 253, "oasis-spt: refused: cannot read /nonexistent/image:");
    one_line_refusal(&["spt", hello, "--mem=lots"], 253, "--mem: invalid value 'lots'");
    one_line_refusal(&["spt", hello, "--mem=1M"], 253, "--mem: invalid value '1M': must be between 2M and 4G");
    one_line_refusal(&["spt", hello, "--frobnicate"], 253, "unknown option '--frobnicate'");
    one_line_refusal(
        &["spt", hello, "--net:service=tap0"],
        253,
        "--net:service: the image declares no net device named 'service'",
    );

    let not_elf = scratch("not-elf");
    std::fs::write(&not_elf, b"#!/bin/sh\necho hi\n").unwrap();
    one_line_refusal(&["spt", not_elf.to_str().unwrap()], 253, "not a valid ELF file");
    one_line_refusal(&["inspect", not_elf.to_str().unwrap()], 1, "not a valid ELF file");

    let directory = scratch("unreadable-dir");
    std::fs::create_dir_all(&directory).unwrap();
    one_line_refusal(&["spt", directory.to_str().unwrap()], 253, "not a regular file (it is a directory)");

    // An image needing more memory than --mem gives it.
    let big = guest_images().path("big_image");
    let big = big.to_str().unwrap();
    one_line_refusal(&["spt", big, "--mem=4M"], 253, "needs at least 10 MiB of guest memory but --mem is 4 MiB");
    oasis(&["spt", big]).expect_status(0, "big image, default --mem").expect_stdout("big: 7", "big image");

    oasis(&["build", "unikernels/hello", "--target", "mainframe"])
        .expect_status(2, "bad --target")
        .expect_stderr("invalid value 'mainframe' for '--target <TARGET>'", "bad --target");
    one_line_refusal(&["build", "/nonexistent", "--target", "spt"], 1, "has no Cargo.toml");
}

#[test]
fn abi_version_mismatch_is_refused_naming_both_versions() {
    let bytes = std::fs::read(guest_images().path("hello")).unwrap();
    // The manifest's descriptor starts with the ABI version, right after
    // the note header "Oasis\0\0\0".
    let at = bytes.windows(8).position(|w| w == b"Oasis\0\0\0").unwrap() + 8;
    let mut patched = bytes.clone();
    patched[at..at + 4].copy_from_slice(&7u32.to_le_bytes());
    let path = scratch("hello-abi7");
    std::fs::write(&path, patched).unwrap();
    let needle = format!("built for ABI version 7, this tender speaks version {}", oasis_abi::ABI_VERSION);
    one_line_refusal(&["spt", path.to_str().unwrap()], 253, &needle);
    let out = oasis(&["inspect", path.to_str().unwrap()]);
    out.expect_status(1, "inspect abi 7").expect_stdout("abi version: 7", "inspect abi 7");
}

#[test]
fn new_makes_a_package_that_builds_and_runs() {
    let dir = scratch("new");
    let _ = std::fs::remove_dir_all(&dir);
    let out = oasis(&["new", "greeter", "--dir", dir.to_str().unwrap()]);
    out.expect_status(0, "oasis new");
    let pkg = dir.join("greeter");
    let pkg = pkg.to_str().unwrap();
    let out = oasis(&["run", pkg, "--target", "spt", "--", "--name", "tester"]);
    out.expect_status(0, "the new package on spt").expect_stdout("hello, tester! running on spt", "new package");
    let out = oasis(&["run", pkg, "--target", "unix"]);
    out.expect_status(0, "the new package on unix").expect_stdout("hello, world! running on unix", "new package");
    oasis(&["new", "greeter", "--dir", dir.to_str().unwrap()])
        .expect_status(1, "oasis new twice")
        .expect_stderr("already exists", "new twice");
    oasis(&["new", "Bad Name"]).expect_status(1, "oasis new bad").expect_stderr("invalid name", "new bad");
}
