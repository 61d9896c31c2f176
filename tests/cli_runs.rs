//! Runs users manage: `oasis run -d`, `oasis ps`, `oasis logs`, `oasis
//! stop`, run as a user would from a directory of their own, each test
//! with a runtime directory (`XDG_RUNTIME_DIR`) of its own. Guests run on
//! spt (hvt may be emulated here, and slow).

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oasis_testkit::{Outcome, guest_images, run, skip};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(600);
/// How long a condition may take to come true before a test fails.
const WAIT: Duration = Duration::from_secs(120);

/// A user's directory, runtime directory and data directory (kept
/// disks, notes), all fresh.
struct User {
    home: PathBuf,
    runtime: PathBuf,
    data: PathBuf,
}

impl User {
    fn new(test: &str) -> User {
        let base = std::env::temp_dir().join(format!("oasis-cli-runs-{}", std::process::id())).join(test);
        let _ = std::fs::remove_dir_all(&base);
        let (home, runtime, data) = (base.join("home"), base.join("runtime"), base.join("data"));
        for dir in [&home, &runtime, &data] {
            std::fs::create_dir_all(dir).unwrap();
        }
        User { home, runtime, data }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(OASIS);
        cmd.current_dir(&self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_DATA_HOME", &self.data)
            .env_remove("OASIS_DISKS_DIR")
            .args(args);
        cmd
    }

    fn oasis(&self, args: &[&str]) -> Outcome {
        run(&mut self.command(args), LIMIT)
    }

    /// `oasis ps --json`: one object per run.
    fn ps(&self) -> Vec<serde_json::Value> {
        let out = self.oasis(&["ps", "--json"]);
        out.expect_status(0, "oasis ps --json");
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }

    fn listed(&self, name: &str) -> Option<serde_json::Value> {
        self.ps().into_iter().find(|r| r["name"] == name)
    }

    fn runs_dir(&self) -> PathBuf {
        self.runtime.join("oasis/runs")
    }
}

/// Waits (bounded) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hello() -> String {
    guest_images().path("hello").to_str().unwrap().to_string()
}

