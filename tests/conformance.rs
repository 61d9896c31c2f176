//! The platform conformance suite: one tiny unikernel per behaviour (after
//! Solo5's `tests/`), run on every target present. hvt is skipped, with
//! the reason printed, where `/dev/kvm` is not usable.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oasis_testkit::{Invocation, Outcome, Target, command_with, images, run, target, targets};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");

/// A boot on hvt under software-emulated KVM takes seconds, not ms.
const LIMIT: Duration = Duration::from_secs(120);

/// Boots image `name` on `target` as `oasis run` would launch it, with
/// `args` and whatever else `configure` binds.
fn boot_with(target: &Target, name: &str, args: &[&str], configure: impl FnOnce(&mut Invocation<'_>)) -> Outcome {
    let mut cmd = command_with(Path::new(OASIS), target, name, |run| {
        run.args = args.iter().map(Into::into).collect();
        configure(run);
    });
    let mut out = run(&mut cmd, LIMIT);
    // hvt says once that KVM here is emulated; that is not the guest's output.
    out.stderr = out.stderr.lines().filter(|l| !l.starts_with("oasis-hvt: note:")).map(|l| format!("{l}\n")).collect();
    assert!(!out.timed_out, "{name} on {}: did not finish in {LIMIT:?}\n{out:#?}", target.name);
    out
}

fn boot(target: &Target, name: &str, args: &[&str]) -> Outcome {
    boot_with(target, name, args, |_| {})
}

/// The prefix a target puts on its one-line messages.
fn prefix(target: &Target) -> String {
    target.message_prefix()
}

#[test]
fn hello_greets_prints_arguments_and_ticks() {
    for t in targets("hello") {
        let what = format!("hello on {}", t.name);
        let out = boot(t, "hello", &["--ticks", "2", "extra", "args"]);
        out.expect_status(0, &what);
        assert_eq!(
            out.stdout,
            format!("Hello from Oasis\ntarget: {}\narguments: --ticks 2 extra args\ntick 1\ntick 2\n", t.name),
            "{what}"
        );
        assert!(out.stderr.is_empty(), "{what}: unexpected stderr {:?}", out.stderr);
    }
}

#[test]
fn hello_rejects_a_bad_argument_by_name() {
    for t in targets("hello bad argument") {
        let what = format!("hello --ticks x on {}", t.name);
        let out = boot(t, "hello", &["--ticks", "many"]);
        out.expect_status(1, &what).expect_stdout("error: --ticks: invalid value 'many'", &what);
    }
}

#[test]
fn time_is_monotonic_sleeps_are_accurate_and_wall_clock_is_the_hosts() {
    for t in targets("time") {
        let what = format!("time on {}", t.name);
        // A sleep that overshoots 700 ms may be the host's load (the suite
        // runs tests in parallel on few cores): tried up to three times. A
        // sleep that ends early fails at once.
        let mut attempt = 1;
        let (before, out, after) = loop {
            let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128;
            let out = boot(t, "time", &[]);
            let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128;
            let slept_ms: Option<u64> =
                out.stdout.lines().find_map(|l| l.strip_prefix("slept_ms=")).and_then(|v| v.parse().ok());
            if attempt < 3 && out.status != Some(0) && slept_ms.is_some_and(|ms| ms > 700) {
                eprintln!("{what}: the sleep lasted {slept_ms:?} ms (attempt {attempt}); trying again");
                attempt += 1;
                continue;
            }
            break (before, out, after);
        };
        out.expect_status(0, &what).expect_stdout("monotonic: ok", &what);
        let wall: i128 = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("wall_ns="))
            .unwrap_or_else(|| panic!("{what}: no wall_ns line\n{out:#?}"))
            .parse()
            .unwrap();
        let second = 1_000_000_000;
        assert!(
            wall >= before - second && wall <= after + second,
            "{what}: wall clock {wall} not within a second of the host's [{before}, {after}]"
        );
    }
}

