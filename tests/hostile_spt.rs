//! spt attacked as a hostile guest would attack it: not through
//! hypercalls but with raw system calls and forged signal frames from guest
//! code, which shares the tender's process. What holds is only what the
//! seccomp filter and the supervisor outside the process enforce; each
//! attack must end with status 254 and one line from the supervisor (or be
//! harmless), the host untouched: file sizes, no forged lines on stderr,
//! no secrets read, no process left behind.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oasis_testkit::{Outcome, guest_images, run, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/oasis/hostile-spt-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn spt(image: &str, opts: &[&str], guest: &[&str]) -> Outcome {
    let mut cmd = Command::new(OASIS);
    cmd.arg("spt").arg(guest_images().path(image)).args(opts).arg("--").args(guest);
    let out = run(&mut cmd, LIMIT);
    assert!(!out.timed_out, "{image}: hung\n{out:#?}");
    out
}

/// Exactly one line on stderr, containing `needle`; the given status.
fn one_line(out: &Outcome, status: i32, needle: &str, what: &str) {
    out.expect_status(status, what).expect_stderr(needle, what);
    assert_eq!(out.stderr.lines().count(), 1, "{what}: one line only\n{out:#?}");
    assert!(out.stderr.starts_with("oasis-spt: "), "{what}: {out:#?}");
}

/// The descriptor the sandbox pins `pwrite64` to, read from the printed
/// filter.
fn block_fd(binding: &str) -> String {
    let out = spt("hostile_raw_pwrite", &["--print-filter", binding], &[]);
    out.expect_status(0, "--print-filter");
    let line = out.stdout.lines().find(|l| l.starts_with("pwrite64")).expect("a pwrite64 rule");
    line.split_whitespace().find_map(|w| w.strip_prefix("arg0=")).unwrap().to_string()
}

#[test]
fn raw_pwrite_past_the_end_is_stopped_and_the_file_never_grows() {
    let disk = scratch("pwrite.img");
    std::fs::File::create(&disk).unwrap().set_len(1 << 20).unwrap();
    let binding = format!("--block:storage={}", disk.display());
    let fd = block_fd(&binding);
    for at in ["end", "far"] {
        let out = spt("hostile_raw_pwrite", &[&binding], &["--fd", &fd, "--at", at]);
        one_line(&out, 254, "forbidden system call: pwrite64 (18)", &format!("pwrite64 at {at}"));
        let meta = std::fs::metadata(&disk).unwrap();
        assert_eq!(meta.len(), 1 << 20, "pwrite64 at {at}: the file grew");
        assert!(std::fs::read(&disk).unwrap().iter().all(|&b| b == 0), "pwrite64 at {at}: the file changed");
    }
}

#[test]
fn forged_signal_frames_cannot_silence_the_supervisor() {
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&["--timeout=1s"], &["--mask", "all", "--then", "spin"], "--timeout of 1000 ms ran out (supervisor)"),
        // The stop request (--stats) is a signal the guest can block: the
        // grace ends in SIGKILL all the same.
        (
            &["--timeout=1s", "--stats"],
            &["--mask", "all", "--then", "spin"],
            "--timeout of 1000 ms ran out (supervisor)",
        ),
        (&[], &["--mask", "all", "--then", "null"], "the guest's process was killed by page fault (SIGSEGV)"),
        (
            &[],
            &["--mask", "all", "--then", "forbidden"],
            "the guest's process was killed by a forbidden system call (SIGSYS)",
        ),
        (&[], &["--mask", "none", "--altstack", "off", "--then", "wild-stack"], "killed by page fault (SIGSEGV)"),
    ];
    for (opts, guest, needle) in cases {
        let out = spt("hostile_sigreturn", opts, guest);
        one_line(&out, 254, needle, &format!("forged frame {guest:?}"));
    }
    // SIGTERM still stops a guest that blocked every signal.
    let mut child = Command::new(OASIS)
        .arg("spt")
        .arg(guest_images().path("hostile_sigreturn"))
        .args(["--", "--mask", "all", "--then", "spin"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("SIGTERM received: the guest was killed (supervisor)"), "{err}");
}

#[test]
fn int_0x80_is_stopped_with_one_line() {
    let out = spt("hostile_int80", &[], &[]);
    one_line(&out, 254, "the guest's process was killed by a forbidden system call (SIGSYS)", "int 0x80");
}

#[test]
fn raw_writes_never_forge_the_tenders_lines_nor_pass_the_limits() {
    // One write of 8 MiB on stderr: over what the sandbox allows there.
    let big = ["--total", "8388608", "--chunk", "8388608"];
    let out = spt("hostile_raw_write", &[], &[&["--fd", "2"][..], &big].concat());
    one_line(&out, 254, "forbidden system call: write (1)", "8 MiB on stderr at once");
    assert!(!out.stderr.contains("forged"), "{out:#?}");
    // Forged lines in small writes, then a normal exit: none reaches stderr.
    let out = spt("hostile_raw_write", &[], &["--fd", "2", "--total", "1048576", "--chunk", "4096"]);
    out.expect_status(0, "forged lines then exit 0");
    assert_eq!(out.stderr, "", "forged lines reached stderr");
    // 8 MiB on stdout at once: over one console call's worth.
    let out = spt("hostile_raw_write", &[], &[&["--fd", "1"][..], &big].concat());
    one_line(&out, 254, "forbidden system call: write (1)", "8 MiB on stdout at once");
    // Small writes around the console hypercall still meet the run's limit.
    let out = spt(
        "hostile_raw_write",
        &["--console-limit=1M"],
        &["--fd", "1", "--total", "8388608", "--chunk", "65536", "--text", "x"],
    );
    one_line(&out, 0, "console output over --console-limit=1048576: 7340032 bytes dropped (supervisor)", "8 MiB");
    assert_eq!(out.stdout.len(), 1 << 20, "relayed more than the limit");
}

