//! DNS: the dns unikernel against NSD (one server process) and Knot (one
//! worker of each kind), all serving the same generated zone, driven by
//! `dnsperf` with the same query file (hits, NXDOMAIN and NODATA mixed),
//! every server running for the whole test and the runs interleaved
//! round by round:
//!
//! - unix target on the host's sockets against NSD and Knot on loopback;
//! - spt behind a TAP (our own stack), `dnsperf` in its namespace, against
//!   NSD and Knot in a namespace reached over a veth pair;
//! - hvt: VM exits per query (`--stats`, an idle run subtracted);
//! - zone loading: time and peak memory to load a large zone;
//! - the image's size, and the smallest `--mem` that serves the zone
//!   under `dnsperf` on spt.
//!
//! The harness's cost is measured too: `dnsperf`'s own CPU time (from
//! `getrusage` of the reaped child) against the server's (from `/proc`),
//! per query.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use oasis_testkit::{NetNs, Running, netns_available, run};

use super::net::{tap_ns, veth_pair};
use super::s;

const READY: Duration = Duration::from_secs(300);

/// The zone `bench.test.` with `records` host records (every tenth host
/// has an AAAA too, counted), and its text.
fn zone_text(records: usize) -> String {
    let mut t = String::with_capacity(records * 32);
    t += "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n";
    let mut i = 0;
    let mut n = 0;
    while n < records {
        let _ = writeln!(t, "h{i} A 10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        n += 1;
        if i % 10 == 0 && n < records {
            let _ = writeln!(t, "h{i} AAAA 2001:db8::{:x}", i & 0xffff);
            n += 1;
        }
        i += 1;
    }
    t
}

/// Hosts in a zone of `records` records.
fn hosts(records: usize) -> usize {
    records * 10 / 11
}

/// dnsperf's query file: 70% hits (A), 15% NXDOMAIN, 15% NODATA (TXT).
fn query_file(records: usize, count: usize) -> String {
    let mut x: u64 = 0x9E37_79B9;
    let mut t = String::with_capacity(count * 24);
    let h = hosts(records).max(1) as u64;
    for _ in 0..count {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let r = (x >> 33) % h;
        let _ = match (x >> 20) % 100 {
            0..70 => writeln!(t, "h{r}.bench.test. A"),
            70..85 => writeln!(t, "nx{r}.bench.test. A"),
            _ => writeln!(t, "h{r}.bench.test. TXT"),
        };
    }
    t
}

/// Builds dns with `zones` compiled in, for unix (`guest` false) or the
/// tenders, in a target directory of the benchmark's own.
fn build_dns(zones: &Path, guest: bool, name: &str) -> Result<PathBuf> {
    let root = super::workspace();
    let target = root.join("target/oasis-bench");
    let mut c = Command::new("cargo");
    c.current_dir(&root).env("CARGO_TARGET_DIR", &target).env("OASIS_KV_ZONES", zones);
    c.args(["build", "--quiet", "-p", "dns"]);
    let out = if guest {
        c.args(["--profile", "guest", "--target", "x86_64-unknown-none"]);
        target.join("x86_64-unknown-none/guest/dns")
    } else {
        c.arg("--release");
        target.join("release/dns")
    };
    if !c.status()?.success() {
        bail!("building dns with {} failed", zones.display());
    }
    let copy = target.join(format!("dns-{name}-{}", if guest { "guest" } else { "unix" }));
    std::fs::copy(&out, &copy)?;
    Ok(copy)
}

fn free_port() -> Result<u16> {
    for _ in 0..50 {
        let u = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = u.local_addr()?.port();
        if port > 20000 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port")
}

fn nsd_conf(dir: &Path, addr: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "server:\n  ip-address: {addr}\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
         verbosity: 0\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  refuse-any: no\n\
         remote-control:\n  control-enable: no\n\
         zone:\n  name: \"bench.test.\"\n  zonefile: \"{d}/bench.test.zone\"\n"
    )
}

fn knot_conf(dir: &Path, addr: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "server:\n  rundir: \"{d}\"\n  listen: {addr}@{port}\n  udp-workers: 1\n  tcp-workers: 1\n  \
         background-workers: 1\n\
         log:\n  - target: stderr\n    any: warning\n\
         database:\n  storage: \"{d}\"\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    journal-content: none\n\
         zone:\n  - domain: bench.test.\n    file: \"{d}/bench.test.zone\"\n"
    )
}

