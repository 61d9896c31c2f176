//! Web serving: the www unikernel against nginx, both serving the same
//! files (1 KiB and 100 KiB), driven by `wrk` side by side in one run,
//! rounds interleaved (www, nginx, www, nginx, …) so drift in the shared
//! machine's speed affects both alike:
//!
//! - unix: www built for the unix target on the host's sockets against
//!   nginx (`worker_processes 1`, `sendfile on`, `access_log off`) on
//!   loopback, each server pinned to CPU 0 and wrk to CPU 1;
//! - spt: www on its own TCP stack behind a TAP against nginx in a
//!   namespace behind a veth pair, wrk in the namespace next door;
//! - `-p`: www (and kv with `redis-benchmark -t get`) run by `oasis run
//!   -p`, measured through the published port and from inside the run's
//!   namespace in the same run;
//! - 10,000 connections at once against each, counting errors;
//! - the smallest `--mem` that serves 10,000 connections on spt;
//! - hvt: VM exits per request (an idle `--stats` run against one that
//!   serves requests, so boot and idle exits cancel out);
//! - the image size of www with the project's documentation;
//! - and the client's own cost: wrk's CPU time against the server's.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oasis_testkit::kvm_available;

use super::net::{tap_ns, veth_pair};
use super::{build_oasis, s, workspace};

/// How long a server may take to answer its first request.
const READY: Duration = Duration::from_secs(120);

/// `oasis-bench www` options.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Seconds per wrk run
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Rounds, interleaved across servers
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Connections of the ordinary runs
    #[arg(long, default_value_t = 50)]
    pub connections: u32,
    /// Connections of the many-connection runs
    #[arg(long, default_value_t = 10_000)]
    pub many: u32,
    /// wrk threads
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Requests in the hvt run (software-emulated KVM: keep it small; 0: no hvt run)
    #[arg(long, default_value_t = 50)]
    pub hvt_requests: u32,
    /// Leave out the search for the smallest --mem
    #[arg(long)]
    pub no_mem_search: bool,
}

/// A server process, killed (with its process group) when dropped.
struct Server {
    child: Child,
    log: PathBuf,
    what: String,
}

impl Server {
    fn start(mut cmd: Command, log: PathBuf, what: &str) -> Result<Server> {
        let out = File::create(&log)?;
        cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        Ok(Server { child, log, what: what.into() })
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `probe` succeeds; an error if the server exits first.
    fn wait_ready(&mut self, mut probe: impl FnMut() -> bool) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < READY {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before it was ready:\n{}", self.what, self.output());
            }
            if probe() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} was not ready within {READY:?}:\n{}", self.what, self.output())
    }

    /// CPU seconds of the process and every descendant, so far.
    fn cpu(&self) -> f64 {
        tree_cpu(self.child.id())
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM to the process alone and waits, bounded, for it; then
    /// kills what is left of its group. Only the process: a tender's
    /// supervisor, on SIGTERM, asks its child for the `--stats` report
    /// before ending it, while a SIGTERM sent to the whole group kills
    /// that child at once, report unwritten.
    fn stop(mut self) -> Option<std::process::ExitStatus> {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill has no memory effects; `pid` is our child, not
            // yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let start = Instant::now();
        let mut status = None;
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(self.child.id(), libc::SIGKILL);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            signal_group(self.child.id(), libc::SIGTERM);
            std::thread::sleep(Duration::from_millis(300));
            signal_group(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn signal_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects; the group is our child's own
        // (it was started in a new process group).
        unsafe { libc::kill(-pid, signal) };
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of `pid` (all its threads) and its descendants, seconds.
fn tree_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces: state is 3rd.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let own = (ticks(11) + ticks(12)) / ticks_per_second();
    let children = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse::<u32>().ok()).collect::<Vec<_>>())
        .map(tree_cpu)
        .sum::<f64>();
    own + children
}

/// CPU seconds of this process's waited-for children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `u` is valid for the call.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn available(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// One wrk run's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    rps: f64,
    p99_ms: f64,
    errors: u64,
    /// CPU seconds the client used per second of the run (cores).
    client_cores: f64,
    /// And the server.
    server_cores: f64,
}

