//! Hostile guests: images that break the contract on purpose. For each,
//! on hvt and spt, the tender must stop with a one-line error naming the
//! fault and a non-zero status, never panic, and never touch anything
//! outside guest memory.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{Outcome, Target, guest_images, run, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(120);

fn tenders(test: &str) -> Vec<&'static Target> {
    oasis_testkit::tenders(test)
}

/// Runs `image` under tender `target` with tender options `opts` (the
/// raw tender command line: these images break the rules `oasis run`
/// would check).
fn tender(target: &Target, image: &Path, opts: &[&str]) -> Outcome {
    let subcommand_name = match target.launch {
        oasis_testkit::Launch::Tender { subcommand } => subcommand,
        oasis_testkit::Launch::Program => panic!("{} is not a tender", target.name),
    };
    let mut cmd = Command::new(OASIS);
    cmd.arg(subcommand_name).arg(image).args(opts);
    let mut out = run(&mut cmd, LIMIT);
    assert!(!out.timed_out, "{} {}: hung\n{out:#?}", target.name, image.display());
    out.stderr = out.stderr.lines().filter(|l| !l.starts_with("oasis-hvt: note:")).map(|l| format!("{l}\n")).collect();
    out
}

/// Exactly one line on stderr, from the tender, containing `needle`; no
/// panic; the given status.
fn expect_one_line(out: &Outcome, target: &Target, status: i32, needle: &str, what: &str) {
    let what = format!("{what} on {}", target.name);
    out.expect_status(status, &what).expect_stderr(needle, &what);
    assert_eq!(out.stderr.lines().count(), 1, "{what}: one line only\n{out:#?}");
    assert!(out.stderr.starts_with(&target.message_prefix()), "{what}: {out:#?}");
    assert!(!out.stderr.contains("panicked"), "{what}: the tender panicked\n{out:#?}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/oasis/hostile-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn contract_violations_are_stopped_and_named() {
    let cases: &[(&str, &str)] = &[
        ("hostile_outside_memory", "console-write: buffer 0xf0000000 of 16 bytes is outside the guest memory"),
        ("hostile_length_overflow", "console-write: buffer 0xfffffffffffff000 of 8192 bytes is outside"),
        ("hostile_straddle_end", "console-write: buffer 0x1fffff0 of 64 bytes is outside"),
        ("hostile_unknown_call", "unknown hypercall 99"),
        ("hostile_undeclared_handle", "net-info: handle 5 is not a declared device"),
        ("hostile_console_gigabytes", "console-write: 4294967296 bytes in one call (at most 65536)"),
        ("hostile_misaligned_argument", "clock-monotonic: argument address"),
        ("hostile_readonly_argument", "clock-monotonic: argument address"),
        ("hostile_page_zero_argument", "clock-monotonic: argument address 0x8 is misaligned or outside"),
        ("hostile_exit_status", "exit: status 256 is above 255"),
        ("hostile_abort_bad_message", "abort: buffer 0xdead00000000 of 100 bytes is outside"),
    ];
    for t in tenders("contract violations") {
        for (image, needle) in cases {
            let out = tender(t, &guest_images().path(image), &["--mem=32M"]);
            expect_one_line(&out, t, 254, &format!("stopped: guest broke the ABI: {needle}"), image);
        }
    }
}

#[test]
fn writing_to_code_faults() {
    for t in tenders("write to code") {
        let out = tender(t, &guest_images().path("hostile_write_code"), &[]);
        expect_one_line(&out, t, 254, "stopped: guest fault: page fault", "hostile_write_code");
    }
}

#[test]
fn stats_outlive_a_timeout_and_a_guest_that_ignores_the_request_is_killed() {
    for t in tenders("--stats at --timeout") {
        // The supervisor asks the child for its counts before it kills it.
        let out = tender(t, &guest_images().path("hello"), &["--timeout=3s", "--stats", "--", "--ticks", "100"]);
        out.expect_status(254, &format!("hello on {}", t.name));
        assert!(out.stderr.contains("--timeout of 3000 ms ran out (supervisor)"), "{out:#?}");
        assert!(out.stderr.contains("hypercalls: ") || out.stderr.contains("vm-exits: "), "no counts: {out:#?}");
        assert!(out.stderr.contains("yield"), "the guest's yields are counted: {out:#?}");
        // A guest that never calls the tender is killed after the grace,
        // counts or not.
        let out = tender(t, &guest_images().path("hostile_spin"), &["--timeout=1s", "--stats"]);
        out.expect_status(254, &format!("spin on {}", t.name));
        assert!(out.stderr.contains("--timeout of 1000 ms ran out (supervisor)"), "{out:#?}");
        assert!(out.elapsed < Duration::from_secs(30), "took {:?}", out.elapsed);
    }
}

#[test]
fn a_guest_that_never_yields_is_stopped_by_timeout() {
    for t in tenders("never yields") {
        for image in ["hostile_spin", "hostile_yield_spin"] {
            let out = tender(t, &guest_images().path(image), &["--timeout=1s"]);
            expect_one_line(&out, t, 254, "stopped: --timeout of 1000 ms ran out", image);
            assert!(out.elapsed < Duration::from_secs(30), "{image}: took {:?}", out.elapsed);
        }
    }
}

#[test]
fn a_spinning_guest_still_dies_on_sigterm() {
    for t in tenders("sigterm") {
        for image in ["hostile_spin", "hostile_yield_spin"] {
            let mut child = Command::new(OASIS).arg(t.name).arg(guest_images().path(image)).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                assert!(std::time::Instant::now() < deadline, "{image} on {}: ignored SIGTERM", t.name);
                std::thread::sleep(Duration::from_millis(20));
            };
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGTERM), "{image} on {}", t.name);
        }
    }
}