/// A peer under test.
struct Peer {
    name: String,
    /// Namespace the server's client runs in (None: the host's).
    ns: Option<usize>,
    addr: String,
    port: u16,
    /// The server, for its CPU time.
    server: usize,
    qps: Vec<f64>,
    latency_us: Vec<f64>,
    client_cpu_per_query_us: Vec<f64>,
    server_cpu_per_query_us: Vec<f64>,
}

/// Servers and namespaces, torn down servers first.
#[derive(Default)]
struct Bed {
    servers: Vec<Running>,
    namespaces: Vec<NetNs>,
}

impl Bed {
    fn command(&self, ns: Option<usize>, program: &str) -> Command {
        match ns {
            Some(i) => self.namespaces[i].command(program),
            None => Command::new(program),
        }
    }

    fn start(&mut self, ns: Option<usize>, argv: &[String]) -> usize {
        let mut c = self.command(ns, &argv[0]);
        c.args(&argv[1..]);
        self.servers.push(Running::spawn(&mut c));
        self.servers.len() - 1
    }
}

/// Whether `addr:port` answers an SOA query for bench.test (dig, from `ns`).
fn answers(bed: &Bed, ns: Option<usize>, addr: &str, port: u16) -> bool {
    let mut c = bed.command(ns, "dig");
    c.args([&format!("@{addr}"), "-p", &port.to_string(), "+time=1", "+tries=1", "+short", "bench.test.", "SOA"]);
    run(&mut c, Duration::from_secs(10)).stdout.contains("hostmaster")
}

fn wait_answering(bed: &Bed, ns: Option<usize>, addr: &str, port: u16) -> Result<Duration> {
    let start = Instant::now();
    while start.elapsed() < READY {
        if answers(bed, ns, addr, port) {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{addr}:{port} did not answer within {READY:?}")
}

/// CPU seconds used so far by `pid` and its descendants (from /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let mut total = 0.0;
    let mut stack = vec![pid];
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    while let Some(p) = stack.pop() {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
            let f: Vec<&str> = after.split_whitespace().collect();
            let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            total += (ut + st) / ticks;
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                    stack.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
                }
            }
        }
    }
    total
}

