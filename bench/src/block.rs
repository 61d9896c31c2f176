//! Raw block throughput, side by side on one test file:
//!
//! - Oasis: the `blockbench` guest on spt (`--block:storage=FILE`), timed
//!   by the guest's own clock around its I/O loop.
//! - fio, when installed: the same pattern with `ioengine=psync`
//!   (one `pread`/`pwrite` per request), `direct=0`, the same sizes, its
//!   own bandwidth figure. Without fio, `dd` for the sequential patterns.
//! - A plain host loop in this program: `pread`/`pwrite` at exactly the
//!   offsets the guest uses (the same PRNG), the floor any tender could
//!   reach with one system call per request.
//!
//! Reads run against a warm page cache (the file is read once before the
//! first run); writes go to the page cache and end with one flush to disk,
//! inside the timed span, in every peer (the guest's `BLOCK_FLUSH` is
//! `fdatasync`; fio's `end_fsync=1` is `fsync`, the host loop's
//! `fdatasync`). Runs are interleaved per pattern (Oasis, fio, loop,
//! Oasis, …) and medians reported.
//!
//! Then hvt: a small run of each kind with `--stats`, for VM exits per
//! block request (CPU-independent; the time is software-emulated KVM's).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::s;

/// One I/O pattern.
struct Pattern {
    mode: &'static str,
    io_size: u64,
    /// How many times the requests cover the file (reads run several
    /// passes so each run lasts long enough for fio's millisecond clock).
    passes: u64,
}

impl Pattern {
    fn write(&self) -> bool {
        self.mode.ends_with("write")
    }

    fn random(&self) -> bool {
        self.mode.starts_with("rand")
    }

    fn label(&self) -> String {
        let size = match self.io_size {
            n if n >= 1 << 20 => format!("{} MiB", n >> 20),
            n if n >= 1 << 10 => format!("{} KiB", n >> 10),
            n => format!("{n} B"),
        };
        format!("{} {size}", self.mode)
    }

    fn count(&self, file_size: u64) -> u64 {
        self.passes * (file_size / self.io_size)
    }
}

const PATTERNS: &[Pattern] = &[
    Pattern { mode: "seq-read", io_size: 4 << 10, passes: 4 },
    Pattern { mode: "rand-read", io_size: 4 << 10, passes: 4 },
    Pattern { mode: "seq-write", io_size: 4 << 10, passes: 1 },
    Pattern { mode: "rand-write", io_size: 4 << 10, passes: 1 },
    Pattern { mode: "seq-read", io_size: 64 << 10, passes: 4 },
    Pattern { mode: "seq-write", io_size: 64 << 10, passes: 1 },
    Pattern { mode: "seq-read", io_size: 1 << 20, passes: 4 },
    Pattern { mode: "seq-write", io_size: 1 << 20, passes: 1 },
    // One sector per request, as Solo5's block API allows.
    Pattern { mode: "seq-read", io_size: 512, passes: 1 },
];

/// The seed of every random pattern (guest and host loop use the same
/// offsets; fio draws its own with `randseed`).
const SEED: u64 = 42;

/// One timed run: bytes moved and seconds taken.
#[derive(Clone, Copy)]
struct Run {
    bytes: u64,
    ops: u64,
    secs: f64,
}

/// The comparison's peers.
enum Peer {
    Oasis { oasis: PathBuf, guest: PathBuf },
    Fio,
    Dd,
    Loop,
}

impl Peer {
    fn name(&self) -> &'static str {
        match self {
            Peer::Oasis { .. } => "Oasis on spt",
            Peer::Fio => "fio",
            Peer::Dd => "dd",
            Peer::Loop => "loop",
        }
    }

    fn legend(&self) -> &'static str {
        match self {
            Peer::Oasis { .. } => "",
            Peer::Fio => "fio: ioengine=psync, end_fsync=1 for writes, its own bandwidth figure.",
            Peer::Dd => {
                "dd: one pass, to /dev/null or from /dev/zero with conv=fdatasync; \
                 a read and a write call per request, so only a rough figure."
            }
            Peer::Loop => "loop: pread/pwrite at the guest's offsets, in oasis-bench.",
        }
    }

    /// Runs `p` on `file`, or `None` when this peer cannot do it.
    fn run(&self, p: &Pattern, file: &Path, file_size: u64) -> Result<Option<Run>> {
        let count = p.count(file_size);
        match self {
            Peer::Oasis { oasis, guest } => oasis_run(oasis, guest, "spt", p, file, count).map(|(r, _)| Some(r)),
            Peer::Fio => fio_run(p, file, file_size, count).map(Some),
            Peer::Dd if p.random() => Ok(None),
            Peer::Dd => dd_run(p, file, file_size).map(Some),
            Peer::Loop => host_loop(p, file, count).map(Some),
        }
    }
}

