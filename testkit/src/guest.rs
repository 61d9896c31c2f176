//! A unikernel running in the background for a test, its output collected
//! line by line, killed when the guard is dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running unikernel (or any program) whose output is kept.
#[derive(Debug)]
pub struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `cmd`, collecting stdout and stderr together.
    pub fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn std::io::Read + Send>; 2] =
            [Box::new(child.stdout.take().expect("piped")), Box::new(child.stderr.take().expect("piped"))];
        for pipe in pipes {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Running { child, output }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the output contains `needle`; panics (with the output)
    /// after `limit` or if the program exits first.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        self.wait_until(&format!("{needle:?}"), limit, |out| out.contains(needle))
    }

    /// Waits until `done` holds for the output so far; panics (with the
    /// output, naming `what`) after `limit` or if the program exits first.
    pub fn wait_until(&mut self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if done(&out) {
                return out;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("exited ({status}) before printing {what}:\n{}", self.output());
            }
            assert!(start.elapsed() < limit, "no {what} within {limit:?}:\n{out}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `needle` appears `count` times; panics like `wait_for`.
    pub fn wait_for_count(&mut self, needle: &str, count: usize, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if out.matches(needle).count() >= count {
                return out;
            }
            assert!(
                start.elapsed() < limit,
                "{needle:?} not seen {count} times within {limit:?}:
{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its process id (to signal it from a test).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it (SIGKILL) and returns its output.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.output()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
