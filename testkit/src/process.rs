//! Running a command with a hard time limit and capturing its output.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished (or killed) command did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status, `None` if killed by a signal.
    pub status: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    /// Whether the time limit killed it.
    pub timed_out: bool,
}

impl Outcome {
    /// Panics with the whole outcome unless the status is `expected`.
    pub fn expect_status(&self, expected: i32, what: &str) -> &Self {
        assert_eq!(self.status, Some(expected), "{what}: wrong exit status\n{self:#?}");
        self
    }

    /// Panics unless stderr contains `needle`.
    pub fn expect_stderr(&self, needle: &str, what: &str) -> &Self {
        assert!(self.stderr.contains(needle), "{what}: stderr lacks {needle:?}\n{self:#?}");
        self
    }

    /// Panics unless stdout contains `needle`.
    pub fn expect_stdout(&self, needle: &str, what: &str) -> &Self {
        assert!(self.stdout.contains(needle), "{what}: stdout lacks {needle:?}\n{self:#?}");
        self
    }
}

/// Runs `cmd`, killing it after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Outcome {
    run_with_input(cmd, limit, &[])
}

/// Runs `cmd` with `input` on its stdin, killing it after `limit`.
pub fn run_with_input(cmd: &mut Command, limit: Duration, input: &[u8]) -> Outcome {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    use std::os::unix::process::ExitStatusExt;
    Outcome { status: status.code(), signal: status.signal(), stdout, stderr, elapsed, timed_out }
}

/// The processes whose parent is `parent`: the guest's process of a
/// tender, whose supervisor is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().is_some_and(|stat| {
                // The fields after the command name (in parentheses): state,
                // then the parent's pid.
                stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

/// The guest's process of the tender whose supervisor is `supervisor`,
/// once it exists (within `limit`).
pub fn guest_process(supervisor: u32, limit: std::time::Duration) -> Option<u32> {
    let start = std::time::Instant::now();
    loop {
        if let Some(&pid) = children_of(supervisor).first() {
            return Some(pid);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
