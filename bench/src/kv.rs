//! Key-value store: the kv unikernel against `redis-server`, both driven
//! by `redis-benchmark -t set,get` (50 clients, 3-byte values, one key),
//! plain and pipelined, every server running for the whole test and the
//! runs interleaved round by round (kv, Redis, kv, Redis, …):
//!
//! - durable: kv on unix (loopback, Linux's TCP) with `--storage disk
//!   --durability always` on a sparse file, against Redis with
//!   `--appendonly yes --appendfsync always` on the same file system;
//! - in memory: kv `--storage memory` against Redis with no persistence;
//! - kv on spt behind a TAP (our own TCP stack), both modes, with
//!   `redis-benchmark` inside the namespace; and Redis reached through a
//!   veth pair between two namespaces, the closest Linux path to that.
//!
//! Then hvt, when there is `/dev/kvm`: VM exits per durable SET, from two
//! `--stats` runs of the same length (one idle, one serving SETs from a
//! single client), so boot and idle exits cancel out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oasis_testkit::{NetNs, Running, netns_available, run};

use super::block::fs_type;
use super::net::{tap_ns, veth_pair};
use super::s;

/// How long a server may take to say it is ready.
const READY: Duration = Duration::from_secs(60);
/// The longest one `redis-benchmark` run may take before it counts as a stall.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// The key `redis-benchmark` sets and gets when not given `-r`.
const KEY: &str = "key:__rand_int__";

/// Which store, and how durable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Durable,
    Memory,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Durable => "durable (fsync per write)",
            Mode::Memory => "in memory",
        }
    }
}

/// How the client reaches the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// The host's loopback, Linux's TCP on both ends.
    Loopback,
    /// A TAP into the spt tender: our own TCP stack in the guest.
    Tap,
    /// A veth pair between two namespaces, Linux's TCP on both ends.
    Veth,
}

impl Link {
    fn label(self) -> &'static str {
        match self {
            Link::Loopback => "loopback",
            Link::Tap => "TAP (own TCP stack)",
            Link::Veth => "veth",
        }
    }
}

/// One server under test and where its client runs.
struct Peer {
    redis: bool,
    mode: Mode,
    link: Link,
    /// Index into `Bed::namespaces` of the namespace the client runs in.
    client_ns: Option<usize>,
    host: String,
    port: u16,
    /// Index into `Bed::servers`.
    server: usize,
}

impl Peer {
    /// A server on 127.0.0.1, its client in the host's namespace.
    fn on_loopback(redis: bool, mode: Mode, port: u16, server: usize) -> Peer {
        Peer { redis, mode, link: Link::Loopback, client_ns: None, host: "127.0.0.1".into(), port, server }
    }

    fn name(&self) -> String {
        let who = match (self.redis, self.link) {
            (true, _) => "Redis",
            (false, Link::Tap) => "kv on spt",
            (false, _) => "kv (unix)",
        };
        format!("{who}, {}", self.link.label())
    }
}

/// Everything the test made, torn down in field order when dropped:
/// servers first (killed), then namespaces, then the work directory.
#[derive(Default)]
struct Bed {
    servers: Vec<Running>,
    namespaces: Vec<NetNs>,
    dir: Option<WorkDir>,
}

/// A directory removed with its contents when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Bed {
    fn dir(&self) -> &Path {
        self.dir.as_ref().map(|d| d.0.as_path()).unwrap_or(Path::new("."))
    }

    fn command(&self, ns: Option<usize>, program: &str) -> Command {
        match ns {
            Some(i) => self.namespaces[i].command(program),
            None => Command::new(program),
        }
    }

    /// Starts `program` (inside namespace `ns`, if any) and waits until it
    /// prints `ready`; returns its index in `servers`.
    fn start(&mut self, ns: Option<usize>, program: &str, args: &[String], ready: &str) -> Result<usize> {
        let mut c = self.command(ns, program);
        c.args(args);
        // Kept before waiting, so it is killed on every way out.
        self.servers.push(Running::spawn(&mut c));
        let i = self.servers.len() - 1;
        wait_for(&mut self.servers[i], ready, READY).with_context(|| format!("starting {program}"))?;
        Ok(i)
    }

    /// A sparse file of `size` bytes in the work directory.
    fn disk(&self, name: &str, size: u64) -> Result<PathBuf> {
        let path = self.dir().join(name);
        std::fs::File::create(&path)?.set_len(size)?;
        Ok(path)
    }
}

