//! The `oasis` command's own behaviour: builds, inspection, and one-line
//! refusals of bad input with a non-zero status.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{guest_images, run, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(600);

/// The `oasis` command, with a data directory of this test process's own
/// (the notes it shows once, its kept disks), never the user's.
fn oasis_command() -> Command {
    let mut cmd = Command::new(OASIS);
    cmd.env("XDG_DATA_HOME", elsewhere("data"));
    cmd
}

fn oasis(args: &[&str]) -> oasis_testkit::Outcome {
    let mut cmd = oasis_command();
    cmd.current_dir(workspace_root()).args(args);
    run(&mut cmd, LIMIT)
}

fn one_line_refusal(args: &[&str], status: i32, needle: &str) {
    let out = oasis(args);
    out.expect_status(status, &format!("oasis {args:?}")).expect_stderr(needle, &format!("oasis {args:?}"));
    assert_eq!(out.stderr.lines().filter(|l| !l.starts_with("usage:")).count(), 1, "one line only: {out:#?}");
}

/// `oasis ARGS` from `dir`.
fn oasis_in(dir: &std::path::Path, args: &[&str]) -> oasis_testkit::Outcome {
    let mut cmd = oasis_command();
    cmd.current_dir(dir).args(args);
    run(&mut cmd, LIMIT)
}