#[test]
fn bad_images_are_refused_before_boot() {
    let hello = std::fs::read(guest_images().path("hello")).unwrap();
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let phoff = u64_at(&hello, 0x20) as usize;
    let phentsize = u16_at(&hello, 0x36);
    let first_load = (0..u16_at(&hello, 0x38))
        .map(|i| phoff + i * phentsize)
        .find(|&at| u32::from_le_bytes(hello[at..at + 4].try_into().unwrap()) == 1)
        .unwrap();
    let patched = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = hello.clone();
        edit(&mut b);
        b
    };
    let images: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not a valid ELF file"),
        ("truncated", hello[..200].to_vec(), "not a valid ELF file"),
        ("not-x86", patched(&|b| b[0x12] = 0xb7), "not an x86-64 executable"),
        (
            "phdrs-past-end",
            patched(&|b| b[0x20..0x28].copy_from_slice(&(1u64 << 40).to_le_bytes())),
            "its program headers lie beyond the first 1024 KiB",
        ),
        (
            "segment-over-tender",
            patched(&|b| {
                b[first_load + 0x10..first_load + 0x18].copy_from_slice(&0x1000u64.to_le_bytes());
                b[first_load + 0x18..first_load + 0x20].copy_from_slice(&0x1000u64.to_le_bytes());
            }),
            "overlaps the tender's area below 0x100000",
        ),
        (
            "file-range-past-end",
            patched(&|b| b[first_load + 0x8..first_load + 0x10].copy_from_slice(&(1u64 << 40).to_le_bytes())),
            "file range lies outside the file",
        ),
        ("writable-code", patched(&|b| b[first_load + 4] = 7), "is both writable and executable"),
        (
            "entry-outside",
            patched(&|b| b[0x18..0x20].copy_from_slice(&0x4000_0000u64.to_le_bytes())),
            "entry point 0x40000000",
        ),
    ];
    for t in tenders("bad images") {
        for (name, bytes, needle) in &images {
            let path = scratch(name);
            std::fs::write(&path, bytes).unwrap();
            let out = tender(t, &path, &[]);
            expect_one_line(&out, t, 253, needle, name);
        }
        let out = tender(t, &guest_images().path("bad_abi_version"), &[]);
        let v = oasis_abi::ABI_VERSION;
        let needle = format!("built for ABI version {}, this tender speaks version {v}", v + 1);
        expect_one_line(&out, t, 253, &needle, "bad_abi_version");
        let out = tender(t, &guest_images().path("big_image"), &["--mem=4M"]);
        expect_one_line(&out, t, 253, "needs at least 10 MiB of guest memory but --mem is 4 MiB", "big_image");
    }
}