#[test]
fn quiet_prints_nothing() {
    for t in targets("quiet") {
        let what = format!("quiet on {}", t.name);
        let out = boot(t, "quiet", &[]);
        out.expect_status(0, &what);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{what}: printed something\n{out:#?}");
    }
}

#[test]
fn exit_status_passes_through() {
    for t in targets("exit status") {
        for status in [0, 1, 42, 200] {
            let what = format!("exit_status {status} on {}", t.name);
            boot(t, "exit_status", &["--status", &status.to_string()]).expect_status(status, &what);
        }
    }
}

#[test]
fn abort_is_reported_with_status_255() {
    for t in targets("abort") {
        let what = format!("abort on {}", t.name);
        let out = boot(t, "abort", &[]);
        out.expect_status(255, &what)
            .expect_stderr(&prefix(t), &what)
            .expect_stderr("aborted: conformance abort", &what);
    }
}

#[test]
fn panic_prints_message_and_location() {
    for t in targets("panic") {
        let what = format!("panic on {}", t.name);
        let out = boot(t, "panic", &["a", "b"]);
        out.expect_status(255, &what)
            .expect_stderr("panicked at tests/guests/src/bin/panic.rs:", &what)
            .expect_stderr("conformance panic with 2 arguments", &what);
    }
}

#[test]
fn null_dereference_is_a_reported_fault() {
    for t in targets("null dereference") {
        let what = format!("nullderef on {}", t.name);
        let out = boot(t, "nullderef", &[]);
        out.expect_status(254, &what)
            .expect_stderr("guest fault: page fault", &what)
            .expect_stderr("at address 0x0, rip 0x", &what);
    }
}

#[test]
fn invalid_opcode_is_a_reported_fault() {
    for t in targets("invalid opcode") {
        let what = format!("invalid_opcode on {}", t.name);
        let out = boot(t, "invalid_opcode", &[]);
        out.expect_status(254, &what)
            .expect_stderr("guest fault: invalid opcode", &what)
            .expect_stderr("rip 0x", &what);
    }
}

#[test]
fn triple_fault_is_reported_with_the_instruction_pointer() {
    if let Err(why) = oasis_testkit::kvm_available() {
        oasis_testkit::skip("triple fault on hvt", &why);
        return;
    }
    let out = boot(target("hvt"), "triple_fault", &[]);
    out.expect_status(254, "triple fault")
        .expect_stderr("guest fault: triple fault (the vCPU shut down), rip 0x", "triple fault");
    let out = boot(target("spt"), "triple_fault", &[]);
    out.expect_status(254, "lidt on spt").expect_stderr("guest fault:", "lidt on spt");
}

#[test]
fn out_of_memory_is_reported_cleanly() {
    for t in targets("out of memory") {
        let what = format!("oom on {}", t.name);
        if !t.is_tender() {
            // std's allocation-failure path: a message, then SIGABRT. Cap the
            // address space so the host is not exhausted first.
            let mut cmd = Command::new(images(t).path("oom"));
            // SAFETY: setrlimit is async-signal-safe, fine between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                    let limit = libc::rlimit { rlim_cur: 512 << 20, rlim_max: 512 << 20 };
                    libc::setrlimit(libc::RLIMIT_AS, &limit);
                    Ok(())
                });
            }
            let out = run(&mut cmd, LIMIT);
            assert_eq!(out.signal, Some(libc::SIGABRT), "{what}\n{out:#?}");
            out.expect_stderr("memory allocation of 1048576 bytes failed", &what);
            continue;
        }
        let out = boot(t, "oom", &[]);
        out.expect_status(255, &what).expect_stderr("memory allocation of 1048576 bytes failed", &what);
    }
}

#[test]
fn manifest_limits_are_refused_before_boot() {
    for t in targets("manifest limits") {
        if !t.is_tender() {
            continue; // no tender reads the manifest; #[oasis::main] checks at compile time
        }
        let what = format!("manifests on {}", t.name);
        boot(t, "manifest_too_many", &[])
            .expect_status(253, &what)
            .expect_stderr("declares 33 devices (at most 32)", &what);
        boot(t, "manifest_duplicate", &[])
            .expect_status(253, &what)
            .expect_stderr("declares device 'service' twice", &what);
    }
}

#[test]
fn forbidden_system_calls_are_stopped_on_spt() {
    for (call, number) in [("openat", 257), ("execve", 59), ("mmap", 9)] {
        let what = format!("forbidden {call} on spt");
        let out = boot(target("spt"), "forbidden_syscall", &[call]);
        out.expect_status(254, &what)
            .expect_stderr(&format!("forbidden system call: {call} ({number}) at rip 0x"), &what);
    }
}

fn scratch_disk(name: &str, size: u64) -> PathBuf {
    let dir = oasis_testkit::workspace_root().join("target/oasis/conformance-disks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(size).unwrap();
    path
}

fn boot_with_disk(target: &Target, name: &str, disk: &Path, args: &[&str]) -> Outcome {
    boot_with(target, name, args, |run| run.blocks = vec![("storage".into(), disk.to_path_buf())])
}

#[test]
fn block_devices_read_back_what_was_written_and_keep_it_across_boots() {
    for t in targets("block device") {
        let what = format!("blk on {}", t.name);
        let disk = scratch_disk(&format!("blk-{}.img", t.name), 4 << 20);
        boot_with_disk(t, "blk", &disk, &[])
            .expect_status(0, &what)
            .expect_stdout("blk: ok capacity=4194304 block_size=512", &what);
        let disk = scratch_disk(&format!("blk-restart-{}.img", t.name), 1 << 20);
        boot_with_disk(t, "blk", &disk, &["--write-only"]).expect_status(0, &what);
        boot_with_disk(t, "blk", &disk, &["--verify-only"]).expect_status(0, &format!("{what}, after a restart"));
    }
}

#[test]
fn an_unbound_block_device_is_refused_by_name() {
    for t in targets("unbound block device") {
        let what = format!("blk without a disk on {}", t.name);
        let out = boot(t, "blk", &[]);
        match t.is_tender() {
            false => out
                .expect_status(1, &what)
                .expect_stdout("device 'storage': bind it to a file: --block storage=FILE", &what),
            true => out
                .expect_status(253, &what)
                .expect_stderr("declares block device 'storage' but it is not bound", &what),
        };
    }
}