/// A directory outside the checkout, as a user's own would be.
fn elsewhere(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oasis-cli-tests-{}", std::process::id())).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    one_line_refusal(&["spt"], 253, "oasis-spt: refused: the following required arguments were not provided: <IMAGE>");
    one_line_refusal(&["spt", "/nonexistent/image"], 253, "oasis-spt: refused: cannot read /nonexistent/image:");
    one_line_refusal(&["spt", hello, "--mem=lots"], 253, "invalid value 'lots' for '--mem <SIZE>'");
    one_line_refusal(
        &["spt", hello, "--mem=1M"],
        253,
        "invalid value '1M' for '--mem <SIZE>': must be between 2M and 4G",
    );
    one_line_refusal(&["spt", hello, "--frobnicate"], 253, "unexpected argument '--frobnicate' found");
    one_line_refusal(&["hvt", hello, "--net", "Bad=tap0"], 253, "'Bad' is not a device name");
    one_line_refusal(&["spt", hello, "--net:a=x", "--block:a=y"], 253, "device 'a' is bound more than once");
    one_line_refusal(
        &["spt", hello, "--net:service=tap0"],
        253,
        "--net service=…: the image declares no net device named 'service'",
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

#[test]
fn run_publishes_the_packages_default_ports_unless_p_replaces_them() {
    // From another directory, naming the package by its path.
    let www = workspace_root().join("unikernels/www");
    let www = www.to_str().unwrap();
    let dry_run = |extra: &[&str]| {
        let mut cmd = oasis_command();
        cmd.current_dir(std::env::temp_dir()).args(["run", www, "--dry-run"]).args(extra);
        run(&mut cmd, LIMIT)
    };
    let out = dry_run(&["--target", "spt"]);
    out.expect_status(0, "oasis run www --dry-run").expect_stdout(
        ":80/tcp (proxied by oasis; the package's default, -p replaces it)",
        "the default port in the plan",
    );
    assert!(out.stdout.contains("# publish 127.0.0.1:8080 -> 10."), "{out:#?}");
    let out = dry_run(&["--target", "spt", "-p", "9090:80"]);
    out.expect_status(0, "oasis run www -p 9090:80 --dry-run");
    assert!(out.stdout.contains("# publish 127.0.0.1:9090 -> ") && !out.stdout.contains("8080"), "{out:#?}");
    // Docker's other forms: IP:HOST:GUEST, and GUEST alone (the same port on the host).
    let out = dry_run(&["--target", "spt", "-p", "0.0.0.0:9091:80", "-p", "9092/udp"]);
    out.expect_status(0, "oasis run www -p IP:HOST:GUEST -p GUEST --dry-run");
    assert!(out.stdout.contains("# publish 0.0.0.0:9091 -> ") && out.stdout.contains(":80/tcp"), "{out:#?}");
    assert!(out.stdout.contains("# publish 127.0.0.1:9092 -> ") && out.stdout.contains(":9092/udp"), "{out:#?}");
    // The unix target listens on the host's own port 8080: nothing to publish.
    let out = dry_run(&["--target", "unix"]);
    out.expect_status(0, "oasis run www --target unix --dry-run");
    assert!(!out.stdout.contains("publish") && out.stdout.trim_end().ends_with("/www"), "{out:#?}");
}

#[test]
fn run_refuses_bad_input_in_one_line_before_building() {
    let home = elsewhere("refusals");
    let root = workspace_root();
    let kv = root.join("unikernels/kv");
    let kv = kv.to_str().unwrap();
    let refused = |args: &[&str], needle: &str| {
        let out = oasis_in(&home, args);
        out.expect_status(1, &format!("oasis {args:?}")).expect_stderr(needle, &format!("oasis {args:?}"));
        assert_eq!(out.stderr.lines().count(), 1, "one line, and nothing built: {out:#?}");
    };
    let cli = root.join("cli");
    refused(
        &["run", cli.to_str().unwrap()],
        "cli: not an Oasis unikernel: package oasis-cli does not depend on the oasis crate",
    );
    refused(&["build", cli.to_str().unwrap(), "--target", "spt"], "not an Oasis unikernel");
    refused(&["run", root.to_str().unwrap()], "not an Oasis unikernel: its Cargo.toml is a workspace's");
    refused(&["run", "/nonexistent/package"], "no such package directory or image file");
    refused(&["run", "/bin/sh"], "/bin/sh: not an Oasis unikernel");
    refused(&["run", kv, "--mem", "1M"], "--mem 1M: must be between 2M and 4G");
    refused(&["run", kv, "--mem", "lots"], "--mem lots: expected a number");
    refused(&["run", kv, "--timeout", "soon"], "--timeout soon: ");
    refused(&["run", kv, "--disk-size", "10K"], "--disk-size 10K: at least 1M");
    refused(
        &["run", kv, "--net", "service=oasis-no-tap"],
        "there is no TAP device oasis-no-tap in this network namespace",
    );
    refused(&["run", kv, "--net", "service=lo"], "lo is a network interface but not a TAP device");
    refused(&["run", kv, "--net", "Service=tap0"], "'Service' is not a device name");
    let missing = home.join("missing.img");
    let missing_arg = format!("storage={}", missing.display());
    refused(&["run", kv, "--block", &missing_arg], "no such file: add --create-disks to make it");
    refused(
        &["run", kv, "--block", "storage=/nonexistent-dir/disk.img", "--create-disks"],
        "the directory /nonexistent-dir does not exist",
    );
    refused(&["run", kv, "--block", &format!("storage={}", home.display())], "not a regular file");
    // A disk a running unikernel holds (its lock) is refused before the build.
    let held = home.join("held.img");
    std::fs::write(&held, vec![0u8; 1 << 20]).unwrap();
    let lock = std::fs::File::open(&held).unwrap();
    lock.lock().unwrap();
    refused(&["run", kv, "--block", &format!("storage={}", held.display())], "in use by another process");
    drop(lock);
}

#[test]
fn run_image_runs_a_built_image_as_it_is() {
    let home = elsewhere("run-image");
    let guest = guest_images().path("hello");
    let guest = guest.to_str().unwrap();
    let out = oasis_in(&home, &["run", guest, "--", "--ticks", "1"]);
    out.expect_status(0, "oasis run IMAGE").expect_stdout("Hello from Oasis", "oasis run IMAGE");
    let target_line = out.stderr.lines().find(|l| l.starts_with("oasis: target ")).unwrap_or_default();
    assert!(target_line.starts_with("oasis: target hvt") || target_line.starts_with("oasis: target spt"), "{out:#?}");

    let program = oasis_testkit::unix_images().path("hello");
    let program = program.to_str().unwrap();
    let out = oasis_in(&home, &["run", program, "--", "--ticks", "0"]);
    out.expect_status(0, "oasis run PROGRAM")
        .expect_stdout("Hello from Oasis", "oasis run PROGRAM")
        .expect_stderr("oasis: target unix: ", "oasis run PROGRAM");
    let out = oasis_in(&home, &["run", program, "--target", "spt"]);
    out.expect_status(1, "unix program on spt").expect_stderr("is a unix program, not a guest image", "unix on spt");
    let out = oasis_in(&home, &["run", guest, "--target", "unix"]);
    out.expect_status(1, "guest image on unix").expect_stderr("is a guest image (hvt, spt)", "guest on unix");
    // Bindings are checked against the image's own devices, named in the refusal.
    let file = home.join("disk.img");
    std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
    let out = oasis_in(&home, &["run", guest, "--target", "spt", "--block", &format!("storage={}", file.display())]);
    out.expect_status(1, "hello --block")
        .expect_stderr("declares no block device named 'storage' (its block devices: none)", "hello --block");
}

#[test]
fn an_unfit_image_is_refused_with_the_real_reason() {
    // A position-independent executable: a unix build is one.
    let program = oasis_testkit::unix_images().path("hello");
    one_line_refusal(&["spt", program.to_str().unwrap()], 253, "a position-independent executable (ELF type DYN)");
    let mut bytes = std::fs::read(guest_images().path("hello")).unwrap();
    bytes[0x10] = 3; // e_type: ET_DYN
    let pie = scratch("hello-pie");
    std::fs::write(&pie, &bytes).unwrap();
    one_line_refusal(
        &["spt", pie.to_str().unwrap()],
        253,
        "a position-independent executable (ELF type DYN), not a static one",
    );
    bytes[0x10] = 1; // ET_REL
    std::fs::write(&pie, &bytes).unwrap();
    one_line_refusal(&["spt", pie.to_str().unwrap()], 253, "not an executable: ELF type 1");
}

#[test]
fn kept_disks_live_in_the_data_directory_and_are_managed_by_name() {
    let home = elsewhere("disks");
    let disks = home.join("data");
    let kv = guest_images().path("kv");
    let kv = kv.to_str().unwrap();
    let oasis_disks = |args: &[&str]| {
        let mut cmd = oasis_command();
        cmd.current_dir(&home).env("OASIS_DISKS_DIR", &disks).args(args);
        run(&mut cmd, LIMIT)
    };
    let out = oasis_disks(&["run", kv, "--target", "spt", "--dry-run", "--disk-size", "2M"]);
    out.expect_status(0, "first run").expect_stderr("block device 'storage': created ", "first run");
    let disk = disks.join("kv-storage.img");
    assert!(out.stdout.contains(&format!("--block storage={}", disk.display())), "{out:#?}");
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 2 << 20);
    oasis_disks(&["run", kv, "--target", "spt", "--dry-run", "--disk-size", "4M"])
        .expect_status(1, "another size")
        .expect_stderr("is 2M, not --disk-size 4M", "another size");
    oasis_disks(&["disks", "ls"]).expect_status(0, "disks ls").expect_stdout("kv-storage", "disks ls");
    oasis_disks(&["disks", "path", "kv-storage"])
        .expect_status(0, "disks path")
        .expect_stdout(&disk.display().to_string(), "disks path");
    oasis_disks(&["disks", "rm", "kv-storage"]).expect_status(0, "disks rm");
    assert!(!disk.exists(), "disks rm left {}", disk.display());
    oasis_disks(&["disks", "rm", "kv-storage"])
        .expect_status(1, "rm twice")
        .expect_stderr("no disk named kv-storage", "rm twice");
}

#[test]
fn the_tenders_have_one_help_with_defaults_and_take_both_spellings() {
    for tender in ["spt", "hvt"] {
        let own = oasis(&["help", tender]);
        own.expect_status(0, "oasis help").expect_stdout("[default: 32M]", "defaults shown");
        own.expect_stdout("--net <NAME=TAP>", "run's spelling").expect_stdout("--net:NAME=TAP", "the alias named");
        let flag = oasis(&[tender, "--help"]);
        flag.expect_status(0, "--help");
        assert_eq!(own.stdout, flag.stdout, "oasis help {tender} and oasis {tender} --help differ");
    }
    // A TAP that does not exist is refused, in either spelling, and not
    // made: the raw tender used to create one in the host's namespace.
    let guest = guest_images().path("hostile_raw_tap");
    let guest = guest.to_str().unwrap();
    let tap = format!("oasnone{}", std::process::id() % 100_000);
    for binding in [vec!["--net".to_string(), format!("service={tap}")], vec![format!("--net:service={tap}")]] {
        let mut args = vec!["spt", guest];
        args.extend(binding.iter().map(String::as_str));
        one_line_refusal(&args, 253, &format!("there is no TAP device '{tap}' in this network namespace"));
        assert!(!std::path::Path::new("/sys/class/net").join(&tap).exists(), "{tap} was created");
    }
}

#[test]
fn completions_are_generated_for_each_shell() {
    let home = elsewhere("completions");
    for shell in ["bash", "zsh", "fish"] {
        let out = oasis_in(&home, &["completions", shell]);
        out.expect_status(0, &format!("completions {shell}")).expect_stdout("disks", "the subcommands are in it");
    }
    oasis_in(&home, &["completions", "tcsh"])
        .expect_status(2, "an unknown shell")
        .expect_stderr("invalid value 'tcsh'", "tcsh");
}

#[test]
fn new_outside_the_checkout_makes_a_package_here_and_says_when_oasis_is_gone() {
    let home = elsewhere("new-outside");
    let _ = std::fs::remove_dir_all(home.join("greeter"));
    let out = oasis_in(&home, &["new", "greeter"]);
    out.expect_status(0, "oasis new outside the checkout").expect_stdout("created ./greeter", "oasis new");
    let manifest = home.join("greeter/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let path = text.lines().find_map(|l| l.strip_prefix("oasis = { path = \"")?.strip_suffix("\" }")).unwrap();
    assert!(home.join("greeter").join(path).join("Cargo.toml").is_file(), "{path} from {}", manifest.display());
    // The checkout moved: the build says so in one line, before cargo runs.
    std::fs::write(&manifest, text.replace(path, "../moved-away/oasis")).unwrap();
    let out = oasis_in(&home, &["build", "greeter", "--target", "spt"]);
    out.expect_status(1, "oasis build with oasis gone").expect_stderr("is gone (a moved checkout?)", "oasis gone");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
}
