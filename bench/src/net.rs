//! Networking benchmarks, each side by side over the same kind of virtual
//! link inside namespaces made for the run:
//!
//! - ICMP echo rate: `ping -q -f -l 32 -c N` to the echo unikernel on spt,
//!   to Solo5's `test_net` on spt (when a Solo5 build is given), and to a
//!   Linux namespace behind a veth pair.
//! - TCP echo throughput: MIB MiB through one connection both ways, to
//!   echo on spt (own stack on a TAP) and to the same echo program built
//!   for unix (so Linux's TCP stack) in a namespace behind a veth pair;
//!   and `iperf3` between two Linux namespaces for the link's raw capacity.
//! - hvt: VM exits per frame under a ping flood and a bulk transfer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use oasis_testkit::{NetNs, Running};

fn ns_run(ns: &NetNs, program: &str, args: &[&str]) -> Result<String> {
    let out = ns.command(program).args(args).output().with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Rounds of each comparison, interleaved across peers.
const ROUNDS: usize = 3;

/// (median, min, max).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Seconds a `ping -q -f` run took, from its own summary ("time 1234ms").
fn ping_flood(ns: &NetNs, target: &str, count: u32) -> Result<f64> {
    let out = ns_run(ns, "ping", &["-q", "-f", "-l", "32", "-c", &count.to_string(), "-W", "2", target])?;
    let ms: f64 = out
        .split("time ")
        .nth(1)
        .and_then(|r| r.split("ms").next())
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no time in ping's output: {out}"))?;
    if !out.contains(&format!("{count} received")) {
        bail!("ping lost packets: {out}");
    }
    Ok(ms / 1000.0)
}

/// A pair of namespaces joined by a veth: `a` at 10.9.1.1, `b` at 10.9.1.2.
pub(crate) fn veth_pair() -> Result<(NetNs, NetNs)> {
    veth_pair_mtu(1500)
}

fn veth_pair_mtu(mtu: u32) -> Result<(NetNs, NetNs)> {
    let a = NetNs::create().map_err(anyhow::Error::msg)?;
    let b = NetNs::create().map_err(anyhow::Error::msg)?;
    a.ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b.name()])
        .map_err(anyhow::Error::msg)?;
    a.ip(&["addr", "add", "10.9.1.1/24", "dev", "veth0"]).map_err(anyhow::Error::msg)?;
    b.ip(&["addr", "add", "10.9.1.2/24", "dev", "veth1"]).map_err(anyhow::Error::msg)?;
    let mtu = mtu.to_string();
    a.ip(&["link", "set", "veth0", "mtu", &mtu, "up"]).map_err(anyhow::Error::msg)?;
    b.ip(&["link", "set", "veth1", "mtu", &mtu, "up"]).map_err(anyhow::Error::msg)?;
    Ok((a, b))
}

/// A namespace with `tap0` at 10.0.0.1/24.
pub(crate) fn tap_ns() -> Result<NetNs> {
    tap_ns_mtu(1500)
}

fn tap_ns_mtu(mtu: u32) -> Result<NetNs> {
    let ns = NetNs::create().map_err(anyhow::Error::msg)?;
    ns.add_tap("tap0", &["10.0.0.1/24"]).map_err(anyhow::Error::msg)?;
    ns.ip(&["link", "set", "tap0", "mtu", &mtu.to_string()]).map_err(anyhow::Error::msg)?;
    Ok(ns)
}

fn spawn(ns: &NetNs, program: &Path, args: &[&str]) -> Running {
    let mut c = ns.command(program.to_str().unwrap_or_default());
    c.args(args);
    Running::spawn(&mut c)
}

/// Runs the TCP client inside `ns`; returns (seconds, Mbit/s each way).
fn tcp_through(ns: &NetNs, addr: &str, mib: u64) -> Result<(f64, f64)> {
    let me = std::env::current_exe()?;
    let out = ns_run(ns, me.to_str().unwrap_or_default(), &["tcp-client", addr, &mib.to_string()])?;
    let secs: f64 = out.trim().parse().with_context(|| format!("client said {out}"))?;
    Ok((secs, (mib as f64 * 8.0 * 1.048_576) / secs))
}