/// CPU seconds used by reaped children of this process.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// One dnsperf run: (queries/s, mean latency µs, queries completed).
fn dnsperf(bed: &Bed, peer: &Peer, file: &Path, seconds: u64, extra: &[&str]) -> Result<(f64, f64, f64)> {
    let mut c = bed.command(peer.ns, "dnsperf");
    c.args(["-s", &peer.addr, "-p", &peer.port.to_string(), "-d", &s(file), "-l", &seconds.to_string()]);
    c.args(["-c", "8", "-q", "100", "-t", "2"]).args(extra);
    let out = run(&mut c, Duration::from_secs(seconds + 60));
    let field = |label: &str| -> Option<f64> {
        out.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    let (Some(qps), Some(lat), Some(done)) =
        (field("Queries per second:"), field("Average Latency (s):"), field("Queries completed:"))
    else {
        bail!("dnsperf against {}: {}{}", peer.name, out.stdout, out.stderr);
    };
    Ok((qps, lat * 1e6, done))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn table(title: &str, peers: &[Peer]) {
    println!("\n### {title}\n");
    println!(
        "| server | queries/s (median) | min – max | / ours | mean latency µs | client CPU µs/query | server CPU µs/query | harness / server |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let base = median(&peers[0].qps);
    for p in peers {
        let (lo, hi) = (p.qps.iter().copied().fold(f64::MAX, f64::min), p.qps.iter().copied().fold(0.0, f64::max));
        let (c, sv) = (median(&p.client_cpu_per_query_us), median(&p.server_cpu_per_query_us));
        println!(
            "| {} | {:.0} | {:.0} – {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            p.name,
            median(&p.qps),
            lo,
            hi,
            median(&p.qps) / base,
            median(&p.latency_us),
            c,
            sv,
            c / sv.max(1e-9)
        );
    }
}

fn rounds_of(bed: &Bed, peers: &mut [Peer], file: &Path, seconds: u64, rounds: usize) -> Result<()> {
    for _ in 0..rounds {
        for p in peers.iter_mut() {
            let pid = bed.servers[p.server].pid();
            let (server_before, client_before) = (cpu_seconds(pid), children_cpu());
            let (qps, lat, done) = dnsperf(bed, p, file, seconds, &[])?;
            let (server_cpu, client_cpu) = (cpu_seconds(pid) - server_before, children_cpu() - client_before);
            p.qps.push(qps);
            p.latency_us.push(lat);
            p.client_cpu_per_query_us.push(client_cpu / done.max(1.0) * 1e6);
            p.server_cpu_per_query_us.push(server_cpu / done.max(1.0) * 1e6);
        }
    }
    Ok(())
}

fn peer(name: &str, ns: Option<usize>, addr: &str, port: u16, server: usize) -> Peer {
    Peer {
        name: name.into(),
        ns,
        addr: addr.into(),
        port,
        server,
        qps: vec![],
        latency_us: vec![],
        client_cpu_per_query_us: vec![],
        server_cpu_per_query_us: vec![],
    }
}

/// A fresh sparse disk for one server's `storage` device (each server
/// needs its own: a unikernel locks its block file). Unused with
/// `--storage none`, but the device must be bound.
fn blank_disk(work: &Path) -> Result<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let path = work.join(format!("disk-{}.img", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::File::create(&path)?.set_len(16 << 20)?;
    Ok(format!("--block:storage={}", path.display()))
}

/// Peak memory (VmHWM) of `pid` and its descendants, KiB.
fn peak_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            stack.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    total
}

/// Runs every part of the DNS benchmark.
pub fn dns(
    seconds: u64,
    rounds: usize,
    records: usize,
    load_records: usize,
    hvt_queries: usize,
    parts: &[String],
) -> Result<()> {
    let part = |name: &str| parts.is_empty() || parts.iter().any(|p| p == name);
    for tool in ["dnsperf", "nsd", "knotd", "dig"] {
        if Command::new("sh").args(["-c", &format!("command -v {tool}")]).output()?.stdout.is_empty() {
            bail!("{tool} is missing: run scripts/setup");
        }
    }
    let work = std::env::temp_dir().join(format!("oasis-bench-dns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let zones = work.join("zones");
    std::fs::create_dir_all(&zones)?;
    let text = zone_text(records);
    std::fs::write(zones.join("bench.test.zone"), &text)?;
    let queries = work.join("queries.txt");
    std::fs::write(&queries, query_file(records, 200_000))?;
    let oasis = super::build_oasis()?;
    eprintln!("building dns with a {records}-record zone (unix and guest)");
    let unix = build_dns(&zones, false, "bench")?;
    let guest = build_dns(&zones, true, "bench")?;
    let nsd_dir = work.join("nsd");
    let knot_dir = work.join("knot");
    for d in [&nsd_dir, &knot_dir] {
        std::fs::create_dir_all(d)?;
        std::fs::write(d.join("bench.test.zone"), &text)?;
    }
    println!(
        "## DNS\n\nZone `bench.test.`: {records} records ({} hosts with A, every tenth with AAAA too); query file \
         of 200,000 queries: 70% hits (A), 15% NXDOMAIN, 15% NODATA (TXT). `dnsperf -c 8 -q 100 -l {seconds}`, \
         {rounds} rounds interleaved.",
        hosts(records)
    );

    // unix: host sockets against NSD and Knot on loopback.
    if part("unix") {
        let mut bed = Bed::default();
        let (p1, p2, p3) = (free_port()?, free_port()?, free_port()?);
        let ours = bed.start(
            None,
            &[
                s(&unix),
                blank_disk(&work)?,
                "--port".into(),
                p1.to_string(),
                "--storage".into(),
                "none".into(),
                "--cache".into(),
                "268435456".into(),
            ],
        );
        std::fs::write(nsd_dir.join("nsd.conf"), nsd_conf(&nsd_dir, "127.0.0.1", p2))?;
        let nsd = bed.start(None, &["nsd".into(), "-d".into(), "-c".into(), s(&nsd_dir.join("nsd.conf"))]);
        std::fs::write(knot_dir.join("knot.conf"), knot_conf(&knot_dir, "127.0.0.1", p3))?;
        let knot = bed.start(None, &["knotd".into(), "-c".into(), s(&knot_dir.join("knot.conf"))]);
        for port in [p1, p2, p3] {
            wait_answering(&bed, None, "127.0.0.1", port)?;
        }
        let mut peers = vec![
            peer("dns (unix, host sockets)", None, "127.0.0.1", p1, ours),
            peer("NSD 4.6, one server process", None, "127.0.0.1", p2, nsd),
            peer("Knot 3.2, one UDP worker", None, "127.0.0.1", p3, knot),
        ];
        // Warm-up: fills every server's caches (our precomputed answers).
        for p in &peers {
            dnsperf(&bed, p, &queries, 3, &[])?;
        }
        rounds_of(&bed, &mut peers, &queries, seconds, rounds)?;
        table("unix target on loopback", &peers);
    }

    // spt behind a TAP against NSD and Knot behind a veth.
    if !part("spt") {
        // Left out with --only.
    } else if let Err(why) = netns_available() {
        println!("\nspt: skipped ({why})");
    } else {
        let mut bed = Bed::default();
        bed.namespaces.push(tap_ns()?);
        let (a, b) = veth_pair()?;
        bed.namespaces.push(a);
        bed.namespaces.push(b);
        let ours = bed.start(
            Some(0),
            &[
                s(&oasis),
                "spt".into(),
                s(&guest),
                "--mem=512M".into(),
                "--net:service=tap0".into(),
                blank_disk(&work)?,
                "--".into(),
                "--ipv4".into(),
                "10.0.0.2/24".into(),
                "--storage".into(),
                "none".into(),
                "--cache".into(),
                "268435456".into(),
            ],
        );
        std::fs::write(nsd_dir.join("nsd.conf"), nsd_conf(&nsd_dir, "10.9.1.2", 53))?;
        let nsd = bed.start(Some(2), &["nsd".into(), "-d".into(), "-c".into(), s(&nsd_dir.join("nsd.conf"))]);
        std::fs::write(knot_dir.join("knot.conf"), knot_conf(&knot_dir, "10.9.1.2", 5300))?;
        let knot = bed.start(Some(2), &["knotd".into(), "-c".into(), s(&knot_dir.join("knot.conf"))]);
        wait_answering(&bed, Some(0), "10.0.0.2", 53)?;
        wait_answering(&bed, Some(1), "10.9.1.2", 53)?;
        wait_answering(&bed, Some(1), "10.9.1.2", 5300)?;
        let mut peers = vec![
            peer("dns on spt, TAP (own stack)", Some(0), "10.0.0.2", 53, ours),
            peer("NSD, veth", Some(1), "10.9.1.2", 53, nsd),
            peer("Knot, veth", Some(1), "10.9.1.2", 5300, knot),
        ];
        for p in &peers {
            dnsperf(&bed, p, &queries, 3, &[])?;
        }
        rounds_of(&bed, &mut peers, &queries, seconds, rounds)?;
        table("spt over a TAP against Linux over a veth", &peers);
    }

    if hvt_queries > 0 && part("hvt") {
        if let Err(why) = oasis_testkit::kvm_available() {
            println!("\nhvt: skipped ({why})");
        } else {
            // A small zone: where KVM is emulated, loading 100,000
            // records alone takes minutes.
            let small = work.join("small");
            std::fs::create_dir_all(&small)?;
            std::fs::write(small.join("bench.test.zone"), zone_text(1000))?;
            let image = build_dns(&small, true, "small")?;
            report("hvt", hvt_exits(&oasis, &image, &work, hvt_queries));
        }
    }
    if part("load") {
        report("loading", loading(&work, load_records));
    }
    if part("size") {
        report("image size", sizes(&oasis, &work));
    }
    if part("mem") {
        report("smallest --mem", smallest_mem(&oasis, &guest, &queries, records, &work));
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Prints a part's failure and goes on with the others.
fn report(part: &str, result: Result<()>) {
    if let Err(e) = result {
        println!("\n{part}: failed: {e:#}");
    }
}

/// The exits of one `--stats` run of `secs` answering `queries` queries
/// (0: idle).
fn hvt_run(oasis: &Path, guest: &Path, work: &Path, queries: usize, secs: u64) -> Result<u64> {
    let ns = tap_ns()?;
    let file = work.join("hvt-queries.txt");
    std::fs::write(&file, query_file(1000, queries.max(1)))?;
    let mut c = ns.command(&s(oasis));
    c.args(["hvt", &s(guest), "--mem=64M", "--net:service=tap0", "--stats", &format!("--timeout={secs}s")]);
    c.arg(blank_disk(work)?);
    c.args(["--", "--ipv4", "10.0.0.2/24", "--storage", "none"]);
    let mut g = Running::spawn(&mut c);
    g.wait_for("serving ", Duration::from_secs(secs));
    if queries > 0 {
        let mut d = ns.command("dnsperf");
        d.args(["-s", "10.0.0.2", "-d", &s(&file), "-n", "1", "-q", "1", "-t", "5"]);
        let out = run(&mut d, Duration::from_secs(secs));
        if !out.stdout.contains("Queries completed") {
            bail!("dnsperf against hvt: {}{}", out.stdout, out.stderr);
        }
    }
    let out = g.wait_for("vm-exits: ", Duration::from_secs(secs + 60));
    Ok(out.lines().find_map(|l| l.strip_prefix("vm-exits: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

fn hvt_exits(oasis: &Path, guest: &Path, work: &Path, queries: usize) -> Result<()> {
    let secs = 20 + queries as u64 / 10;
    let idle = hvt_run(oasis, guest, work, 0, secs)?;
    let busy = hvt_run(oasis, guest, work, queries, secs)?;
    println!(
        "\n### hvt (software-emulated KVM): VM exits per query\n\n{queries} queries one at a time (`dnsperf -q 1`); \
         two {secs} s `--stats` runs, idle and serving: {idle} and {busy} exits, {:.2} per query.",
        (busy as f64 - idle as f64) / queries as f64
    );
    Ok(())
}

/// Time and peak memory to load a zone of `records` records: ours (unix,
/// the zone compiled in, time to the first answer) against NSD and Knot
/// (from the zone file).
fn loading(work: &Path, records: usize) -> Result<()> {
    let dir = work.join("load");
    let zones = dir.join("zones");
    std::fs::create_dir_all(&zones)?;
    let text = zone_text(records);
    std::fs::write(zones.join("bench.test.zone"), &text)?;
    eprintln!("building dns with a {records}-record zone");
    let image = build_dns(&zones, false, "load")?;
    println!(
        "\n### Loading a {records}-record zone ({} MB of zone file)\n\nTime from start to the first answer, and \
         peak resident memory then (all processes).\n\n| server | seconds | peak MiB |\n|---|---|---|",
        text.len() / 1_000_000
    );
    for who in ["dns (unix)", "NSD", "Knot"] {
        let mut bed = Bed::default();
        let port = free_port()?;
        let d = dir.join(who.split_whitespace().next().unwrap_or("x"));
        std::fs::create_dir_all(&d)?;
        let argv: Vec<String> = match who {
            "NSD" => {
                std::fs::write(d.join("bench.test.zone"), &text)?;
                std::fs::write(d.join("nsd.conf"), nsd_conf(&d, "127.0.0.1", port))?;
                vec!["nsd".into(), "-d".into(), "-c".into(), s(&d.join("nsd.conf"))]
            }
            "Knot" => {
                std::fs::write(d.join("bench.test.zone"), &text)?;
                std::fs::write(d.join("knot.conf"), knot_conf(&d, "127.0.0.1", port))?;
                vec!["knotd".into(), "-c".into(), s(&d.join("knot.conf"))]
            }
            _ => {
                vec![s(&image), blank_disk(work)?, "--port".into(), port.to_string(), "--storage".into(), "none".into()]
            }
        };
        let i = bed.start(None, &argv);
        let t = wait_answering(&bed, None, "127.0.0.1", port)?;
        let peak = peak_kib(bed.servers[i].pid());
        println!("| {who} | {:.2} | {} |", t.as_secs_f64(), peak / 1024);
    }
    Ok(())
}

/// The image's size with the example zones.
fn sizes(oasis: &Path, work: &Path) -> Result<()> {
    let image = super::build_image(oasis, "unikernels/dns", "spt")?;
    let stripped = super::stripped_size(&image)?;
    let zones: u64 = std::fs::read_dir(super::workspace().join("unikernels/dns/zones"))?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "\n### Image\n\ndns for hvt/spt with the example zones ({zones} bytes of zone files): {} bytes, {} stripped.",
        std::fs::metadata(&image)?.len(),
        stripped
    );
    let _ = work;
    Ok(())
}

/// The smallest `--mem` (of a ladder) at which spt serves the benchmark
/// zone through a 5 s dnsperf run without losing queries or stopping.
fn smallest_mem(oasis: &Path, guest: &Path, queries: &Path, records: usize, work: &Path) -> Result<()> {
    if netns_available().is_err() {
        return Ok(());
    }
    let mut found = None;
    let mut tried = Vec::new();
    for mib in [8u64, 12, 16, 20, 24, 32, 48, 64, 96, 128] {
        let mut bed = Bed::default();
        bed.namespaces.push(tap_ns()?);
        let i = bed.start(
            Some(0),
            &[
                s(oasis),
                "spt".into(),
                s(guest),
                format!("--mem={mib}M"),
                "--net:service=tap0".into(),
                blank_disk(work)?,
                "--".into(),
                "--ipv4".into(),
                "10.0.0.2/24".into(),
                "--storage".into(),
                "none".into(),
            ],
        );
        let start = Instant::now();
        let mut up = false;
        while start.elapsed() < Duration::from_secs(60) && bed.servers[i].is_running() {
            if answers(&bed, Some(0), "10.0.0.2", 53) {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ok = up
            && dnsperf(&bed, &peer("probe", Some(0), "10.0.0.2", 53, i), queries, 5, &[])
                .is_ok_and(|(q, _, _)| q > 0.0)
            && bed.servers[i].is_running();
        tried.push(format!("{mib}M {}", if ok { "serves" } else { "fails" }));
        if ok {
            found = Some(mib);
            break;
        }
    }
    println!(
        "\n### Smallest --mem on spt for the {records}-record zone under dnsperf\n\n{} ({}), default response cache \
         (8 MiB).",
        found.map_or("none of the ladder".to_string(), |m| format!("{m} MiB")),
        tried.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_and_queries() {
        let t = zone_text(100);
        assert_eq!(t.lines().filter(|l| l.starts_with('h')).count(), 100);
        let q = query_file(100, 1000);
        assert_eq!(q.lines().count(), 1000);
        assert!(q.contains("nx") && q.contains("TXT"));
    }
}