#[test]
fn block_contract_violations_are_stopped_and_named() {
    let disk = scratch("hostile-disk.img");
    std::fs::File::create(&disk).unwrap().set_len(1 << 20).unwrap();
    let binding = format!("--block:storage={}", disk.display());
    let cases: &[(&str, &str)] = &[
        ("hostile_block_past_end", "block-read: 1099511627776 breaks the rule: offset + length within the capacity"),
        ("hostile_block_unaligned", "block-write: 100 breaks the rule: offset a multiple of the block size"),
        ("hostile_wrong_device_kind", "net-info: handle 0 is a device of another kind"),
    ];
    for t in tenders("block violations") {
        for (image, needle) in cases {
            let out = tender(t, &guest_images().path(image), &[&binding]);
            expect_one_line(&out, t, 254, &format!("stopped: guest broke the ABI: {needle}"), image);
        }
        let out = tender(t, &guest_images().path("blk"), &["--block:storage=/nonexistent/disk.img"]);
        expect_one_line(
            &out,
            t,
            253,
            "--block storage=/nonexistent/disk.img: No such file or directory",
            "missing disk",
        );
    }
}

/// `cpuid` leaf `leaf` as the guest printed it: eax, ebx, ecx, edx.
fn cpuid_leaf(stdout: &str, leaf: &str) -> [u64; 4] {
    let line = stdout.lines().find(|l| l.starts_with(&format!("cpuid {leaf} "))).unwrap();
    let words: Vec<u64> =
        line.split_whitespace().skip(2).map(|w| u64::from_str_radix(w.trim_start_matches("0x"), 16).unwrap()).collect();
    [words[0], words[1], words[2], words[3]]
}

#[test]
fn hvt_shows_the_guest_only_what_it_sets() {
    if let Err(why) = oasis_testkit::kvm_available() {
        oasis_testkit::skip("hvt CPUID, TSC and paravirtual MSRs", &why);
        return;
    }
    let hvt = oasis_testkit::target("hvt");
    let image = guest_images().path("hostile_cpuid");
    let out = tender(hvt, &image, &["--", "none"]);
    out.expect_status(0, "cpuid on hvt");
    // What every KVM here honours: the tender's highest leaf and its
    // extended features (NX and LM only).
    assert_eq!(cpuid_leaf(&out.stdout, "0x0")[0], 1, "{}", out.stdout);
    assert_eq!(cpuid_leaf(&out.stdout, "0x80000001")[3] & !((1 << 20) | (1 << 29)), 0, "{}", out.stdout);
    assert_eq!(cpuid_leaf(&out.stdout, "0x40000000"), [0; 4], "KVM's signature leaf shows: {}", out.stdout);
    let tsc: u64 = out.stdout.lines().find_map(|l| l.strip_prefix("tsc ")).unwrap().parse().unwrap();
    if oasis_testkit::kvm_is_emulated() {
        // Software-emulated KVM (kvm_pvm) fills leaf 1 and leaf 0xd from
        // the host and ignores the TSC offset: docs/tenders.md says so.
        eprintln!("NOTE hvt on kvm_pvm: leaf 1 {:x?}, TSC {tsc}", cpuid_leaf(&out.stdout, "0x1"));
    } else {
        let leaf1 = cpuid_leaf(&out.stdout, "0x1");
        assert_eq!(leaf1[2] & !(1 << 30), 0, "leaf 1 ecx beyond RDRAND: {leaf1:x?}");
        assert_eq!(cpuid_leaf(&out.stdout, "0xd"), [0; 4], "leaf 0xd shows: {}", out.stdout);
        assert!(tsc < 100_000_000_000, "the guest's TSC starts at the host's: {tsc}");
    }
    // Paravirtual MSRs the tender does not offer fault.
    let out = tender(hvt, &image, &[]);
    expect_one_line(&out, hvt, 254, "guest fault: general protection", "wrmsr kvmclock");
    // A halt is named for what it is.
    let out = tender(hvt, &image, &["--", "hlt"]);
    expect_one_line(&out, hvt, 254, "halted waiting for an interrupt, which the tender never sends", "sti; hlt");
}
