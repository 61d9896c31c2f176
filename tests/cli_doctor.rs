//! The `oasis` command as a newcomer meets it: `oasis doctor`, finding the
//! Rust toolchain when `PATH` lacks it (as under `sudo`), quiet builds that
//! still show a compiler error in full, and `scripts/install`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{run, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
/// A hang guard only: a first build of a package's dependencies takes minutes.
const LIMIT: Duration = Duration::from_secs(1200);

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oasis-doctor-tests-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `oasis ARGS` from the checkout's top, with a data directory of its own
/// (the notes said once live there).
fn oasis(args: &[&str], data: &Path) -> Command {
    let mut cmd = Command::new(OASIS);
    cmd.current_dir(workspace_root()).env("XDG_DATA_HOME", data).args(args);
    cmd
}

/// The environment a user's shell gives the toolchain, removed: `PATH`
/// without `~/.cargo/bin`, and none of the variables rustup and cargo set
/// for the processes they run (this test is one).
fn without_toolchain_env(cmd: &mut Command) -> &mut Command {
    cmd.env("PATH", "/usr/bin:/bin");
    for k in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "SUDO_USER", "CARGO", "RUSTC"] {
        cmd.env_remove(k);
    }
    cmd
}

/// The home whose `~/.cargo/bin` holds this machine's rustup toolchain, and
/// its user's name, when there is one (else the PATH tests cannot be made).
fn rustup_home() -> Option<(PathBuf, String)> {
    if Path::new("/usr/bin/cargo").exists() {
        return None;
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    if !home.join(".cargo/bin/cargo").exists() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let user = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && Path::new(f[5]) == home).then(|| f[0].to_string())
    })?;
    Some((home, user))
}

#[test]
fn doctor_checks_each_item_in_one_line_and_says_the_pick() {
    let data = scratch("doctor");
    let out = run(&mut oasis(&["doctor"], &data), LIMIT);
    // This machine builds (cargo, the target) and runs (unix at least).
    out.expect_status(0, "oasis doctor");
    for item in [
        "cargo:",
        "rustc:",
        "x86_64-unknown-none target:",
        "/dev/kvm:",
        "seccomp:",
        "CAP_NET_ADMIN:",
        "iproute2 (ip):",
        "ip netns:",
        "TUN (/dev/net/tun):",
        "qemu-system-x86_64:",
        "firecracker:",
        "oasis run: would pick ",
    ] {
        out.expect_stdout(item, "oasis doctor");
    }
    for line in out.stdout.lines() {
        assert!(
            line.starts_with("ok ") || line.starts_with("missing ") || line.starts_with("note "),
            "one line per item, led by its state: {line:?}"
        );
    }
    if oasis_targets::kvm_is_emulated() {
        out.expect_stdout("software-emulated", "the kind of KVM");
    }
}

#[test]
fn the_toolchain_is_found_without_path_and_builds() {
    let Some((home, user)) = rustup_home() else {
        oasis_testkit::skip("the_toolchain_is_found_without_path_and_builds", "no rustup toolchain in $HOME/.cargo");
        return;
    };
    let data = scratch("no-path");
    let build = ["build", "unikernels/hello", "--target", "spt"];

    // A login shell's PATH without ~/.cargo/bin, HOME kept.
    let out = run(without_toolchain_env(&mut oasis(&["doctor"], &data)).env("HOME", &home), LIMIT);
    out.expect_status(0, "doctor, HOME only").expect_stdout("in $HOME/.cargo/bin", "doctor, HOME only");
    let out = run(without_toolchain_env(&mut oasis(&build, &data)).env("HOME", &home), LIMIT);
    out.expect_status(0, "build, HOME only");
    assert!(out.stdout.lines().last().unwrap().ends_with("guest/hello"), "{out:#?}");

    // sudo: PATH reset, HOME root's (here one without a toolchain), and
    // SUDO_USER naming who ran it; rustup's proxies need RUSTUP_HOME set
    // to that user's to find a toolchain.
    let sudo = |args: &[&str]| {
        let mut cmd = oasis(args, &data);
        without_toolchain_env(&mut cmd).env("HOME", "/nonexistent").env("SUDO_USER", &user);
        run(&mut cmd, LIMIT)
    };
    sudo(&["doctor"])
        .expect_status(0, "doctor under sudo")
        .expect_stdout(&format!("in SUDO_USER {user}'s ~/.cargo/bin"), "doctor under sudo")
        .expect_stdout("ok      x86_64-unknown-none target", "doctor under sudo");
    let out = sudo(&build);
    out.expect_status(0, "build under sudo");
    assert!(out.stdout.lines().last().unwrap().ends_with("guest/hello"), "{out:#?}");
}