fn millis(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(out: &str) -> Result<Figures> {
    let rps = out
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec from wrk:\n{out}"))?;
    let p99_ms = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(millis)
        .with_context(|| format!("no 99% latency from wrk:\n{out}"))?;
    let mut errors = 0;
    if let Some(l) = out.lines().find_map(|l| l.trim().strip_prefix("Socket errors:")) {
        errors += l.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
    }
    if let Some(l) = out.lines().find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:")) {
        errors += l.trim().parse::<u64>().unwrap_or(0);
    }
    Ok(Figures { rps, p99_ms, errors, ..Figures::default() })
}

/// Where and how a client reaches a server.
struct Target<'a> {
    name: String,
    /// The namespace the client runs in (`None`: the host's).
    ns: Option<&'a str>,
    /// `http://ADDR:PORT`.
    base: String,
    /// CPU to pin the client to.
    pin: Option<u32>,
}

fn client_command(ns: Option<&str>, pin: Option<u32>, program: &str) -> Command {
    let mut argv: Vec<String> = Vec::new();
    if let Some(ns) = ns {
        argv.extend(["ip", "netns", "exec", ns].map(String::from));
    }
    if let Some(cpu) = pin {
        argv.extend(["taskset".to_string(), "-c".into(), cpu.to_string()]);
    }
    argv.push(program.into());
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

/// One wrk run against `target`'s `path`, with the server's CPU measured
/// from `server`.
fn wrk(o: &Options, target: &Target, server: &Server, path: &str, connections: u32) -> Result<Figures> {
    let mut c = client_command(target.ns, target.pin, "wrk");
    let threads = o.threads.min(connections).max(1);
    c.args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{}s", o.duration)]);
    c.args(["--timeout", "10s", "--latency", &format!("{}{path}", target.base)]);
    let (client0, server0, start) = (children_cpu(), server.cpu(), Instant::now());
    let out = c.output().context("running wrk")?;
    let wall = start.elapsed().as_secs_f64();
    let (client, served) = (children_cpu() - client0, server.cpu() - server0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk against {} failed: {text}{}", target.name, String::from_utf8_lossy(&out.stderr));
    }
    let mut f = parse_wrk(&text)?;
    f.client_cores = client / wall;
    f.server_cores = served / wall;
    Ok(f)
}

/// Fetches `path` from `addr` (from this namespace): whether it answered 200.
fn answers(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(c, "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    c.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Whether `curl` inside `ns` gets 200 from `url`.
fn answers_in(ns: &str, url: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", "--max-time", "2", url])
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The benchmark's files: 1 KiB and 100 KiB of incompressible bytes (so
/// no precompressed variants), and an index.
fn make_site(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = |n: usize| -> Vec<u8> { (0..n as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect() };
    std::fs::write(dir.join("1k.bin"), bytes(1024))?;
    std::fs::write(dir.join("100k.bin"), bytes(100 * 1024))?;
    std::fs::write(dir.join("index.html"), "<!doctype html><title>bench</title><p>bench\n")?;
    Ok(())
}

/// `oasis build unikernels/www --target T --kv htdocs=SITE` into a target
/// directory of the benchmark's own.
fn build_www(oasis: &Path, target: &str, site: &Path, target_dir: &Path) -> Result<PathBuf> {
    let out = Command::new(oasis)
        .current_dir(workspace())
        .env("OASIS_TARGET_DIR", target_dir)
        .args(["build", "unikernels/www", "--target", target, "--kv"])
        .arg(format!("htdocs={}", site.display()))
        .output()?;
    if !out.status.success() {
        bail!("building www for {target}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim()))
}

fn nginx_conf(dir: &Path, site: &Path, listen: &str) -> Result<PathBuf> {
    let conf = dir.join(format!("nginx-{}.conf", listen.replace([':', '.'], "-")));
    let tmp = dir.join("nginx-tmp");
    std::fs::create_dir_all(&tmp)?;
    let text = format!(
        "worker_processes 1;\ndaemon off;\nmaster_process on;\npid {pid};\nerror_log stderr warn;\n\
         worker_rlimit_nofile 20000;\nevents {{ worker_connections 15000; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000000;\n\
         client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fastcgi;\n\
         uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
         types {{ application/octet-stream bin; text/html html; }}\n\
         server {{ listen {listen} backlog=4096; root {site}; }}\n}}\n",
        pid = dir.join(format!("nginx-{}.pid", listen.replace([':', '.'], "-"))).display(),
        t = tmp.display(),
        site = site.display(),
    );
    std::fs::write(&conf, text)?;
    Ok(conf)
}

fn nginx(ns: Option<&str>, pin: Option<u32>, conf: &Path, log: PathBuf) -> Result<Server> {
    let mut c = client_command(ns, pin, "nginx");
    c.arg("-c").arg(conf);
    Server::start(c, log, "nginx")
}

/// A table of one comparison: per file, the median over the rounds of each
/// target, and the ratio of the first to the second.
struct Comparison {
    title: String,
    names: Vec<String>,
    /// `[file][target]` → one figure per round.
    runs: Vec<Vec<Vec<Figures>>>,
    files: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

impl Comparison {
    fn render(&self) -> String {
        let mut out = format!("\n### {}\n\n", self.title);
        out.push_str("| file, connections | server | requests/s (median, min–max) | p99 ms | errors | client cores | server cores |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for (fi, file) in self.files.iter().enumerate() {
            let mut first = None;
            for (ti, name) in self.names.iter().enumerate() {
                let runs = &self.runs[fi][ti];
                if runs.is_empty() {
                    continue;
                }
                let rps: Vec<f64> = runs.iter().map(|f| f.rps).collect();
                let (lo, hi) = rps.iter().fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
                let m = median(rps.clone());
                let ratio = match first {
                    None => {
                        first = Some(m);
                        String::new()
                    }
                    Some(f) if m > 0.0 => format!(" (first ÷ this: {:.2}×)", f / m),
                    Some(_) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "| {file} | {name}{ratio} | {:.0} ({lo:.0}–{hi:.0}) | {:.2} | {} | {:.2} | {:.2} |",
                    m,
                    median(runs.iter().map(|f| f.p99_ms).collect()),
                    runs.iter().map(|f| f.errors).sum::<u64>(),
                    median(runs.iter().map(|f| f.client_cores).collect()),
                    median(runs.iter().map(|f| f.server_cores).collect()),
                );
            }
        }
        out
    }
}

/// Runs every (file, target) `rounds` times, interleaved.
fn compare(
    o: &Options,
    title: &str,
    targets: &[(&Target, &Server)],
    files: &[(&str, u32)],
    rounds: usize,
) -> Result<Comparison> {
    let mut runs = vec![vec![Vec::new(); targets.len()]; files.len()];
    for round in 0..rounds {
        for (fi, (path, connections)) in files.iter().enumerate() {
            for (ti, (target, server)) in targets.iter().enumerate() {
                let f = wrk(o, target, server, path, *connections)
                    .with_context(|| format!("{title}: {} {path}, round {}", target.name, round + 1))?;
                eprintln!(
                    "  {title}: {} {path} -c{connections}: {:.0} req/s, p99 {:.2} ms, {} errors",
                    target.name, f.rps, f.p99_ms, f.errors
                );
                runs[fi][ti].push(f);
            }
        }
    }
    Ok(Comparison {
        title: title.into(),
        names: targets.iter().map(|(t, _)| t.name.clone()).collect(),
        runs,
        files: files.iter().map(|(p, c)| format!("{} ×{c}", p.trim_start_matches('/'))).collect(),
    })
}

/// The files and connection counts of a comparison.
fn file_runs(o: &Options) -> Vec<(&'static str, u32)> {
    vec![("/1k.bin", o.connections), ("/100k.bin", o.connections)]
}

/// `oasis-bench www`.
pub fn www(o: Options) -> Result<()> {
    for tool in ["wrk", "nginx", "taskset", "curl"] {
        if !available(tool) {
            bail!("{tool} is missing: apt-get install wrk nginx-light util-linux curl");
        }
    }
    let work = std::env::temp_dir().join(format!("oasis-bench-www-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let _cleanup = Cleanup(work.clone());
    let site = work.join("site");
    make_site(&site)?;
    let oasis = build_oasis()?;
    let target_dir = workspace().join("target/oasis/bench-www");
    let www_unix = build_www(&oasis, "unix", &site, &target_dir)?;
    let www_guest = build_www(&oasis, "spt", &site, &target_dir)?;
    let docs_guest = super::build_image(&oasis, "unikernels/www", "spt")?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "www benchmarks: wrk -t{} -d{}s, {} rounds interleaved; load average at start {}",
        o.threads,
        o.duration,
        o.rounds,
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let _ = writeln!(
        report,
        "\nwww image with the project's documentation: {} bytes stripped ({} on disk); with the benchmark's files: {} bytes on disk",
        super::stripped_size(&docs_guest)?,
        std::fs::metadata(&docs_guest)?.len(),
        std::fs::metadata(&www_guest)?.len()
    );
    let many = o.many.to_string();
    // Room for the many-connection runs in every server.
    let www_args = ["--max-connections", &many];

    // unix on host sockets against nginx on loopback, pinned apart.
    {
        let (pw, pn) = (free_port()?, free_port()?);
        let mut c = client_command(None, Some(0), &s(&www_unix));
        c.args(["--port", &pw.to_string()]).args(www_args);
        let mut www = Server::start(c, work.join("www-unix.log"), "www (unix)")?;
        www.wait_ready(|| answers(([127, 0, 0, 1], pw).into(), "/1k.bin"))?;
        let conf = nginx_conf(&work, &site, &format!("127.0.0.1:{pn}"))?;
        let mut ngx = nginx(None, Some(0), &conf, work.join("nginx-loopback.log"))?;
        ngx.wait_ready(|| answers(([127, 0, 0, 1], pn).into(), "/1k.bin"))?;
        let tw = Target {
            name: "www (unix), loopback".into(),
            ns: None,
            base: format!("http://127.0.0.1:{pw}"),
            pin: Some(1),
        };
        let tn =
            Target { name: "nginx, loopback".into(), ns: None, base: format!("http://127.0.0.1:{pn}"), pin: Some(1) };
        let mut files = file_runs(&o);
        files.push(("/1k.bin", o.many));
        let cmp = compare(
            &o,
            "unix target on host sockets vs nginx on loopback (servers on CPU 0, wrk on CPU 1)",
            &[(&tw, &www), (&tn, &ngx)],
            &files,
            o.rounds,
        )?;
        report.push_str(&cmp.render());
    }
    // Each part is printed as it ends, so a later failure keeps it.
    print!("{report}");
    report.clear();

    // spt over a TAP against nginx in a namespace over veth.
    {
        let ns = tap_ns()?;
        let mut c = ns.command(&s(&oasis));
        c.arg("spt").arg(&www_guest).args(["--mem=512M", "--net:service=tap0", "--"]);
        c.args(["--ipv4", "10.0.0.2/24", "--tcp-buffer", "16384", "--tcp-backlog", "64"]).args(www_args);
        let mut www = Server::start(c, work.join("www-spt.log"), "www (spt)")?;
        www.wait_ready(|| answers_in(ns.name(), "http://10.0.0.2/1k.bin"))?;
        let (a, b) = veth_pair()?;
        let conf = nginx_conf(&work, &site, "10.9.1.2:80")?;
        let mut ngx = nginx(Some(b.name()), None, &conf, work.join("nginx-veth.log"))?;
        ngx.wait_ready(|| answers_in(a.name(), "http://10.9.1.2/1k.bin"))?;
        let tw =
            Target { name: "www on spt, TAP".into(), ns: Some(ns.name()), base: "http://10.0.0.2".into(), pin: None };
        let tn = Target { name: "nginx, veth".into(), ns: Some(a.name()), base: "http://10.9.1.2".into(), pin: None };
        let mut files = file_runs(&o);
        files.push(("/1k.bin", o.many));
        let cmp = compare(
            &o,
            "spt over a TAP (own TCP stack) vs nginx over veth",
            &[(&tw, &www), (&tn, &ngx)],
            &files,
            o.rounds,
        )?;
        report.push_str(&cmp.render());
        drop(ngx);
        drop((a, b));
        let _ = www.stop();
    }
    print!("{report}");
    report.clear();

    // Through -p against from inside the run's namespace.
    report.push_str(&published(&o, &oasis, &site, &target_dir, &work)?);

    print!("{report}");
    report.clear();
    if !o.no_mem_search {
        match mem_search(&o, &oasis, &www_guest, &work) {
            Ok(text) => print!("{text}"),
            Err(e) => println!("\nsmallest --mem: failed: {e:#}"),
        }
    }
    match hvt_exits(&o, &oasis, &www_guest, &work) {
        Ok(text) => println!("{text}"),
        Err(e) => println!("\nhvt: failed: {e:#}"),
    }
    Ok(())
}

/// Removes the work directory.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The guest address `oasis run` printed ("guest 10.N.0.2 on tap0").
fn guest_address(log: &str) -> Option<String> {
    log.lines().find_map(|l| l.split("guest ").nth(1)?.split_whitespace().next().map(String::from))
}

fn published(o: &Options, oasis: &Path, site: &Path, target_dir: &Path, work: &Path) -> Result<String> {
    let mut out = String::new();
    let port = free_port()?;
    let mut c = Command::new(oasis);
    c.current_dir(workspace()).env("OASIS_TARGET_DIR", target_dir);
    c.args(["run", "unikernels/www", "--target", "spt", "--mem=512M", "--kv"])
        .arg(format!("htdocs={}", site.display()));
    c.args(["-p", &format!("{port}:80"), "--", "--tcp-buffer", "16384", "--tcp-backlog", "64", "--max-connections"]);
    c.arg(o.many.to_string());
    let mut run = Server::start(c, work.join("www-run.log"), "oasis run www")?;
    run.wait_ready(|| answers(([127, 0, 0, 1], port).into(), "/1k.bin"))?;
    let ns = format!("oasis-run-{}", run.child.id());
    let guest = guest_address(&run.output()).context("oasis run did not print the guest's address")?;
    let outside =
        Target { name: "through -p (127.0.0.1)".into(), ns: None, base: format!("http://127.0.0.1:{port}"), pin: None };
    let inside =
        Target { name: "inside the namespace".into(), ns: Some(&ns), base: format!("http://{guest}"), pin: None };
    let cmp = compare(
        o,
        "www on spt: through -p vs from inside the run's namespace",
        &[(&outside, &run), (&inside, &run)],
        &file_runs(o),
        o.rounds,
    )?;
    out.push_str(&cmp.render());
    if !run.output().contains("at most") {
        let many =
            compare(o, "www on spt through -p, many connections", &[(&outside, &run)], &[("/1k.bin", o.many)], 1)?;
        out.push_str(&many.render());
    } else {
        let _ = writeln!(
            out,
            "\n(many connections through -p not run: {})",
            run.output().lines().find(|l| l.contains("at most")).unwrap_or_default()
        );
    }
    let _ = run.stop();
    out.push_str(&published_kv(o, oasis, work)?);
    Ok(out)
}

/// kv through -p against inside, with redis-benchmark -t get (the issue's
/// own measurement).
fn published_kv(o: &Options, oasis: &Path, work: &Path) -> Result<String> {
    if !available("redis-benchmark") {
        return Ok("\n(redis-benchmark missing: apt-get install redis-tools)\n".into());
    }
    let port = free_port()?;
    let mut c = Command::new(oasis);
    c.current_dir(workspace()).args(["run", "unikernels/kv", "--target", "spt", "-p", &format!("{port}:6379")]);
    c.args(["--", "--storage", "memory"]);
    let mut run = Server::start(c, work.join("kv-run.log"), "oasis run kv")?;
    let ping = || {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    };
    run.wait_ready(ping)?;
    let ns = format!("oasis-run-{}", run.child.id());
    let guest = guest_address(&run.output()).context("oasis run did not print the guest's address")?;
    let mut rows: Vec<(String, Vec<f64>)> =
        vec![("through -p".into(), vec![]), ("inside the namespace".into(), vec![])];
    for _ in 0..o.rounds {
        for (i, (ns, host, p)) in
            [(None, "127.0.0.1".to_string(), port), (Some(ns.as_str()), guest.clone(), 6379)].into_iter().enumerate()
        {
            let mut c = client_command(ns, None, "redis-benchmark");
            c.args(["-h", &host, "-p", &p.to_string(), "-t", "get", "-c", "50", "-n", "200000", "--csv"]);
            let out = c.output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let rps: f64 = text
                .lines()
                .find(|l| l.starts_with("\"GET\""))
                .and_then(|l| l.split(',').nth(1)?.trim_matches('"').parse().ok())
                .with_context(|| format!("redis-benchmark said: {text}"))?;
            eprintln!("  kv -p: {} {rps:.0} req/s", rows[i].0);
            rows[i].1.push(rps);
        }
    }
    let _ = run.stop();
    let (a, b) = (median(rows[0].1.clone()), median(rows[1].1.clone()));
    Ok(format!(
        "\n### kv on spt: redis-benchmark -t get -c 50 -n 200000, through -p vs inside the namespace\n\n\
         | path | GET requests/s (median of {r}) |\n|---|---|\n| through -p | {a:.0} |\n| inside the namespace | {b:.0} |\n\n\
         through -p ÷ inside: {:.2}×\n",
        a / b,
        r = o.rounds
    ))
}

/// The smallest `--mem` (of a ladder) with which www on spt serves a
/// many-connection wrk run without an error.
fn mem_search(o: &Options, oasis: &Path, guest: &Path, work: &Path) -> Result<String> {
    let mut out = format!(
        "\n### Smallest --mem for {} connections at once (www on spt, wrk -c{} for {}s on /1k.bin)\n\n| --mem | --tcp-buffer | requests/s | errors | result |\n|---|---|---|---|---|\n",
        o.many, o.many, o.duration
    );
    let many = o.many.to_string();
    for buffer in ["2048", "4096"] {
        for mem in [16u32, 24, 32, 48, 64, 96, 128, 192, 256, 384] {
            let ns = tap_ns()?;
            let mut c = ns.command(&s(oasis));
            c.arg("spt").arg(guest).arg(format!("--mem={mem}M")).args(["--net:service=tap0", "--"]);
            c.args([
                "--ipv4",
                "10.0.0.2/24",
                "--tcp-buffer",
                buffer,
                "--tcp-backlog",
                "64",
                "--max-connections",
                &many,
            ]);
            let mut www = Server::start(c, work.join("www-mem.log"), "www (spt)")?;
            if www.wait_ready(|| answers_in(ns.name(), "http://10.0.0.2/1k.bin")).is_err() {
                let _ = writeln!(out, "| {mem}M | {buffer} | – | – | did not boot |");
                continue;
            }
            let t = Target {
                name: format!("www --mem={mem}M"),
                ns: Some(ns.name()),
                base: "http://10.0.0.2".into(),
                pin: None,
            };
            let f = wrk(o, &t, &www, "/1k.bin", o.many);
            let alive = www.alive();
            let (rps, errors, ok) = match &f {
                Ok(f) => (format!("{:.0}", f.rps), f.errors.to_string(), f.errors == 0 && alive),
                Err(e) => ("–".into(), format!("{e:#}").lines().next().unwrap_or_default().to_string(), false),
            };
            let result = if ok {
                "served"
            } else if alive {
                "errors"
            } else {
                "the guest stopped"
            };
            let _ = writeln!(out, "| {mem}M | {buffer} | {rps} | {errors} | {result} |");
            eprintln!("  mem search: --mem={mem}M --tcp-buffer {buffer}: {result}");
            drop(www);
            if ok {
                break;
            }
        }
    }
    Ok(out)
}

/// VM exits per request on hvt: one run serving requests against one as
/// long serving none.
fn hvt_exits(o: &Options, oasis: &Path, guest: &Path, work: &Path) -> Result<String> {
    if o.hvt_requests == 0 {
        return Ok(String::new());
    }
    if let Err(why) = kvm_available() {
        return Ok(format!("\n(hvt not measured: {why})\n"));
    }
    // The busy run first, timed from ready to its last answer; then an
    // idle run kept up exactly as long, so boot and idle exits cancel out.
    let mut counts = Vec::new();
    let mut busy_for = Duration::ZERO;
    for requests in [o.hvt_requests, 0] {
        let ns = tap_ns()?;
        let mut c = ns.command(&s(oasis));
        c.arg("hvt").arg(guest).args(["--mem=32M", "--stats", "--net:service=tap0", "--", "--ipv4", "10.0.0.2/24"]);
        let log = work.join(format!("www-hvt-{requests}.log"));
        let mut www = Server::start(c, log.clone(), "www (hvt)")?;
        www.wait_ready(|| answers_in(ns.name(), "http://10.0.0.2/1k.bin"))?;
        let start = Instant::now();
        if requests > 0 {
            // One keep-alive connection: curl reuses it for repeated URLs.
            // `-o` applies to one URL only: one for each, or the bodies
            // land on stdout.
            let mut c = client_command(Some(ns.name()), None, "curl");
            c.args(["-sf", "--max-time", "600"]);
            for _ in 0..requests {
                c.args(["-o", "/dev/null", "http://10.0.0.2/1k.bin"]);
            }
            let status = c.stdout(Stdio::null()).status()?;
            if !status.success() {
                bail!("curl against www on hvt failed: {status}");
            }
            busy_for = start.elapsed();
        } else {
            std::thread::sleep(busy_for);
        }
        let _ = www.stop();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let n: u64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("vm-exits: "))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no vm-exits in hvt's --stats:\n{text}"))?;
        counts.push(n);
        drop(ns);
    }
    let counts = [counts[1], counts[0]];
    let per = counts[1].saturating_sub(counts[0]) as f64 / f64::from(o.hvt_requests);
    Ok(format!(
        "\n### hvt: VM exits per request\n\n{} requests of /1k.bin over one connection: {} exits, against {} in an idle run of the same length: **{per:.1} exits per request**\n",
        o.hvt_requests, counts[1], counts[0]
    ))
}