/// SplitMix64, the same generator as the guest's.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn fill(buf: &mut [u8], rng: &mut SplitMix) {
    for chunk in buf.chunks_mut(8) {
        let word = rng.next().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// `oasis TENDER blockbench`; returns the guest's figures and the
/// tender's stderr (with `--stats`, its counts).
fn oasis_run(oasis: &Path, guest: &Path, tender: &str, p: &Pattern, file: &Path, count: u64) -> Result<(Run, String)> {
    let mut cmd = Command::new(oasis);
    cmd.arg(tender).arg(guest).arg(format!("--block:storage={}", file.display())).arg("--stats");
    cmd.args(["--", "--mode", p.mode, "--io-size", &p.io_size.to_string(), "--count", &count.to_string()]);
    cmd.args(["--seed", &SEED.to_string()]);
    let out = cmd.output().context("running oasis")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("oasis {tender} blockbench --mode {} failed: {stdout}{stderr}", p.mode);
    }
    let line = stdout.lines().find_map(|l| l.strip_prefix("blockbench: ")).context("no blockbench line")?;
    let field = |k: &str| -> Result<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {k} in '{line}'"))
    };
    let run = Run { bytes: field("bytes")?, ops: field("ops")?, secs: field("ns")? as f64 / 1e9 };
    Ok((run, stderr))
}