#[test]
fn no_toolchain_anywhere_is_one_line_saying_what_to_do() {
    // /root/.cargo/bin is the last place looked in; a root with a toolchain
    // there always finds it.
    if Path::new("/root/.cargo/bin/cargo").exists() {
        oasis_testkit::skip("no_toolchain_anywhere_is_one_line_saying_what_to_do", "/root/.cargo/bin has cargo");
        return;
    }
    let data = scratch("no-toolchain");
    let mut cmd = oasis(&["build", "unikernels/hello", "--target", "spt"], &data);
    without_toolchain_env(&mut cmd).env("PATH", "/nonexistent").env("HOME", "/nonexistent");
    let out = run(&mut cmd, LIMIT);
    out.expect_status(1, "build without a toolchain").expect_stderr("sudo env PATH=\"$PATH\" oasis", "no toolchain");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
}

#[test]
fn builds_and_runs_are_quiet_unless_verbose() {
    let data = scratch("quiet");
    let build = ["build", "unikernels/hello", "--target", "spt"];
    let out = run(&mut oasis(&build, &data), LIMIT);
    out.expect_status(0, "quiet build");
    assert!(!out.stderr.contains("Compiling") && !out.stderr.contains("Finished"), "{out:#?}");
    assert!(out.stdout.lines().last().unwrap().ends_with("guest/hello"), "the image path last: {out:#?}");

    // -v is global: before or after the subcommand.
    for args in [&["-v", "build", "unikernels/hello", "--target", "spt"][..], &[&build[..], &["--verbose"]].concat()] {
        let out = run(&mut oasis(args, &data), LIMIT);
        out.expect_status(0, "verbose build").expect_stderr("Finished", "verbose build");
        assert!(out.stdout.lines().last().unwrap().ends_with("guest/hello"), "{out:#?}");
    }

    // A run says its target in one line; why the targets before it were
    // passed over is said in full the first time only.
    let run_hello = || run(&mut oasis(&["run", "unikernels/hello", "--", "--ticks", "1"], &data), LIMIT);
    let first = run_hello();
    first.expect_status(0, "first run").expect_stdout("tick 1", "first run");
    let second = run_hello();
    second.expect_status(0, "second run");
    for out in [&first, &second] {
        assert_eq!(out.stderr.lines().count(), 1, "one line, the target's: {out:#?}");
        assert!(out.stderr.starts_with("oasis: target "), "{out:#?}");
    }
    let (picked, why) = oasis_targets::pick();
    if picked.name != oasis_targets::TARGETS[0].name {
        assert!(first.stderr.contains(&why), "{first:#?}");
        assert!(!second.stderr.contains(&why) && second.stderr.contains("see oasis doctor"), "{second:#?}");
    }
}

#[test]
fn a_failing_build_shows_the_compiler_error_in_full() {
    let dir = scratch("broken");
    let data = scratch("broken-data");
    let out = run(Command::new(OASIS).current_dir(&dir).env("XDG_DATA_HOME", &data).args(["new", "broken"]), LIMIT);
    out.expect_status(0, "oasis new broken");
    let package = dir.join("broken");
    // The checkout's lock file: the same versions, and no registry lookup.
    std::fs::copy(workspace_root().join("Cargo.lock"), package.join("Cargo.lock")).unwrap();
    let main = package.join("src/main.rs");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str("\nfn broken() -> u32 {\n    \"not a number\"\n}\n");
    std::fs::write(&main, text).unwrap();
    let out = run(
        Command::new(OASIS)
            .current_dir(&dir)
            .env("XDG_DATA_HOME", &data)
            // Kept between test runs: the dependencies are built once.
            .env("OASIS_TARGET_DIR", workspace_root().join("target/oasis/cli-doctor-tests"))
            .args(["build", "broken", "--target", "spt"]),
        LIMIT,
    );
    out.expect_status(1, "a broken build")
        .expect_stderr("error[E0308]: mismatched types", "the compiler's error")
        .expect_stderr("expected `u32`, found `&str`", "the compiler's error, in full")
        .expect_stderr("src/main.rs", "where")
        .expect_stderr("oasis: error: cargo build failed for broken", "oasis's own line");
    assert!(out.stdout.is_empty(), "no image path: {out:#?}");
}

#[test]
fn install_puts_a_working_oasis_in_the_prefix() {
    let prefix = scratch("prefix");
    let out = run(
        Command::new(workspace_root().join("scripts/install"))
            .arg("--prefix")
            .arg(&prefix)
            // The script must find cargo itself, as under sudo.
            .env("PATH", "/usr/bin:/bin"),
        LIMIT,
    );
    out.expect_status(0, "scripts/install").expect_stdout("installed ", "scripts/install");
    let oasis = prefix.join("bin/oasis");
    let out = run(Command::new(&oasis).arg("--version"), LIMIT);
    out.expect_status(0, "installed oasis --version").expect_stdout("oasis ", "installed oasis --version");
    // Again over the first: it replaces it.
    run(Command::new(workspace_root().join("scripts/install")).arg(format!("--prefix={}", prefix.display())), LIMIT)
        .expect_status(0, "scripts/install again");
}