fn alive(pid: u64) -> bool {
    // A zombie (killed, not yet reaped by whoever inherited it) is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[test]
fn a_detached_run_is_listed_logged_and_stopped() {
    let user = User::new("detached");
    let hello = hello();
    let out = user.oasis(&["run", &hello, "--target", "spt", "-d", "--name", "greeter", "--", "--ticks", "100000"]);
    out.expect_status(0, "oasis run -d");
    assert_eq!(out.stdout.trim(), "greeter", "run -d prints the name: {out:#?}");

    let table = user.oasis(&["ps"]);
    table.expect_status(0, "oasis ps").expect_stdout("NAME", "ps header").expect_stdout("UPTIME", "ps header");
    let row = table.stdout.lines().find(|l| l.starts_with("greeter ")).unwrap_or_else(|| panic!("{table:#?}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..3], ["hello", "spt"], "{row}");
    let run = user.listed("greeter").unwrap();
    let pid = run["pid"].as_u64().unwrap();
    assert!(alive(pid), "{run}");

    wait_until("the log shows the guest's output", || {
        let out = user.oasis(&["logs", "greeter"]);
        out.status == Some(0) && out.stdout.contains("Hello from Oasis") && out.stdout.contains("tick 1")
    });

    // The name is taken while it runs.
    let again = user.oasis(&["run", &hello, "--target", "spt", "-d", "--name", "greeter"]);
    again.expect_status(1, "the same name twice").expect_stderr("the name greeter is in use by a live run", "twice");

    user.oasis(&["stop", "greeter"]).expect_status(0, "oasis stop");
    assert!(!alive(pid), "oasis stop returned with the run's process still there");
    assert!(user.listed("greeter").is_none(), "ps lists a stopped run");
    assert!(!user.runs_dir().join("greeter/state").exists(), "the state is left after stop");
    // The log is kept until the next run of the name.
    user.oasis(&["logs", "greeter"]).expect_status(0, "logs after stop").expect_stdout("tick 1", "kept log");
    user.oasis(&["stop", "greeter"]).expect_status(1, "stop twice").expect_stderr("no run named greeter", "twice");
}

#[test]
fn logs_follow_a_run_until_it_ends_and_a_run_that_ends_removes_its_state() {
    let user = User::new("follow");
    // A package, built in the foreground: its output is cargo's, on stderr.
    let package = oasis_testkit::workspace_root().join("unikernels/hello");
    let out = user.oasis(&["run", package.to_str().unwrap(), "--target", "spt", "-d", "--", "--ticks", "3"]);
    out.expect_status(0, "oasis run PACKAGE -d");
    // The default name: the package's, and a suffix.
    let name = out.stdout.trim().to_string();
    assert!(name.starts_with("hello-") && name.len() > "hello-".len(), "{out:#?}");
    let followed = user.oasis(&["logs", "-f", &name]);
    followed.expect_status(0, "oasis logs -f").expect_stdout("tick 3", "logs -f to the end");
    wait_until("the ended run's state is removed", || !user.runs_dir().join(&name).join("state").exists());
    assert!(user.listed(&name).is_none());
}

#[test]
fn a_foreground_run_is_listed_too() {
    let user = User::new("foreground");
    let mut child = user
        .command(&["run", &hello(), "--target", "spt", "--", "--ticks", "100000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut name = String::new();
    wait_until("ps lists the foreground run", || {
        let runs = user.ps();
        match runs.first() {
            Some(r) => {
                name = r["name"].as_str().unwrap().to_string();
                r["pid"].as_u64() == Some(u64::from(child.id()))
            }
            None => false,
        }
    });
    assert!(name.starts_with("hello-"), "{name}");
    user.oasis(&["logs", &name])
        .expect_status(1, "logs of a foreground run")
        .expect_stderr("runs in the foreground", "no log");
    user.oasis(&["stop", &name]).expect_status(0, "stop a foreground run");
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(stdout.contains("Hello from Oasis"), "{stdout}");
    assert!(status.code().is_some(), "oasis run was killed ({status}) rather than cleaning up");
    assert!(user.listed(&name).is_none());
    assert!(!user.runs_dir().join(&name).exists(), "a foreground run's directory is left");
}

#[test]
fn a_run_killed_outright_is_pruned_by_ps() {
    let user = User::new("killed");
    user.oasis(&["run", &hello(), "--target", "spt", "-d", "--name", "doomed", "--", "--ticks", "100000"])
        .expect_status(0, "oasis run -d");
    let pid = user.listed("doomed").unwrap()["pid"].as_u64().unwrap();
    let killed = Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    wait_until("the killed run's process is gone", || !alive(pid));
    assert!(user.runs_dir().join("doomed/state").exists(), "SIGKILL leaves the state");
    let table = user.oasis(&["ps"]);
    table.expect_status(0, "oasis ps");
    assert!(!table.stdout.contains("doomed"), "ps lists a killed run: {table:#?}");
    assert!(!user.runs_dir().join("doomed/state").exists(), "ps did not prune the state");
    user.oasis(&["stop", "doomed"]).expect_status(1, "stop a killed run").expect_stderr("no run named doomed", "");
    // The name is free again.
    user.oasis(&["run", &hello(), "--target", "spt", "-d", "--name", "doomed", "--", "--ticks", "100000"])
        .expect_status(0, "the name again");
    user.oasis(&["stop", "doomed", "--time", "5"]).expect_status(0, "stop");
}

#[test]
fn unknown_and_bad_names_are_refused_in_one_line() {
    let user = User::new("names");
    let refused = |args: &[&str], needle: &str| {
        let out = user.oasis(args);
        out.expect_status(1, &format!("{args:?}")).expect_stderr(needle, &format!("{args:?}"));
        assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    };
    refused(&["stop", "nosuch"], "no run named nosuch (oasis ps lists the runs)");
    refused(&["logs", "nosuch"], "no run named nosuch");
    refused(&["logs", "-f", "../etc"], "no run named ../etc");
    refused(&["run", &hello(), "--target", "spt", "-d", "--name", "Not/A/Name"], "--name Not/A/Name: a run name is");
    // A detached run's mistakes are the foreground's.
    refused(&["run", &hello(), "--target", "spt", "-d", "--mem", "1M"], "--mem 1M: must be between 2M and 4G");
    refused(&["run", "/nonexistent/package", "-d"], "no such package directory or image file");
    let out = user.oasis(&["ps"]);
    out.expect_status(0, "ps with no runs");
    assert_eq!(out.stdout.lines().count(), 1, "the header alone: {out:#?}");
}

/// A free TCP port on 127.0.0.1 (free when asked).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn namespace_listed(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn a_detached_service_publishes_its_port_and_stop_removes_its_namespace() {
    let test = "a_detached_service_publishes_its_port_and_stop_removes_its_namespace";
    if let Err(why) = oasis_testkit::netns_available() {
        return skip(test, &why);
    }
    let user = User::new("service");
    let echo = guest_images().path("echo");
    let port = free_port();
    let publish = format!("{port}:7");
    let out = user.oasis(&["run", echo.to_str().unwrap(), "--target", "spt", "-d", "--name", "echo", "-p", &publish]);
    out.expect_status(0, "oasis run echo -d");
    let run = user.listed("echo").unwrap();
    assert_eq!(run["ports"], serde_json::json!([format!("127.0.0.1:{port}->7/tcp")]), "{run}");
    let table = user.oasis(&["ps"]);
    table.expect_stdout(&format!("127.0.0.1:{port}->7/tcp"), "ps shows the published port");
    let namespace = format!("oasis-run-{}", run["pid"]);
    assert!(namespace_listed(&namespace), "{namespace} missing");
    wait_until("the published port echoes", || {
        use std::io::Write;
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 5];
        s.write_all(b"hello").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"hello"
    });
    user.oasis(&["stop", "echo"]).expect_status(0, "oasis stop echo");
    assert!(!namespace_listed(&namespace), "{namespace} is left after stop");
    assert!(user.listed("echo").is_none());
}

/// The Rust block under the README's "visits example" marker.
fn readme_visits_example() -> String {
    let readme = std::fs::read_to_string(oasis_testkit::workspace_root().join("README.md")).unwrap();
    let (_, after) = readme.split_once("<!-- visits example:").expect("the README's visits example marker");
    let (_, code) = after.split_once("```rust\n").expect("a rust block after the marker");
    code.split_once("```").expect("the block's end").0.to_string()
}

/// One line from the visits service on `port`, if it answers.
fn visit(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    (!text.is_empty()).then_some(text)
}

/// The README's walk-through, as a newcomer does it: a package of their
/// own made by `oasis new` outside the checkout, the README's code, a
/// detached run with a published port and a kept disk, listed, logged,
/// stopped, and run again with the disk's data still there.
#[test]
fn the_readmes_own_service_runs_detached_with_a_port_and_a_disk_that_outlives_it() {
    let test = "the_readmes_own_service_runs_detached_with_a_port_and_a_disk_that_outlives_it";
    if let Err(why) = oasis_testkit::netns_available() {
        return skip(test, &why);
    }
    let user = User::new("visits");
    user.oasis(&["new", "visits"]).expect_status(0, "oasis new visits").expect_stdout("created ./visits", "new");
    std::fs::write(user.home.join("visits/src/main.rs"), readme_visits_example()).unwrap();
    let port = free_port();
    let publish = format!("{port}:8080");
    let start = |what: &str| {
        user.oasis(&["run", "-d", "--name", "visits", "-p", &publish, "--target", "spt", "visits"])
            .expect_status(0, what);
    };
    start("oasis run -d visits (a first build of a package of one's own)");
    let run = user.listed("visits").expect("visits in oasis ps");
    assert_eq!(run["ports"], serde_json::json!([format!("127.0.0.1:{port}->8080/tcp")]), "{run}");
    let mut first = None;
    wait_until("the published port answers", || {
        first = visit(port);
        first.is_some()
    });
    assert_eq!(first.as_deref(), Some("visit 1\n"));
    assert_eq!(visit(port).as_deref(), Some("visit 2\n"));
    user.oasis(&["logs", "visits"]).expect_status(0, "logs").expect_stdout("visits: 0 so far", "the log");
    let disks = user.oasis(&["disks", "ls"]);
    disks.expect_status(0, "disks ls").expect_stdout("visits-storage", "the kept disk");
    assert!(user.data.join("oasis/disks/visits-storage.img").is_file(), "{disks:#?}");
    user.oasis(&["stop", "visits"]).expect_status(0, "oasis stop visits");
    assert!(user.listed("visits").is_none(), "listed after stop");

    start("oasis run -d visits again");
    let mut again = None;
    wait_until("the port answers again", || {
        again = visit(port);
        again.is_some()
    });
    assert_eq!(again.as_deref(), Some("visit 3\n"), "the count did not outlive the run");
    user.oasis(&["stop", "visits", "--time", "0"]).expect_status(0, "oasis stop --time 0");
}