/// The hidden `tcp-client` subcommand: prints the seconds the transfer took.
pub fn tcp_client(addr: &str, mib: u64) -> Result<()> {
    let total = mib << 20;
    let mut s = None;
    for _ in 0..100 {
        match std::net::TcpStream::connect(addr) {
            Ok(c) => {
                s = Some(c);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let s = s.with_context(|| format!("connecting to {addr}"))?;
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let block = vec![0x5au8; 256 << 10];
        let mut left = total;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            w.write_all(&block[..n])?;
            left -= n as u64;
        }
        w.shutdown(std::net::Shutdown::Write)
    });
    let mut r = s;
    let mut buf = vec![0u8; 256 << 10];
    let mut got = 0u64;
    while got < total {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    writer.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
    if got != total {
        bail!("echoed {got} of {total} bytes");
    }
    println!("{:.3}", start.elapsed().as_secs_f64());
    Ok(())
}

fn tap_packets(ns: &NetNs) -> u64 {
    // `ip -s link` prints RX then TX "bytes packets ..." lines.
    let out = ns.ip_output(&["-s", "link", "show", "tap0"]);
    let lines: Vec<&str> = out.lines().collect();
    let mut total = 0;
    for (i, l) in lines.iter().enumerate() {
        if (l.trim_start().starts_with("RX:") || l.trim_start().starts_with("TX:"))
            && let Some(next) = lines.get(i + 1)
        {
            total += next.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

fn hvt_exits(oasis: &Path, echo: &Path) -> Result<()> {
    let ns = tap_ns()?;
    let mut guest = spawn(
        &ns,
        oasis,
        &[
            "hvt",
            echo.to_str().unwrap_or_default(),
            "--mem=64M",
            "--net=service=tap0",
            "--stats",
            "--timeout=90s",
            "--",
            "--ipv4",
            "10.0.0.2/24",
            // Ends the guest after the TCP run, so --stats reports: the
            // supervisor kills a guest at --timeout, counts and all.
            "--exit-after",
            "1",
        ],
    );
    guest.wait_for("listening on port 7", Duration::from_secs(120));
    let before = tap_packets(&ns);
    let pings = 5000;
    let secs = ping_flood(&ns, "10.0.0.2", pings)?;
    let after_ping = tap_packets(&ns);
    let (tcp_secs, _) = tcp_through(&ns, "10.0.0.2:7", 8)?;
    let after_tcp = tap_packets(&ns);
    let out = guest.wait_for("vm-exits: ", Duration::from_secs(120));
    let exits: u64 = out.lines().find_map(|l| l.strip_prefix("vm-exits: ")).and_then(|v| v.parse().ok()).unwrap_or(0);
    let frames = after_tcp - before;
    println!(
        "hvt (software-emulated KVM): {pings} pings in {secs:.2} s and 8 MiB echoed in {tcp_secs:.2} s: \
         {frames} frames ({} ping, {} TCP), {exits} VM exits in the whole run including boot: {:.3} exits per frame",
        after_ping - before,
        after_tcp - after_ping,
        exits as f64 / frames.max(1) as f64
    );
    Ok(())
}

/// `oasis-bench net`.
pub fn net(pings: u32, mib: u64, solo5: Option<PathBuf>) -> Result<()> {
    let oasis = super::build_oasis()?;
    let echo = super::build_image(&oasis, "unikernels/echo", "spt")?;
    let echo_unix = super::build_image(&oasis, "unikernels/echo", "unix")?;

    println!("## ICMP echo: ping -q -f -l 32 -c {pings}, {ROUNDS} rounds interleaved, median\n");
    println!("| peer | seconds (median) | min–max | pings/s | time / Oasis |");
    println!("|---|---|---|---|---|");
    // Every peer runs for the whole test, each in its namespace.
    let oasis_ns = tap_ns()?;
    let mut oasis_platform_tender = spawn(
        &oasis_ns,
        &oasis,
        &["spt", echo.to_str().unwrap_or_default(), "--net:service=tap0", "--", "--ipv4", "10.0.0.2/24"],
    );
    oasis_platform_tender.wait_for("listening on port 7", Duration::from_secs(60));
    let mut peers: Vec<(&str, NetNs, &str, Option<Running>)> =
        vec![("Oasis echo on spt", oasis_ns, "10.0.0.2", Some(oasis_platform_tender))];
    if let Some(dir) = &solo5 {
        let tender = dir.join("tenders/spt/solo5-spt");
        let image = dir.join("tests/test_net/test_net.spt");
        if tender.is_file() && image.is_file() {
            let ns = tap_ns()?;
            let g = spawn(&ns, &tender, &["--mem=2", "--net:service0=tap0", "--", image.to_str().unwrap_or_default()]);
            std::thread::sleep(Duration::from_millis(500));
            peers.push(("Solo5 test_net on spt", ns, "10.0.0.2", Some(g)));
        } else {
            eprintln!("no Solo5 spt build under {}; leaving it out", dir.display());
        }
    }
    let (linux_a, _linux_b) = veth_pair()?;
    peers.push(("Linux namespace (veth)", linux_a, "10.9.1.2", None));
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); peers.len()];
    for _ in 0..ROUNDS {
        for (i, (_, ns, addr, _)) in peers.iter().enumerate() {
            times[i].push(ping_flood(ns, addr, pings)?);
        }
    }
    let medians: Vec<(f64, f64, f64)> = times.iter_mut().map(|t| stats(t)).collect();
    for ((name, ..), (median, min, max)) in peers.iter().zip(&medians) {
        println!(
            "| {name} | {median:.3} | {min:.3}–{max:.3} | {:.0} | {:.2} |",
            pings as f64 / median,
            median / medians[0].0
        );
    }
    drop(peers);

    println!("\n## TCP echo: {mib} MiB both ways through one connection\n");
    println!("| server | link MTU | seconds, median (min–max) of {ROUNDS} | Mbit/s each way | vs Linux at that MTU |");
    println!("|---|---|---|---|---|");
    for mtu in [1500, 9000] {
        let (a, b) = veth_pair_mtu(mtu)?;
        let mut linux_guest = spawn(&b, &echo_unix, &["--port", "7"]);
        linux_guest.wait_for("listening on port 7", Duration::from_secs(30));
        let ns = tap_ns_mtu(mtu)?;
        let mut ours_guest = spawn(
            &ns,
            &oasis,
            &[
                "spt",
                echo.to_str().unwrap_or_default(),
                "--mem=256M",
                "--net:service=tap0",
                "--",
                "--ipv4",
                "10.0.0.2/24",
                "--tcp-buffer",
                "1048576",
            ],
        );
        ours_guest.wait_for("listening on port 7", Duration::from_secs(60));
        let (mut ours, mut linux) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            ours.push(tcp_through(&ns, "10.0.0.2:7", mib)?.0);
            linux.push(tcp_through(&a, "10.9.1.2:7", mib)?.0);
        }
        let rate = |secs: f64| mib as f64 * 8.0 * 1.048_576 / secs;
        let (o, l) = (stats(&mut ours), stats(&mut linux));
        println!(
            "| Oasis echo on spt (own stack, TAP, 1 MiB TCP buffers) | {mtu} | {:.2} ({:.2}–{:.2}) | {:.0} | {:.2} |",
            o.0,
            o.1,
            o.2,
            rate(o.0),
            rate(o.0) / rate(l.0)
        );
        println!(
            "| echo on Linux's stack (unix target, veth) | {mtu} | {:.2} ({:.2}–{:.2}) | {:.0} | 1.00 |",
            l.0,
            l.1,
            l.2,
            rate(l.0)
        );
    }
    {
        let (a, b) = veth_pair()?;
        let _server = spawn(&b, Path::new("iperf3"), &["-s", "-1"]);
        std::thread::sleep(Duration::from_millis(300));
        let out = ns_run(&a, "iperf3", &["-c", "10.9.1.2", "-t", "3", "-f", "m"])?;
        let line = out.lines().rev().find(|l| l.contains("receiver")).unwrap_or_default().to_string();
        println!("\niperf3 between two Linux namespaces (veth), for the link's capacity: {}", line.trim());
    }
    println!();
    hvt_exits(&oasis, &echo)
}
