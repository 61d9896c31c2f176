//! The runs users manage: every `oasis run` (foreground or `-d`) has a
//! name and a directory under the user's runtime directory,
//! `$XDG_RUNTIME_DIR/oasis/runs/NAME/` (`/run/oasis/runs` for root without
//! `XDG_RUNTIME_DIR`, else `/tmp/oasis-UID/runs`), holding:
//!
//! - `lock`: held (flock) by the run's `oasis run` process for its whole
//!   life: taking a name is taking its lock, so two runs never share one;
//! - `state`: JSON (pid, process start time, image, target, published
//!   ports, start date, log), written once the run has started and removed
//!   when it ends;
//! - `log`: a detached run's console and messages. It is kept after the run
//!   ends (`oasis logs` still shows why it stopped) until the next run of
//!   that name; a foreground run has none (its output is the terminal).
//!
//! A run killed with SIGKILL cannot remove its state: `oasis ps` (and
//! `logs`, `stop`, a new run of the name) prunes a state whose process is
//! gone, or is another process under a reused pid (the start time in
//! `/proc/PID/stat` differs).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Where the runs' directories are.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("oasis/runs");
    }
    let uid = uid();
    if uid == Some(0) {
        return PathBuf::from("/run/oasis/runs");
    }
    PathBuf::from(format!("/tmp/oasis-{}/runs", uid.unwrap_or(0)))
}

/// This process's effective user id, from `/proc/self/status`.
fn uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The directory of run `name`, made if need be (private to the user), in
/// a runs directory that must be the user's own: under `/tmp` another
/// user could have made it first.
fn make_dir(name: &str) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let root = root();
    let dir = root.join(name);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("making {}", dir.display()))?;
    let owner = fs::metadata(&root).with_context(|| format!("reading {}", root.display()))?.uid();
    if uid().is_some_and(|me| me != owner) {
        bail!(
            "{} belongs to another user (uid {owner}): set XDG_RUNTIME_DIR to a directory of your own",
            root.display()
        );
    }
    Ok(dir)
}

/// Whether `name` is a run name: 1 to 64 of a-z, 0-9, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Refuses a `--name` that is not a run name.
pub fn check_name(name: &str) -> Result<()> {
    if !valid_name(name) {
        bail!("--name {name}: a run name is 1 to 64 of a-z, 0-9, _ and -");
    }
    Ok(())
}

/// The directory of a detached run `name`, made for its log.
pub fn detached_dir(name: &str) -> Result<PathBuf> {
    check_name(name)?;
    make_dir(name)
}

/// A fresh name for a run of `base` (a package or image name): `base`
/// made a run name, and a short suffix no run has.
pub fn fresh_name(base: &str) -> String {
    let mut stem: String = base
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' { c } else { '-' })
        .take(48)
        .collect();
    if stem.is_empty() {
        stem = "run".into();
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let mut seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(nanos);
    loop {
        let name = format!("{stem}-{:04x}", seed & 0xffff);
        if !root().join(&name).join("state").exists() {
            return name;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 7;
    }
}

/// The start time of process `pid` (clock ticks since boot, field 22 of
/// `/proc/PID/stat`), or `None` when there is no such process or it has
/// died and waits to be reaped (a zombie is not a run).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its last ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// A run as its state file records it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Its name.
    pub name: String,
    /// The `oasis run` process that supervises it.
    pub pid: u32,
    /// That process's start time, against pid reuse.
    pub start_time: u64,
    /// The package or image name.
    pub image: String,
    /// The image file.
    pub image_path: String,
    /// hvt, spt or unix.
    pub target: String,
    /// Published ports, as `IP:HOST->GUEST/PROTO`.
    pub ports: Vec<String>,
    /// Seconds since the epoch when it started.
    pub started: u64,
    /// Whether it runs detached (its output in the log).
    pub detached: bool,
}

impl RunInfo {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "pid": self.pid,
            "start_time": self.start_time,
            "image": self.image,
            "image_path": self.image_path,
            "target": self.target,
            "ports": self.ports,
            "started": self.started,
            "detached": self.detached,
        })
    }

    fn from_json(v: &Value) -> Option<RunInfo> {
        Some(RunInfo {
            name: v.get("name")?.as_str()?.to_string(),
            pid: u32::try_from(v.get("pid")?.as_u64()?).ok()?,
            start_time: v.get("start_time")?.as_u64()?,
            image: v.get("image")?.as_str()?.to_string(),
            image_path: v.get("image_path").and_then(Value::as_str).unwrap_or_default().to_string(),
            target: v.get("target")?.as_str()?.to_string(),
            ports: v.get("ports")?.as_array()?.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
            started: v.get("started")?.as_u64()?,
            detached: v.get("detached").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// Whether its process is still the one that started it.
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A name taken by this process for its run: the directory and its lock,
/// held until dropped, which removes the state (and the directory, when
/// there is no log to keep).
#[derive(Debug)]
pub struct Registration {
    dir: PathBuf,
    name: String,
    lock: File,
}

/// The state file of run `name`, if any and readable.
fn read_state(dir: &Path) -> Option<RunInfo> {
    let text = fs::read_to_string(dir.join("state")).ok()?;
    RunInfo::from_json(&serde_json::from_str(&text).ok()?)
}

impl Registration {
    /// Takes `name`; refused when a live run has it.
    pub fn take(name: &str) -> Result<Registration> {
        check_name(name)?;
        let dir = make_dir(name)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .with_context(|| format!("opening {}", dir.join("lock").display()))?;
        // `ps` takes the lock for a moment to prune: a few tries.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    if let Some(info) = read_state(&dir).filter(RunInfo::alive) {
                        bail!(
                            "the name {name} is in use by a live run (pid {}): pick another with --name, or oasis stop {name}",
                            info.pid
                        );
                    }
                    if Instant::now() > deadline {
                        bail!("the name {name} is in use by a run that is starting: pick another with --name");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", dir.join("lock").display()));
                }
            }
        }
        // Whatever is left is a run's that is gone.
        let _ = fs::remove_file(dir.join("state"));
        Ok(Registration { dir, name: name.to_string(), lock })
    }

    /// The log file of a detached run of this name.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Removes the log of an earlier run of the name (a foreground run has
    /// none).
    pub fn drop_old_log(&self) {
        let _ = fs::remove_file(self.log_path());
    }

    /// Records the run as started, supervised by this process.
    pub fn started(
        &self,
        image: &str,
        image_path: &Path,
        target: &str,
        ports: Vec<String>,
        detached: bool,
    ) -> Result<()> {
        let pid = std::process::id();
        let info = RunInfo {
            name: self.name.clone(),
            pid,
            start_time: start_time(pid).context("reading this process's start time")?,
            image: image.to_string(),
            image_path: image_path.display().to_string(),
            target: target.to_string(),
            ports,
            started: now(),
            detached,
        };
        let tmp = self.dir.join("state.tmp");
        fs::write(&tmp, info.to_json().to_string()).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, self.dir.join("state")).with_context(|| format!("writing {}", self.dir.display()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.dir.join("state"));
        if !self.log_path().exists() {
            let _ = fs::remove_file(self.dir.join("lock"));
            let _ = fs::remove_dir(&self.dir);
        }
        let _ = self.lock.unlock();
    }
}

