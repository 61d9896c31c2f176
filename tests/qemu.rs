//! `oasis qemu`: the hvt/spt image booted on QEMU's `microvm` (TCG)
//! through its PVH entry: console on the serial port, arguments on the
//! kernel command line, the exit status through `isa-debug-exit` and the
//! guest's last line. Skipped, with the reason printed, where
//! `qemu-system-x86_64` is missing (scripts/setup installs it).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{Outcome, guest_images, run, skip};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");

/// A TCG boot takes tens of ms; the limit is for a loaded machine.
const LIMIT: Duration = Duration::from_secs(60);

fn qemu_present(test: &str) -> bool {
    match oasis_targets::qemu::find(None) {
        Ok(_) => true,
        Err(why) => {
            skip(test, &why);
            false
        }
    }
}

/// `oasis qemu IMAGE OPTIONS -- ARGS` for test image `name`.
fn qemu(name: &str, options: &[&str], args: &[&str]) -> Outcome {
    let image = guest_images().path(name);
    let mut cmd = Command::new(OASIS);
    cmd.arg("qemu").arg(&image).args(options).arg("--").args(args);
    let out = run(&mut cmd, LIMIT);
    assert!(!out.timed_out, "oasis qemu {name}: did not finish in {LIMIT:?}\n{out:#?}");
    out
}

#[test]
fn hello_greets_and_prints_its_arguments() {
    if !qemu_present("qemu hello") {
        return;
    }
    let out = qemu("hello", &[], &["--ticks", "1", "extra", "two words", ""]);
    out.expect_status(0, "hello on qemu");
    assert_eq!(
        out.stdout, "Hello from Oasis\ntarget: pvh\narguments: --ticks 1 extra two words \ntick 1\n",
        "{out:#?}"
    );
    assert!(out.stderr.is_empty(), "unexpected stderr {:?}", out.stderr);
}

#[test]
fn exit_statuses_come_back_whole() {
    if !qemu_present("qemu exit status") {
        return;
    }
    // 42 fits the 7 bits QEMU's exit code keeps; 200 comes from the
    // guest's last line.
    for status in [42, 200] {
        let what = format!("exit_status --status {status} on qemu");
        let out = qemu("exit_status", &[], &["--status", &status.to_string()]);
        out.expect_status(status, &what);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{what}: {out:#?}");
    }
}

#[test]
fn a_panic_is_reported_with_status_255() {
    if !qemu_present("qemu panic") {
        return;
    }
    let out = qemu("panic", &[], &["a", "b"]);
    out.expect_status(255, "panic on qemu")
        .expect_stderr("oasis-qemu: guest aborted: panicked at tests/guests/src/bin/panic.rs:", "panic on qemu")
        .expect_stderr("conformance panic with 2 arguments", "panic on qemu");
}

#[test]
fn a_cpu_fault_is_reported_with_status_254() {
    if !qemu_present("qemu fault") {
        return;
    }
    let out = qemu("nullderef", &[], &[]);
    out.expect_status(254, "nullderef on qemu")
        .expect_stderr("oasis-qemu: guest fault: vector 14", "nullderef on qemu");
}

#[test]
fn sleeps_are_accurate_and_wall_clock_is_the_hosts() {
    if !qemu_present("qemu time") {
        return;
    }
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let out = qemu("time", &[], &[]);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    // The guest itself checks that a 500 ms sleep lasts 500 to 700 ms.
    out.expect_status(0, "time on qemu").expect_stdout("monotonic: ok", "time on qemu");
    let wall: f64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("wall_ns="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no wall_ns line\n{out:#?}")) as f64
        / 1e9;
    // The CMOS clock has whole seconds: the guest may be up to 1 s behind.
    assert!(wall > before - 2.0 && wall < after + 1.0, "wall clock {wall} not within [{before}, {after}]");
}

#[test]
fn timeout_ends_a_guest_that_sleeps_on() {
    if !qemu_present("qemu timeout") {
        return;
    }
    let out = qemu("hello", &["--timeout", "1s"], &["--ticks", "100000"]);
    out.expect_status(254, "hello --timeout 1s on qemu")
        .expect_stderr("oasis-qemu: stopped: --timeout of 1000 ms ran out", "timeout")
        .expect_stdout("Hello from Oasis", "timeout");
    assert!(out.elapsed < Duration::from_secs(20), "took {:?}", out.elapsed);
}

#[test]
fn a_bad_seed_is_refused_by_the_guest() {
    if !qemu_present("qemu seed") {
        return;
    }
    let out = qemu("quiet", &[], &["oasis.seed=xyz"]);
    out.expect_status(255, "bad seed")
        .expect_stderr("oasis-qemu: refused: oasis.seed=: 64 hex digits expected", "seed");
    let seed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    qemu("quiet", &[], &[&format!("oasis.seed={seed}")]).expect_status(0, "good seed");
}

#[test]
fn the_runner_refuses_what_it_cannot_boot() {
    // These need no QEMU: the runner refuses before it starts one.
    let hello = guest_images().path("hello");
    let mut cmd = Command::new(OASIS);
    cmd.arg("qemu").arg(&hello).env("PATH", "/nonexistent");
    run(&mut cmd, LIMIT).expect_status(253, "no qemu").expect_stderr("apt-get install qemu-system-x86", "no qemu");

    let mut cmd = Command::new(OASIS);
    cmd.args(["qemu", "--vmm", "/nonexistent/qemu"]).arg(&hello);
    run(&mut cmd, LIMIT)
        .expect_status(253, "bad --vmm")
        .expect_stderr("--vmm /nonexistent/qemu: no such file", "--vmm");

    let mut cmd = Command::new(OASIS);
    cmd.args(["qemu", "--vmm", "/bin/true"]).arg(guest_images().path("echo"));
    run(&mut cmd, LIMIT).expect_status(253, "devices").expect_stderr("virtio is not supported yet", "devices");

    let mut cmd = Command::new(OASIS);
    cmd.args(["qemu", "--vmm", "/bin/true"]).arg(Path::new(OASIS));
    run(&mut cmd, LIMIT).expect_status(253, "not an image").expect_stderr("oasis-qemu: refused:", "not an image");

    let mut cmd = Command::new(OASIS);
    cmd.args(["qemu", "--vmm", "/bin/true"]).arg(&hello).args(["--", "say \"hi\""]);
    run(&mut cmd, LIMIT).expect_status(253, "quote").expect_stderr("cannot carry a double quote", "quote");

    // A VMM that exits 1 by itself is not a guest's status 0.
    let mut cmd = Command::new(OASIS);
    cmd.args(["qemu", "--vmm", "/bin/false"]).arg(&hello);
    run(&mut cmd, LIMIT).expect_status(253, "failing vmm").expect_stderr("QEMU failed (exit code 1", "failing vmm");
}