#[test]
fn the_guest_reads_nothing_secret_from_the_process() {
    let secret = format!("s3cr3t-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    // The image under a name found nowhere else, to look for the command line.
    let image = scratch(&format!("image-named-{secret}-on-the-command-line"));
    std::fs::copy(guest_images().path("hostile_dump_stack"), &image).unwrap();
    let mut cmd = Command::new(OASIS);
    cmd.arg("spt")
        .arg(&image)
        .arg("--console-limit=0")
        .env("OASIS_TEST_SECRET", &secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dumped = String::from_utf8_lossy(&out.stdout);
    // The dump really reached the stack (the guest says how much it read).
    let n: u64 = dumped
        .rsplit("dumped ")
        .next()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(n > 0, "the guest dumped nothing: the test would prove nothing");
    assert!(!dumped.contains(&format!("={secret}")), "the guest read the environment");
    assert!(!dumped.contains("image-named-"), "the guest read the command line");
}

#[test]
fn a_stalled_console_cannot_outlive_the_timeout() {
    // stdout is a pipe nobody reads.
    let mut child = Command::new(OASIS)
        .arg("spt")
        .arg(guest_images().path("hostile_console_flood"))
        .arg("--timeout=2s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(254));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("--timeout of 2000 ms ran out"), "{err}");
}

#[test]
fn the_guests_process_holds_only_its_devices_and_dies_with_the_supervisor() {
    let mut supervisor = Command::new(OASIS)
        .arg("spt")
        .arg(guest_images().path("hostile_spin"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guest = wait_for_child_of(supervisor.id(), Duration::from_secs(30));
    // Only stdin, the console and the report pipe (no devices declared).
    let fds = open_fds(guest);
    assert_eq!(fds, [0, 1, 2], "descriptors of the guest's process");
    // SIGKILL the supervisor: the guest's process goes with it.
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    let start = Instant::now();
    while Path::new(&format!("/proc/{guest}")).exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the guest's process outlived its supervisor");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first child process of `parent`.
fn wait_for_child_of(parent: u32, limit: Duration) -> u32 {
    let start = Instant::now();
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(parent) {
                return pid;
            }
        }
        assert!(start.elapsed() < limit, "no child of {parent}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn open_fds(pid: u32) -> Vec<i32> {
    // The guest's process closes what it must not keep just before the
    // guest starts: look until that has happened.
    let start = Instant::now();
    loop {
        let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_string_lossy().parse().ok())
            .collect();
        fds.sort_unstable();
        if fds.len() <= 3 || start.elapsed() > Duration::from_secs(10) {
            return fds;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `oasis spt hostile_raw_write` writing 8 MiB of console in 64 KiB
/// writes, `opts` added, with `stdout` as its stdout; returns its status
/// and stderr.
fn eight_mib_to(stdout: Stdio, opts: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(OASIS)
        .arg("spt")
        .arg(guest_images().path("hostile_raw_write"))
        .args(opts)
        .args(["--", "--fd", "1", "--total", "8388608", "--chunk", "65536", "--text", "x"])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    (status.code(), err)
}

#[test]
fn the_console_reaches_a_file_whole_or_up_to_the_limit() {
    // A file (splice) and a file opened to append (no splice: copied).
    for append in [false, true] {
        let path = scratch(&format!("console-to-file-{append}"));
        let _ = std::fs::remove_file(&path);
        let file = || std::fs::OpenOptions::new().create(true).write(true).append(append).open(&path).unwrap();
        let (status, err) = eight_mib_to(file().into(), &[]);
        assert_eq!((status, err.as_str()), (Some(0), ""), "append {append}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8 << 20, "append {append}: all of the console");
        std::fs::remove_file(&path).unwrap();
        let (status, err) = eight_mib_to(file().into(), &["--console-limit=1M"]);
        assert_eq!(status, Some(0), "append {append}: {err}");
        assert!(err.contains("--console-limit=1048576: 7340032 bytes dropped (supervisor)"), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20, "append {append}: up to the limit");
        std::fs::remove_file(&path).unwrap();
    }
    let (status, err) = eight_mib_to(Stdio::null(), &[]);
    assert_eq!((status, err.as_str()), (Some(0), ""), "to /dev/null");
}

#[test]
fn the_console_reaches_a_socket_whole() {
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut mine = mine;
        mine.read_to_end(&mut got).unwrap();
        got
    });
    let (status, err) = eight_mib_to(std::os::fd::OwnedFd::from(theirs).into(), &["--console-limit=6M"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("--console-limit=6291456: 2097152 bytes dropped (supervisor)"), "{err}");
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 6 << 20);
    assert!(got.iter().all(|&b| b == b'x'));
}

#[test]
fn a_stalled_console_never_defers_a_stop_signal() {
    // stdout a pipe nobody reads, full after 64 KiB: the supervisor must
    // still answer SIGTERM at once.
    let mut child = Command::new(OASIS)
        .arg("spt")
        .arg(guest_images().path("hostile_console_flood"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("SIGTERM received: the guest was killed (supervisor)"), "{err}");
}