/// Removes the state of the run in `dir` when its process is gone, under
/// its lock (so a new run of the name is never mistaken for it).
fn prune(dir: &Path) {
    let Ok(lock) = OpenOptions::new().write(true).open(dir.join("lock")) else {
        // No lock: not a run's directory, or one being made or removed.
        if read_state(dir).is_some_and(|i| !i.alive()) {
            let _ = fs::remove_file(dir.join("state"));
        }
        return;
    };
    if lock.try_lock().is_err() {
        return;
    }
    if let Some(info) = read_state(dir).filter(|i| !i.alive()) {
        // Its namespace too, unless the pid is another process's now
        // (which might be a run of its own, with that very namespace).
        let namespace = crate::run::namespace_of(info.pid);
        if start_time(info.pid).is_none()
            && crate::run::namespace_exists(&namespace)
            && let Err(e) = crate::run::remove_namespace(&namespace)
        {
            eprintln!("oasis: warning: removing the namespace of the killed run {}: {e:#}", info.name);
        }
        let _ = fs::remove_file(dir.join("state"));
        if !dir.join("log").exists() {
            let _ = fs::remove_file(dir.join("lock"));
            let _ = fs::remove_dir(dir);
        }
    }
    let _ = lock.unlock();
}

/// The live runs, by name; stale states are pruned on the way.
pub fn live() -> Vec<RunInfo> {
    let Ok(entries) = fs::read_dir(root()) else { return Vec::new() };
    let mut runs: Vec<RunInfo> = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        match read_state(&dir) {
            Some(info) if info.alive() => runs.push(info),
            Some(_) => prune(&dir),
            None => {}
        }
    }
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    runs
}

/// The live run `name`, or a clear refusal.
fn find(name: &str) -> Result<RunInfo> {
    check_name(name).map_err(|_| anyhow::anyhow!("no run named {name}: run names are a-z, 0-9, _ and -"))?;
    let dir = root().join(name);
    match read_state(&dir) {
        Some(info) if info.alive() => Ok(info),
        Some(_) => {
            prune(&dir);
            bail!("no run named {name} is running (it was killed; its state is now removed)")
        }
        None if dir.join("log").exists() => bail!("no run named {name} is running (it has ended; oasis logs {name})"),
        None => bail!("no run named {name} (oasis ps lists the runs)"),
    }
}

/// A duration as `ps` shows it.
fn uptime(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        s => format!("{}d{:02}h", s / 86400, (s / 3600) % 24),
    }
}