/// Waits until `server` prints `needle`; returns everything it printed.
/// An error (not a panic: release builds abort, skipping the guards) if it
/// exits first or `limit` runs out.
fn wait_for(server: &mut Running, needle: &str, limit: Duration) -> Result<String> {
    let start = Instant::now();
    loop {
        let out = server.output();
        if out.contains(needle) {
            return Ok(out);
        }
        if !server.is_running() {
            std::thread::sleep(Duration::from_millis(100));
            bail!("exited before printing {needle:?}:\n{}", server.output());
        }
        if start.elapsed() > limit {
            bail!("no {needle:?} within {limit:?}:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One test's figures from `redis-benchmark --csv`.
#[derive(Clone, Copy, Default)]
struct Figures {
    rps: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// One `redis-benchmark` run: (SET, GET).
fn benchmark(bed: &Bed, peer: &Peer, requests: u64, pipeline: u32) -> Result<(Figures, Figures)> {
    let mut c = bed.command(peer.client_ns, "redis-benchmark");
    c.args(["-h", &peer.host, "-p", &peer.port.to_string(), "-t", "set,get", "-c", "50", "-d", "3", "--csv"]);
    c.args(["-n", &requests.to_string(), "-P", &pipeline.to_string()]);
    let out = run(&mut c, RUN_LIMIT);
    if out.timed_out || out.status != Some(0) {
        bail!(
            "redis-benchmark against {} ({}){}: {}{}",
            peer.name(),
            peer.mode.label(),
            if out.timed_out { " stalled" } else { " failed" },
            out.stdout,
            out.stderr
        );
    }
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let figures = |test: &str| -> Result<Figures> {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("\"{test}\",")))
            .with_context(|| format!("no {test} line from redis-benchmark: {}", out.stdout))?;
        let v: Vec<f64> = line.split(',').skip(1).filter_map(|f| f.trim_matches('"').parse().ok()).collect();
        if v.len() < 7 {
            bail!("unexpected redis-benchmark line: {line}");
        }
        Ok(Figures { rps: v[0], p99_ms: v[5], max_ms: v[6] })
    };
    Ok((figures("SET")?, figures("GET")?))
}

/// `redis-cli ARGS` against `peer`, its output trimmed.
fn cli(bed: &Bed, peer: &Peer, args: &[&str]) -> String {
    let mut c = bed.command(peer.client_ns, "redis-cli");
    c.args(["-h", &peer.host, "-p", &peer.port.to_string()]).args(args);
    let out = run(&mut c, Duration::from_secs(10));
    format!("{}{}", out.stdout, out.stderr).trim().to_string()
}

fn available(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn load() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn redis_args(port: u16, mode: Mode, dir: &Path) -> Vec<String> {
    let mut a: Vec<String> =
        vec!["--port".into(), port.to_string(), "--dir".into(), s(dir), "--save".into(), "".into()];
    // Reached from another namespace without a password.
    a.extend(["--protected-mode".into(), "no".into()]);
    match mode {
        Mode::Durable => a.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from)),
        Mode::Memory => a.extend(["--appendonly", "no"].map(String::from)),
    }
    a
}

fn kv_mode_args(mode: Mode) -> Vec<String> {
    match mode {
        Mode::Durable => vec!["--storage", "disk", "--durability", "always"],
        Mode::Memory => vec!["--storage", "memory"],
    }
    .into_iter()
    .map(String::from)
    .collect()
}

/// Median, min and max.
fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The figures of every round, per peer and pipeline depth.
struct Results {
    /// `[peer][depth]` → one (SET, GET) per round.
    runs: Vec<Vec<Vec<(Figures, Figures)>>>,
}

impl Results {
    fn median_rps(&self, peer: usize, depth: usize, set: bool) -> f64 {
        let v: Vec<f64> = self.runs[peer][depth].iter().map(|(s, g)| if set { s.rps } else { g.rps }).collect();
        spread(&v).0
    }

    fn rps_cell(&self, peer: usize, depth: usize, set: bool) -> String {
        let v: Vec<f64> = self.runs[peer][depth].iter().map(|(s, g)| if set { s.rps } else { g.rps }).collect();
        let (m, lo, hi) = spread(&v);
        format!("{} ({}–{})", thousands(m), thousands(lo), thousands(hi))
    }

    /// Median p99 and worst max latency over the rounds.
    fn latency_cell(&self, peer: usize, depth: usize, set: bool) -> String {
        let f: Vec<Figures> = self.runs[peer][depth].iter().map(|(s, g)| if set { *s } else { *g }).collect();
        let p99 = spread(&f.iter().map(|x| x.p99_ms).collect::<Vec<_>>()).0;
        let max = f.iter().map(|x| x.max_ms).fold(0.0, f64::max);
        format!("{p99:.2} / {max:.1}")
    }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `oasis-bench kv`.
pub fn kv(
    requests: u64,
    pipelined_requests: u64,
    pipeline: u32,
    rounds: usize,
    hvt_sets: u64,
    dir: Option<PathBuf>,
) -> Result<()> {
    if requests == 0 || pipelined_requests == 0 || pipeline == 0 || rounds == 0 {
        bail!("--requests, --pipelined-requests, --pipeline and --rounds must be at least 1");
    }
    if !available("redis-server") || !available("redis-benchmark") || !available("redis-cli") {
        bail!("redis-server, redis-benchmark and redis-cli are needed: apt-get install redis-server redis-tools");
    }
    let started = Instant::now();
    let load_before = load();
    let oasis = super::build_oasis()?;
    let kv_unix = super::build_image(&oasis, "unikernels/kv", "unix")?;
    let kv_spt = super::build_image(&oasis, "unikernels/kv", "spt")?;
    let redis_version = Command::new("redis-server").arg("--version").output()?;
    let redis_version = String::from_utf8_lossy(&redis_version.stdout);
    let redis_version = redis_version.split_whitespace().find_map(|w| w.strip_prefix("v=")).unwrap_or("?").to_string();

    let base = dir.unwrap_or_else(std::env::temp_dir);
    let work = base.join(format!("oasis-bench-kv-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut bed = Bed { dir: Some(WorkDir(work.clone())), ..Bed::default() };
    let mut peers: Vec<Peer> = Vec::new();

    // Loopback: kv (unix) and Redis, each mode.
    for mode in [Mode::Durable, Mode::Memory] {
        let disk = bed.disk(&format!("kv-unix-{}.img", peers.len()), 256 << 20)?;
        let port = free_port()?;
        let mut args = vec![format!("--block:storage={}", disk.display()), "--port".into(), port.to_string()];
        args.extend(kv_mode_args(mode));
        let server = bed.start(None, &s(&kv_unix), &args, "listening on port")?;
        peers.push(Peer::on_loopback(false, mode, port, server));

        let rdir = work.join(format!("redis-{}", peers.len()));
        std::fs::create_dir_all(&rdir)?;
        let port = free_port()?;
        let server = bed.start(None, "redis-server", &redis_args(port, mode, &rdir), "Ready to accept connections")?;
        peers.push(Peer::on_loopback(true, mode, port, server));
    }

    // Namespaces: kv on spt behind a TAP, Redis behind a veth pair.
    let netns = netns_available();
    if let Err(why) = &netns {
        eprintln!("no namespaces here ({why}); the spt and veth rows are left out");
    } else {
        for mode in [Mode::Durable, Mode::Memory] {
            let disk = bed.disk(&format!("kv-spt-{}.img", peers.len()), 256 << 20)?;
            bed.namespaces.push(tap_ns()?);
            let ns = bed.namespaces.len() - 1;
            let mut args: Vec<String> =
                vec!["spt".into(), s(&kv_spt), "--mem=128M".into(), "--net:service=tap0".into()];
            args.push(format!("--block:storage={}", disk.display()));
            args.extend(["--", "--ipv4", "10.0.0.2/24", "--port", "6379"].map(String::from));
            args.extend(kv_mode_args(mode));
            let server = bed.start(Some(ns), &s(&oasis), &args, "listening on port")?;
            peers.push(Peer {
                redis: false,
                mode,
                link: Link::Tap,
                client_ns: Some(ns),
                host: "10.0.0.2".into(),
                port: 6379,
                server,
            });
        }
        let (a, b) = veth_pair()?;
        bed.namespaces.push(a);
        bed.namespaces.push(b);
        let (client, server_ns) = (bed.namespaces.len() - 2, bed.namespaces.len() - 1);
        for (mode, port) in [(Mode::Durable, 6379), (Mode::Memory, 6380)] {
            let rdir = work.join(format!("redis-{}", peers.len()));
            std::fs::create_dir_all(&rdir)?;
            let server = bed.start(
                Some(server_ns),
                "redis-server",
                &redis_args(port, mode, &rdir),
                "Ready to accept connections",
            )?;
            peers.push(Peer {
                redis: true,
                mode,
                link: Link::Veth,
                client_ns: Some(client),
                host: "10.9.1.2".into(),
                port,
                server,
            });
        }
    }

    let depths = [1, pipeline];
    let depth_requests = [requests, pipelined_requests];
    // Warm-up, not counted: every peer, every depth, a tenth of a run.
    for peer in &peers {
        for (d, &depth) in depths.iter().enumerate() {
            benchmark(&bed, peer, (depth_requests[d] / 10).max(1000), depth)?;
        }
    }
    let mut results = Results { runs: vec![vec![Vec::new(); depths.len()]; peers.len()] };
    for _ in 0..rounds {
        for (d, &depth) in depths.iter().enumerate() {
            for (i, peer) in peers.iter().enumerate() {
                results.runs[i][d].push(benchmark(&bed, peer, depth_requests[d], depth)?);
            }
        }
    }
    // Every server is still up and holds the value the clients set.
    let mut notes = Vec::new();
    for peer in &peers {
        let got = cli(&bed, peer, &["GET", KEY]);
        // redis-benchmark's 3-byte value ("VXK" in Redis 7).
        if got.len() != 3 || got.contains("ERR") {
            notes.push(format!("{}, {}: GET {KEY} after the runs gave {got:?}", peer.name(), peer.mode.label()));
        }
    }
    for (i, server) in bed.servers.iter_mut().enumerate() {
        let peer = peers.iter().find(|p| p.server == i);
        let name = peer.map(|p| format!("{} ({})", p.name(), p.mode.label())).unwrap_or_default();
        if !server.is_running() {
            notes.push(format!("{name} is no longer running"));
        }
        for line in server.output().lines() {
            let l = line.to_ascii_lowercase();
            // Redis's warning about vm.overcommit_memory concerns forked
            // saves, which these runs do not make.
            if l.contains("overcommit") {
                continue;
            }
            if l.contains("warn") || l.contains("error") || l.contains("rewriting started") || l.contains("compact") {
                notes.push(format!("{name}: {}", line.trim()));
            }
        }
    }
    let load_after = load();

    println!(
        "## Key-value store: redis-benchmark -t set,get -c 50 -d 3 (one key), {rounds} rounds interleaved; \
         requests/s, median (min–max)\n"
    );
    println!(
        "Files on {} ({}); Redis {redis_version}; load average before {load_before}, after {load_after}; \
         {requests} requests per test unpipelined, {pipelined_requests} with -P {pipeline}.\n",
        fs_type(&work),
        base.display()
    );
    let reference = |mode: Mode, link: Link| peers.iter().position(|p| p.redis && p.mode == mode && p.link == link);
    for (d, &depth) in depths.iter().enumerate() {
        println!("### -P {depth}\n");
        println!(
            "| mode | server | SET req/s | GET req/s | SET kv/Redis loopback | GET kv/Redis loopback | \
             SET kv/Redis veth | GET kv/Redis veth | SET p99 / max ms | GET p99 / max ms |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for mode in [Mode::Durable, Mode::Memory] {
            for (i, peer) in peers.iter().enumerate().filter(|(_, p)| p.mode == mode) {
                let ratio = |link: Link, set: bool| -> String {
                    match reference(mode, link) {
                        Some(r) if !peer.redis && (link == Link::Loopback || peer.link == Link::Tap) => {
                            format!("{:.2}", results.median_rps(i, d, set) / results.median_rps(r, d, set))
                        }
                        _ => "—".into(),
                    }
                };
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    mode.label(),
                    peer.name(),
                    results.rps_cell(i, d, true),
                    results.rps_cell(i, d, false),
                    ratio(Link::Loopback, true),
                    ratio(Link::Loopback, false),
                    ratio(Link::Veth, true),
                    ratio(Link::Veth, false),
                    results.latency_cell(i, d, true),
                    results.latency_cell(i, d, false),
                );
            }
        }
        println!();
    }
    println!("p99: median over the rounds of redis-benchmark's 99th percentile; max: the worst over all rounds.");
    if let (Some(k), Some(r)) = (
        peers.iter().position(|p| !p.redis && p.mode == Mode::Durable && p.link == Link::Loopback),
        reference(Mode::Durable, Link::Loopback),
    ) {
        let g_k = peers.iter().position(|p| !p.redis && p.mode == Mode::Memory && p.link == Link::Loopback);
        let g_r = reference(Mode::Memory, Link::Loopback);
        let get = |a: usize, b: usize| results.median_rps(a, 0, false) / results.median_rps(b, 0, false);
        let set = results.median_rps(k, 0, true) / results.median_rps(r, 0, true);
        let get_d = get(k, r);
        let get_m = g_k.zip(g_r).map(|(a, b)| get(a, b)).unwrap_or(f64::NAN);
        let met = |x: f64| if x >= 1.0 { "met" } else { "not met" };
        println!(
            "\nGoal, unix target, -P 1: durable SET {set:.2}× Redis ({}); GET {get_d:.2}× Redis durable, \
             {get_m:.2}× Redis in memory ({}).",
            met(set),
            met(get_d.min(get_m))
        );
    }
    if notes.is_empty() {
        println!("\nEvery server still running and serving the value set; no warnings or errors in their output.");
    } else {
        println!("\nNotes:");
        for n in &notes {
            println!("- {n}");
        }
    }
    println!("\nWall time of the comparison: {:.0} s.", started.elapsed().as_secs_f64());
    drop(bed);

    if hvt_sets == 0 {
        return Ok(());
    }
    if !Path::new("/dev/kvm").exists() || netns.is_err() {
        println!("\nNo /dev/kvm or no namespaces: hvt left out.");
        return Ok(());
    }
    hvt_exits(&oasis, &kv_spt, &base, hvt_sets)
}

/// The exits of one `oasis hvt kv --stats` run of `secs`, after `sets`
/// durable SETs from one client (none: an idle run), by kind.
fn hvt_run(oasis: &Path, kv: &Path, dir: &Path, sets: u64, secs: u64) -> Result<Vec<(String, u64)>> {
    let disk = dir.join(format!("oasis-bench-kv-hvt-{}.img", std::process::id()));
    let _guard = TempFile(disk.clone());
    // Opening a store reads up to one record past its end: small records
    // keep boot quick where KVM is emulated.
    std::fs::File::create(&disk)?.set_len(16 << 20)?;
    let ns = tap_ns()?;
    let mut c = ns.command(&s(oasis));
    c.args(["hvt", &s(kv), "--mem=64M", "--net:service=tap0", "--stats", &format!("--timeout={secs}s")]);
    c.arg(format!("--block:storage={}", disk.display()));
    c.args(["--", "--ipv4", "10.0.0.2/24", "--max-value", "16384"]);
    let mut guest = Running::spawn(&mut c);
    wait_for(&mut guest, "listening on port", Duration::from_secs(secs))?;
    if sets > 0 {
        let mut b = ns.command("redis-benchmark");
        b.args(["-h", "10.0.0.2", "-t", "set", "-c", "1", "-d", "3", "--csv", "-n", &sets.to_string()]);
        let out = run(&mut b, Duration::from_secs(secs));
        if out.timed_out || out.status != Some(0) || !out.stdout.contains("\"SET\"") {
            bail!("redis-benchmark against kv on hvt: {}{}", out.stdout, out.stderr);
        }
    }
    let out = wait_for(&mut guest, "vm-exits: ", Duration::from_secs(secs + 30))?;
    if !out.contains("--timeout") {
        bail!("kv on hvt stopped before its --timeout: {out}");
    }
    let mut kinds: Vec<(String, u64)> = Vec::new();
    let mut in_stats = false;
    for line in out.lines() {
        if line.starts_with("guest-touched-kib") {
            in_stats = true;
            continue;
        }
        if let Some(total) = line.strip_prefix("vm-exits: ") {
            kinds.push(("vm-exits".into(), total.trim().parse().unwrap_or(0)));
            break;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if in_stats && f.len() == 2 && line.starts_with("  ") {
            kinds.push((f[0].to_string(), f[1].parse().unwrap_or(0)));
        }
    }
    Ok(kinds)
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// VM exits per durable SET on hvt: an idle run and a run serving `sets`
/// SETs, the same length; the difference, by kind, per SET.
fn hvt_exits(oasis: &Path, kv: &Path, dir: &Path, sets: u64) -> Result<()> {
    // Boot takes about 1.5 s here and a SET about 20 ms (emulated).
    let secs = 8 + sets / 25;
    let idle = hvt_run(oasis, kv, dir, 0, secs)?;
    let busy = hvt_run(oasis, kv, dir, sets, secs)?;
    println!(
        "\n## hvt (software-emulated KVM): VM exits per durable SET, {sets} SETs from one client \
         (redis-benchmark -c 1 -n {sets}); two {secs} s runs, idle and serving, subtracted\n"
    );
    println!("| exit | idle run | serving run | per SET |");
    println!("|---|---|---|---|");
    for (kind, n) in &busy {
        let before = idle.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
        println!("| {kind} | {before} | {n} | {:.2} |", (*n as f64 - before as f64) / sets as f64);
    }
    Ok(())
}
