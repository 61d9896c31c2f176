//! `oasis-bench`: measures Oasis side by side with its peers in one run and
//! prints a Markdown table with min/median/max and ratios to the first row.
//!
//! Every command is started as a whole process, timed from spawning to its
//! reaping, after warm-up runs that are not counted. Tender memory comes
//! from the tender's own `--stats` (`VmHWM`, which unlike `ru_maxrss` does
//! not count the parent's pages from before `exec`). Runs of the compared commands are interleaved
//! (A B C A B C …) so drift in machine speed affects all alike.
//!
//! Usage: `oasis-bench boot|hvt|net|block|kv|www|dns …`, see `--help`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Oasis benchmarks, side by side with peers")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Boot time of hello on spt (and unix), against /bin/true and Solo5 spt
    Boot {
        /// Counted runs of each command
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// A Solo5 build directory (with tenders/spt/solo5-spt and tests/)
        #[arg(long)]
        solo5: Option<PathBuf>,
    },
    /// Networking: ping flood rate and TCP throughput against Solo5 and a
    /// Linux namespace; hvt VM exits per frame
    Net {
        /// Pings in the flood
        #[arg(long, default_value_t = 100_000)]
        pings: u32,
        /// MiB to echo in the throughput test
        #[arg(long, default_value_t = 512)]
        mib: u64,
        /// A Solo5 build directory
        #[arg(long)]
        solo5: Option<PathBuf>,
    },
    /// (internal) A TCP echo client: sends MIB MiB to ADDR and reads them back
    #[command(hide = true)]
    TcpClient {
        /// The echo server
        addr: String,
        /// MiB to send
        mib: u64,
    },
    /// Raw block throughput: the blockbench guest on spt against fio (or
    /// dd) and a plain pread/pwrite loop on the same file; hvt VM exits per
    /// block request
    Block {
        /// Size of the test file in MiB
        #[arg(long, default_value_t = 256)]
        mib: u64,
        /// Rounds of each pattern, interleaved across peers
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// Requests in each hvt run (software-emulated KVM: keep it small)
        #[arg(long, default_value_t = 1000)]
        hvt_ops: u64,
        /// Where to make the test file (default: the temporary directory)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Key-value store: the kv unikernel (unix and spt) against
    /// redis-server, durable and in memory, with redis-benchmark; hvt VM
    /// exits per durable SET
    Kv {
        /// Requests per redis-benchmark test, unpipelined
        #[arg(long, default_value_t = 100_000)]
        requests: u64,
        /// Requests per redis-benchmark test when pipelined
        #[arg(long, default_value_t = 400_000)]
        pipelined_requests: u64,
        /// Pipeline depth of the pipelined tests (redis-benchmark -P)
        #[arg(long, default_value_t = 16)]
        pipeline: u32,
        /// Rounds, interleaved across servers
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// SETs against kv on hvt for exits per SET (0: no hvt run)
        #[arg(long, default_value_t = 200)]
        hvt_sets: u64,
        /// Where to put the disk files and Redis's directories (default:
        /// the temporary directory)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Web serving: www (unix, spt, through -p) against nginx with wrk;
    /// many connections, the smallest --mem, hvt VM exits per request
    Www(www::Options),
    /// DNS: the dns unikernel (unix and spt) against NSD and Knot with
    /// dnsperf; hvt VM exits per query; zone loading; image size; the
    /// smallest --mem
    Dns {
        /// Seconds per dnsperf run
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Rounds, interleaved across servers
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Records in the zone served under dnsperf
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Records in the zone whose loading is timed
        #[arg(long, default_value_t = 1_000_000)]
        load_records: usize,
        /// Queries against dns on hvt for exits per query (0: no hvt run)
        #[arg(long, default_value_t = 200)]
        hvt_queries: usize,
        /// Only these parts (unix, spt, hvt, load, size, mem; default all)
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Boot time and VM exits of hello on hvt, against Solo5 hvt
    Hvt {
        /// Counted runs of each command
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// A Solo5 build directory
        #[arg(long)]
        solo5: Option<PathBuf>,
    },
}

/// One timed run.
struct Sample {
    wall: Duration,
    status: i32,
}

fn run_once(argv: &[String]) -> Result<Sample> {
    let start = Instant::now();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", argv[0]))?;
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid out-pointer.
    let pid = unsafe { libc::waitpid(child.id() as i32, &mut status, 0) };
    let wall = start.elapsed();
    if pid < 0 {
        bail!("waitpid failed: {}", std::io::Error::last_os_error());
    }
    Ok(Sample { wall, status: libc::WEXITSTATUS(status) })
}

struct Row {
    name: String,
    argv: Vec<String>,
    samples: Vec<Sample>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn measure(rows: &mut [Row], runs: usize, warmup: usize) -> Result<()> {
    for i in 0..runs + warmup {
        for row in rows.iter_mut() {
            let s = run_once(&row.argv)?;
            if s.status != 0 {
                bail!("{} exited with status {}", row.argv.join(" "), s.status);
            }
            if i >= warmup {
                row.samples.push(s);
            }
        }
    }
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!("| command | runs | min ms | median ms | max ms | median / first |");
    println!("|---|---|---|---|---|---|");
    let mut first_median = None;
    for row in rows {
        let mut ms: Vec<f64> = row.samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let median = percentile(&ms, 0.5);
        let base = *first_median.get_or_insert(median);
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.2} |",
            row.name,
            ms.len(),
            ms[0],
            median,
            ms[ms.len() - 1],
            median / base
        );
    }
}

mod block;
mod dns;
mod kv;
mod net;
mod www;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds the CLI and hello (guest and unix), returning their paths.
fn build() -> Result<(PathBuf, PathBuf, PathBuf)> {
    let oasis = build_oasis()?;
    Ok((
        oasis.clone(),
        build_image(&oasis, "unikernels/hello", "spt")?,
        build_image(&oasis, "unikernels/hello", "unix")?,
    ))
}

/// The static `oasis` from scripts/build-oasis.
fn build_oasis() -> Result<PathBuf> {
    let root = workspace();
    // The static build users get from scripts/build-oasis.
    let out = Command::new(root.join("scripts/build-oasis")).output()?;
    if !out.status.success() {
        bail!("scripts/build-oasis failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Builds unikernel `dir` for `target` with `oasis`.
fn build_image(oasis: &Path, dir: &str, target: &str) -> Result<PathBuf> {
    let out = Command::new(oasis).current_dir(workspace()).args(["build", dir, "--target", target]).output()?;
    if !out.status.success() {
        bail!("oasis build {dir} --target {target} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim()))
}

fn stripped_size(image: &Path) -> Result<u64> {
    let out = std::env::temp_dir().join("oasis-bench-stripped");
    let status = Command::new("strip").arg("-o").arg(&out).arg(image).status().context("running strip (binutils)")?;
    if !status.success() {
        bail!("strip failed");
    }
    Ok(std::fs::metadata(&out)?.len())
}

fn s(x: &Path) -> String {
    x.display().to_string()
}

fn boot(runs: usize, solo5: Option<PathBuf>) -> Result<()> {
    let (oasis, guest, unix) = build()?;
    let mut rows = vec![
        Row { name: "/bin/true".into(), argv: vec!["/bin/true".into()], samples: vec![] },
        Row {
            name: "oasis spt hello --ticks 0".into(),
            argv: vec![s(&oasis), "spt".into(), s(&guest), "--".into(), "--ticks".into(), "0".into()],
            samples: vec![],
        },
        Row {
            name: "hello (unix) --ticks 0".into(),
            argv: vec![s(&unix), "--ticks".into(), "0".into()],
            samples: vec![],
        },
    ];
    if let Some(dir) = &solo5 {
        let tender = dir.join("tenders/spt/solo5-spt");
        let image = dir.join("tests/test_hello/test_hello.spt");
        if tender.is_file() && image.is_file() {
            rows.push(Row {
                name: "solo5-spt test_hello.spt".into(),
                argv: vec![s(&tender), s(&image)],
                samples: vec![],
            });
        } else {
            eprintln!("no Solo5 spt build under {}; leaving it out", dir.display());
        }
    }
    measure(&mut rows, runs, 10)?;
    println!("Boot: whole-process wall time, {runs} runs each, interleaved.\n");
    print_table(&rows);
    println!(
        "\nhello image: {} bytes stripped ({} unstripped)",
        stripped_size(&guest)?,
        std::fs::metadata(&guest)?.len()
    );
    let m = tender_stats(&oasis, "spt", &guest, &["peak-rss-kib", "guest-touched-kib", "hypercalls"])?;
    println!(
        "oasis spt hello --ticks 0: peak RSS {} KiB, of which guest memory touched {} KiB; {} hypercalls",
        m[0], m[1], m[2]
    );
    Ok(())
}

/// Runs `oasis TENDER hello --stats` once and returns the named figures.
fn tender_stats(oasis: &Path, tender: &str, guest: &Path, keys: &[&str]) -> Result<Vec<String>> {
    let out = Command::new(oasis).arg(tender).arg(guest).args(["--stats", "--", "--ticks", "0"]).output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    Ok(keys
        .iter()
        .map(|k| text.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap_or("?").to_string())
        .collect())
}

fn hvt(runs: usize, solo5: Option<PathBuf>) -> Result<()> {
    let (oasis, guest, _) = build()?;
    let mut rows = vec![Row {
        name: "oasis hvt hello --ticks 0".into(),
        argv: vec![s(&oasis), "hvt".into(), s(&guest), "--".into(), "--ticks".into(), "0".into()],
        samples: vec![],
    }];
    if let Some(dir) = &solo5 {
        let tender = dir.join("tenders/hvt/solo5-hvt");
        let image = dir.join("tests/test_hello/test_hello.hvt");
        if tender.is_file() && image.is_file() {
            rows.push(Row {
                name: "solo5-hvt test_hello.hvt".into(),
                argv: vec![s(&tender), s(&image)],
                samples: vec![],
            });
            rows.push(Row {
                name: "solo5-hvt --solo5:quiet test_hello.hvt".into(),
                argv: vec![s(&tender), s(&image), "--solo5:quiet".into()],
                samples: vec![],
            });
        } else {
            eprintln!("no Solo5 hvt build under {}; leaving it out", dir.display());
        }
    }
    measure(&mut rows, runs, 3)?;
    println!("hvt boot: whole-process wall time, {runs} runs each, interleaved.\n");
    print_table(&rows);
    let m = tender_stats(&oasis, "hvt", &guest, &["vm-exits", "peak-rss-kib", "guest-touched-kib"])?;
    println!(
        "\noasis hvt hello --ticks 0: {} VM exits; peak RSS {} KiB, of which guest memory touched {} KiB",
        m[0], m[1], m[2]
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().bench {
        Bench::Boot { runs, solo5 } => boot(runs, solo5),
        Bench::Hvt { runs, solo5 } => hvt(runs, solo5),
        Bench::Net { pings, mib, solo5 } => net::net(pings, mib, solo5),
        Bench::Block { mib, rounds, hvt_ops, dir } => block::block(mib, rounds, hvt_ops, dir),
        Bench::Kv { requests, pipelined_requests, pipeline, rounds, hvt_sets, dir } => {
            kv::kv(requests, pipelined_requests, pipeline, rounds, hvt_sets, dir)
        }
        Bench::Dns { seconds, rounds, records, load_records, hvt_queries, only } => {
            dns::dns(seconds, rounds, records, load_records, hvt_queries, &only)
        }
        Bench::TcpClient { addr, mib } => net::tcp_client(&addr, mib),
        Bench::Www(options) => www::www(options),
    }
}