/// fio with psync, warm cache (`invalidate=0`), no access-pattern hints
/// (`fadvise_hint=0`, as the tender gives none), uniform random offsets
/// with replacement like the guest's (`norandommap`), and few clock reads
/// (`gtod_reduce`) so fio's own bookkeeping costs little.
fn fio_run(p: &Pattern, file: &Path, file_size: u64, count: u64) -> Result<Run> {
    let rw = match p.mode {
        "seq-read" => "read",
        "seq-write" => "write",
        "rand-read" => "randread",
        _ => "randwrite",
    };
    let bytes = count * p.io_size;
    let mut cmd = Command::new("fio");
    cmd.args(["--name=oasis-bench", "--ioengine=psync", "--direct=0", "--invalidate=0", "--fadvise_hint=0"]);
    cmd.args(["--gtod_reduce=1", "--norandommap", "--output-format=terse"]);
    cmd.arg(format!("--filename={}", file.display()));
    cmd.arg(format!("--rw={rw}"));
    cmd.arg(format!("--bs={}", p.io_size));
    cmd.arg(format!("--size={file_size}"));
    cmd.arg(format!("--io_size={bytes}"));
    cmd.arg(format!("--randseed={SEED}"));
    if p.write() {
        cmd.arg("--end_fsync=1");
    }
    let out = cmd.output().context("running fio")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("fio failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    }
    // Terse format 3: field 5 is the error, 6 and 9 read KiB and
    // runtime (ms), 47 and 50 the same for writes (1-based).
    let fields: Vec<&str> =
        stdout.lines().find(|l| l.starts_with("3;")).context("no terse line from fio")?.split(';').collect();
    let num = |i: usize| -> Result<u64> {
        fields.get(i).and_then(|v| v.parse().ok()).with_context(|| format!("fio terse field {} in {stdout}", i + 1))
    };
    let (kib, ms) = if p.write() { (num(46)?, num(49)?) } else { (num(5)?, num(8)?) };
    if num(4)? != 0 || kib * 1024 != bytes {
        bail!("fio moved {kib} KiB, not {} (error {}): {stdout}", bytes / 1024, num(4)?);
    }
    Ok(Run { bytes, ops: count, secs: ms.max(1) as f64 / 1e3 })
}

/// `dd` over the file once: to `/dev/null`, or from `/dev/zero` with
/// `conv=fdatasync`. Two system calls per request (`read` and `write`),
/// so only a rough stand-in for fio.
fn dd_run(p: &Pattern, file: &Path, file_size: u64) -> Result<Run> {
    let count = file_size / p.io_size;
    let mut cmd = Command::new("dd");
    cmd.env("LC_ALL", "C");
    cmd.arg(format!("bs={}", p.io_size)).arg(format!("count={count}"));
    if p.write() {
        cmd.args(["if=/dev/zero", "conv=notrunc,fdatasync"]).arg(format!("of={}", file.display()));
    } else {
        cmd.args(["of=/dev/null"]).arg(format!("if={}", file.display()));
    }
    let out = cmd.output().context("running dd")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("dd failed: {stderr}");
    }
    // "268435456 bytes (268 MB, 256 MiB) copied, 0.0812 s, 3.3 GB/s"
    let secs: f64 = stderr
        .lines()
        .find_map(|l| l.split(" copied, ").nth(1))
        .and_then(|r| r.split(" s").next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no time in dd's output: {stderr}"))?;
    Ok(Run { bytes: count * p.io_size, ops: count, secs: secs.max(1e-6) })
}

/// The guest's loop, in this process: one `pread`/`pwrite` per request at
/// the guest's offsets, then `fdatasync` for writes.
fn host_loop(p: &Pattern, path: &Path, count: u64) -> Result<Run> {
    let file = File::options().read(true).write(p.write()).open(path)?;
    let slots = std::fs::metadata(path)?.len() / p.io_size;
    let mut buf = vec![0u8; p.io_size as usize];
    fill(&mut buf, &mut SplitMix(SEED ^ 0x6f_6173_6973));
    let mut rng = SplitMix(SEED);
    let start = Instant::now();
    for i in 0..count {
        let slot = if p.random() { rng.next() % slots } else { i % slots };
        let offset = slot * p.io_size;
        if p.write() {
            file.write_all_at(&buf, offset)?;
        } else {
            file.read_exact_at(&mut buf, offset)?;
        }
    }
    if p.write() {
        file.sync_data()?;
    }
    Ok(Run { bytes: count * p.io_size, ops: count, secs: start.elapsed().as_secs_f64() })
}

/// The test file, removed when dropped.
struct TestFile(PathBuf);

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `size` bytes of pseudo-random data (not a sparse file), makes
/// it durable, and reads it back once so reads start from a warm cache.
fn make_test_file(dir: &Path, size: u64) -> Result<TestFile> {
    let path = dir.join(format!("oasis-bench-block-{}.img", std::process::id()));
    let guard = TestFile(path.clone());
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut rng = SplitMix(7);
    let mut left = size;
    while left > 0 {
        fill(&mut chunk, &mut rng);
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    let mut warm = 0;
    while warm < size {
        file.read_exact_at(&mut chunk, warm)?;
        warm += chunk.len() as u64;
    }
    Ok(guard)
}

fn available(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// The file system `path` lives on and its device, from the longest
/// mount point in `/proc/mounts` that holds it.
pub(crate) fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && path.starts_with(f[1])).then(|| (f[1].len(), format!("{} on {}", f[2], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, what)| what)
        .unwrap_or_else(|| "an unknown file system".into())
}

/// Median, min and max of `runs` by throughput: (MB/s, IOPS) for each.
fn summary(runs: &[Run]) -> [(f64, f64); 3] {
    let mut v: Vec<(f64, f64)> = runs.iter().map(|r| (r.bytes as f64 / r.secs / 1e6, r.ops as f64 / r.secs)).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    [v[v.len() / 2], v[0], v[v.len() - 1]]
}

fn cell(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "— | —".into();
    }
    let [(mb, iops), (lo, _), (hi, _)] = summary(runs);
    format!("{mb:.0} ({lo:.0}–{hi:.0}) | {iops:.0}")
}

fn ratio(ours: &[Run], theirs: &[Run]) -> String {
    if ours.is_empty() || theirs.is_empty() {
        return "—".into();
    }
    format!("{:.2}", summary(ours)[0].0 / summary(theirs)[0].0)
}

/// `oasis-bench block`.
pub fn block(mib: u64, rounds: usize, hvt_ops: u64, dir: Option<PathBuf>) -> Result<()> {
    if mib == 0 || rounds == 0 || hvt_ops == 0 {
        bail!("--mib, --rounds and --hvt-ops must be at least 1");
    }
    let oasis = super::build_oasis()?;
    let guest = super::build_image(&oasis, "bench/guests/blockbench", "spt")?;
    let dir = dir.unwrap_or_else(std::env::temp_dir);
    let file_size = mib << 20;
    let file = make_test_file(&dir, file_size)?;
    let path = file.0.clone();

    let mut peers = vec![Peer::Oasis { oasis: oasis.clone(), guest: guest.clone() }];
    if available("fio", "--version") {
        peers.push(Peer::Fio);
    } else if available("dd", "--version") {
        eprintln!("no fio (apt-get install fio); using dd for the sequential patterns, no host figure for random ones");
        peers.push(Peer::Dd);
    } else {
        eprintln!("neither fio (apt-get install fio) nor dd; only the host loop to compare with");
    }
    peers.push(Peer::Loop);

    println!(
        "## Raw block I/O: a {mib} MiB file on {} ({}); rounds: {rounds}, interleaved; median (min–max)\n",
        fs_type(&dir),
        dir.display()
    );
    print!(
        "Reads: warm page cache, 4 passes over the file (512 B: 1 pass). Writes: one pass, \
         ending with one flush to disk inside the timed span. MB/s is 10^6 bytes/s. "
    );
    println!("{}\n", peers[1..].iter().map(Peer::legend).collect::<Vec<_>>().join(" "));
    print!("| pattern | Oasis on spt MB/s | IOPS |");
    for peer in &peers[1..] {
        print!(" {} MB/s | IOPS | Oasis / {} |", peer.name(), peer.name());
    }
    println!();
    println!("|---|---|---|{}", "---|---|---|".repeat(peers.len() - 1));
    for p in PATTERNS {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); peers.len()];
        for _ in 0..rounds {
            for (i, peer) in peers.iter().enumerate() {
                if let Some(r) = peer.run(p, &path, file_size)? {
                    runs[i].push(r);
                }
            }
        }
        print!("| {} | {} |", p.label(), cell(&runs[0]));
        for r in &runs[1..] {
            print!(" {} | {} |", cell(r), ratio(&runs[0], r));
        }
        println!();
    }

    if !Path::new("/dev/kvm").exists() {
        println!("\nNo /dev/kvm: hvt left out.");
        return Ok(());
    }
    println!("\n## hvt (software-emulated KVM): VM exits per block request, {hvt_ops} requests each\n");
    println!(
        "| pattern | requests | block calls | other exits | VM exits | block exits per request | µs per request (emulated) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let hvt_patterns = [
        Pattern { mode: "rand-read", io_size: 4 << 10, passes: 0 },
        Pattern { mode: "rand-write", io_size: 4 << 10, passes: 0 },
        Pattern { mode: "seq-read", io_size: 64 << 10, passes: 0 },
        Pattern { mode: "seq-write", io_size: 64 << 10, passes: 0 },
    ];
    for p in &hvt_patterns {
        let (run, stderr) = oasis_run(&oasis, &guest, "hvt", p, &path, hvt_ops)?;
        let count = |kind: &str| -> u64 {
            stderr.lines().filter_map(|l| l.trim().strip_prefix(kind)).find_map(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        let exits =
            stderr.lines().find_map(|l| l.strip_prefix("vm-exits: ")).and_then(|v| v.trim().parse::<u64>().ok());
        let exits = exits.context("no vm-exits in oasis hvt --stats")?;
        let block_calls = count("block-read") + count("block-write") + count("block-flush");
        println!(
            "| {} | {} | {block_calls} | {} | {exits} | {:.3} | {:.1} |",
            p.label(),
            run.ops,
            exits - block_calls,
            block_calls as f64 / run.ops as f64,
            run.secs * 1e6 / run.ops as f64
        );
    }
    println!(
        "\nCommands: {} spt|hvt {} --block:storage=FILE [--stats] -- --mode MODE --io-size N --count N --seed {SEED}",
        s(&oasis),
        s(&guest)
    );
    Ok(())
}