/// `oasis ps`.
pub fn ps(as_json: bool) -> Result<()> {
    let runs = live();
    let now = now();
    let mut out = std::io::stdout().lock();
    if as_json {
        let list: Vec<Value> = runs
            .iter()
            .map(|r| {
                let mut v = r.to_json();
                v["uptime"] = json!(now.saturating_sub(r.started));
                v
            })
            .collect();
        writeln!(out, "{}", Value::Array(list))?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.image.clone(),
                r.target.clone(),
                r.pid.to_string(),
                if r.ports.is_empty() { "-".into() } else { r.ports.join(",") },
                uptime(now.saturating_sub(r.started)),
            ]
        })
        .collect();
    let header = ["NAME", "IMAGE", "TARGET", "PID", "PORTS", "UPTIME"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// `oasis logs NAME [-f]`.
pub fn logs(name: &str, follow: bool) -> Result<()> {
    check_name(name).map_err(|_| anyhow::anyhow!("no run named {name}: run names are a-z, 0-9, _ and -"))?;
    let dir = root().join(name);
    let path = dir.join("log");
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(_) => {
            let info = find(name)?;
            if !info.detached {
                bail!("{name} runs in the foreground: its output goes to its own terminal (oasis run -d keeps a log)");
            }
            bail!("{name}: no log at {}", path.display());
        }
    };
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut copy = |file: &mut File, out: &mut std::io::StdoutLock<'_>| -> Result<usize> {
        let mut total = 0;
        loop {
            let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                out.flush()?;
                return Ok(total);
            }
            total += n;
            out.write_all(&buf[..n])?;
        }
    };
    copy(&mut file, &mut out)?;
    if !follow {
        return Ok(());
    }
    // Follows while the run that writes this log lives; a new run of the
    // name starts a new log (the file is replaced), which is followed too.
    loop {
        let running = read_state(&dir).filter(RunInfo::alive);
        let n = copy(&mut file, &mut out)?;
        if running.is_none() {
            copy(&mut file, &mut out)?;
            return Ok(());
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(200));
            // Truncated or replaced by another run of the name.
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len < file.stream_position().unwrap_or(0) {
                file.seek(SeekFrom::Start(0))?;
            }
        }
    }
}

/// How long after the grace a run has to remove its namespace and state
/// before `oasis stop` kills it too.
const RUN_CLEANUP: Duration = Duration::from_secs(2);

/// `oasis stop NAME [--time SECONDS]`.
pub fn stop(name: &str, grace: u64) -> Result<()> {
    let info = find(name)?;
    let namespace = crate::run::namespace_of(info.pid);
    // The run gets SIGTERM with the grace it is to give its tender (a
    // queued signal's value), kills the tender when that runs out and
    // removes its namespace; the run itself is killed only if it is still
    // there a little later.
    let signal = |s: libc::c_int| -> Result<()> {
        // Checked again just before: the pid must still be that run's.
        if !info.alive() {
            return Ok(());
        }
        let sent = match s {
            libc::SIGTERM => oasis_sys::queue_signal(info.pid, s, usize::try_from(grace).unwrap_or(usize::MAX)),
            _ => oasis_sys::signal_process(info.pid, s),
        };
        match sent {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                Err(e).with_context(|| format!("signalling {name} (pid {})", info.pid))
            }
            _ => Ok(()),
        }
    };
    signal(libc::SIGTERM)?;
    let gone = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while info.alive() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    };
    if !gone(Duration::from_secs(grace).saturating_add(RUN_CLEANUP)) {
        eprintln!("oasis: {name} did not stop within {grace}s: killing it");
        signal(libc::SIGKILL)?;
        // SIGKILL takes the tender with it (it dies with its parent).
        if !gone(Duration::from_secs(30)) {
            bail!("{name} (pid {}) is still there after SIGKILL", info.pid);
        }
    }
    // A killed run leaves its namespace and state: removed here. The
    // namespace of a run that stopped itself is gone already.
    if crate::run::namespace_exists(&namespace) {
        crate::run::remove_namespace(&namespace)?;
    }
    prune(&root().join(name));
    println!("{name}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uptimes() {
        assert!(valid_name("www-1a2b") && valid_name("a_b"));
        assert!(!valid_name("") && !valid_name("Www") && !valid_name("a/b") && !valid_name("a.b"));
        let n = fresh_name("My.Unikernel");
        assert!(n.starts_with("my-unikernel-") && valid_name(&n), "{n}");
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(125), "2m05s");
        assert_eq!(uptime(3 * 3600 + 60), "3h01m");
    }

    #[test]
    fn this_process_has_a_start_time_and_state_round_trips() {
        let pid = std::process::id();
        let t = start_time(pid).unwrap();
        let info = RunInfo {
            name: "x".into(),
            pid,
            start_time: t,
            image: "hello".into(),
            image_path: "/img/hello".into(),
            target: "spt".into(),
            ports: vec!["127.0.0.1:8080->80/tcp".into()],
            started: 1,
            detached: true,
        };
        let back = RunInfo::from_json(&info.to_json()).unwrap();
        assert!(back.alive());
        assert_eq!(back.ports, info.ports);
        assert!(!RunInfo { start_time: t + 1, ..back }.alive());
    }
}
