//! Crash tests of the on-disk key-value store through a real tender: the
//! `kv_crash` guest runs a seeded workload of sets, removes, renames and
//! batches on a small device (so compaction runs all the time), and the
//! test SIGKILLs the tender at a random moment, again and again on the same
//! disk image. After every kill the host opens the image and checks:
//!
//! - the store opens and `check` finds nothing wrong;
//! - its contents are exactly the state before the run plus a prefix of the
//!   run's operations, no shorter than the last one the guest reported as
//!   flushed (`acked N`) and at most a few past it: every acknowledged
//!   write is there with its exact value, no value is torn (values carry
//!   their own identity and length), and a batch is all there or not at all.
//!
//! `OASIS_CRASH_ROUNDS` sets the number of kills on spt (default 200);
//! `OASIS_CRASH_SEED` replays a run (each run prints its seed).

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oasis_kv::testing::Rng;
use oasis_kv::testing::workload::{Model, matching_prefix};
use oasis_kv::tools::{block_on, get, ls};
use oasis_kv::{DiskKv, FileDevice, FormatOptions, OpenOptions};
use oasis_testkit::{guest_images, kvm_available, kvm_is_emulated, skip, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");

/// The guest syncs after at most this many operations, so a crash can keep
/// at most this many past the last acknowledgement (plus those of a sync
/// whose acknowledgement the kill cut off).
const MAX_UNACKED: u64 = 16;

fn disk(name: &str, size: u64, store_id: u64) -> PathBuf {
    let dir = workspace_root().join("target/oasis/crash-disks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let mut dev = FileDevice::create(&path, size, 512).unwrap();
    let options = FormatOptions { max_value_len: 32 << 10, ..FormatOptions::new(store_id) };
    block_on(DiskKv::format(&mut dev, &options)).unwrap();
    path
}

/// Opens the image as a host tool does (read-only), checks it, and reads
/// everything in it.
fn contents(path: &Path, what: &str) -> (Model, u64) {
    let dev = FileDevice::open(path, 512, false).unwrap();
    let report = block_on(oasis_kv::disk::check(&mut FileDevice::open(path, 512, false).unwrap())).unwrap();
    assert!(report.is_clean(), "{what}: check found problems:\n{report}");
    let kv = block_on(DiskKv::open(dev, OpenOptions { read_only: true, ..OpenOptions::default() }))
        .unwrap_or_else(|e| panic!("{what}: the store does not open: {e}"));
    let keys = ls(&kv, "").unwrap_or_default();
    let model = keys.into_iter().map(|(k, _)| (k.clone(), get(&kv, &k).unwrap())).collect();
    (model, block_on(kv.info()).generation)
}

struct Tally {
    rounds: u64,
    acked_rounds: u64,
    unacked_survived: u64,
    acked_ops: u64,
}

/// Waits until nobody holds `disk`'s lock (the tenders hold it while they
/// run), so what is read next is what the killed run left.
fn wait_until_released(disk: &Path) {
    let file = std::fs::File::open(disk).unwrap();
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return,
            Err(_) if start.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("{}: still locked 30 s after the kill: {e}", disk.display()),
        }
    }
}

/// When to kill a run.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This long after starting the tender: during boot or recovery.
    Early(Duration),
    /// This long after the guest has opened the store: mid-workload.
    Working(Duration),
}

/// One run of the guest on `target`, SIGKILLed as `kill` says; returns
/// the last acknowledged operation count and the guest's output.
fn run_and_kill(target: &str, image: &Path, disk: &Path, seed: u64, kill: Kill) -> (u64, String) {
    let mut child = Command::new(OASIS)
        .arg(target)
        .arg(image)
        .arg(format!("--block:storage={}", disk.display()))
        .arg("--")
        .args(["--seed", &seed.to_string(), "--ops", "10000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let output = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let start = Instant::now();
    let (mut opened_at, delay) = match kill {
        Kill::Early(d) => (Some(start), d),
        Kill::Working(d) => (None, d),
    };
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if opened_at.is_none() && output.lock().unwrap().contains("opened ") {
            opened_at = Some(Instant::now());
        }
        if opened_at.is_some_and(|t| t.elapsed() >= delay) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the guest never opened the store:\n{}",
            output.lock().unwrap()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let exited_early = child.try_wait().unwrap();
    // The crash: SIGKILL the process that runs the guest and writes the
    // disk (the tender's supervisor outlives it and reports it). Killing
    // the supervisor instead would let the guest go on until the kernel
    // delivers its death to the child, writing what the test never sees
    // acknowledged.
    match oasis_testkit::guest_process(child.id(), Duration::from_millis(500)) {
        // SAFETY: kill has no memory effects; `guest` is the supervisor's
        // live child.
        Some(guest) => unsafe {
            libc::kill(guest as i32, libc::SIGKILL);
        },
        None => {
            let _ = child.kill();
        }
    }
    child.wait().unwrap();
    wait_until_released(disk);
    reader.join().unwrap();
    let out = output.lock().unwrap().clone();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    if let Some(status) = exited_early {
        panic!("the guest stopped by itself ({status}) before the kill:\n{out}{err}");
    }
    let acked =
        out.lines().filter_map(|l| l.strip_prefix("acked ")).filter_map(|n| n.parse().ok()).next_back().unwrap_or(0);
    (acked, out)
}

/// `rounds` kills on `target`: early ones up to `early_us` after start,
/// the others up to `working_us` into the workload.
fn crash_rounds(target: &str, rounds: u64, early_us: u64, working_us: u64, expect_compaction: bool) {
    let seed = std::env::var("OASIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("kv crash test on {target}: {rounds} kills, OASIS_CRASH_SEED={seed}");
    let image = guest_images().path("kv_crash");
    let disk = disk(&format!("kv-crash-{target}.img"), 1 << 20, seed | 1);
    let mut rng = Rng::new(seed);
    let mut state = Model::new();
    let mut tally = Tally { rounds: 0, acked_rounds: 0, unacked_survived: 0, acked_ops: 0 };
    let mut generation = 0;
    for round in 0..rounds {
        let run_seed = seed.wrapping_add(round);
        // Mostly well into the workload, sometimes during boot and recovery.
        let kill = if rng.chance(1, 8) {
            Kill::Early(Duration::from_micros(rng.below(early_us)))
        } else {
            Kill::Working(Duration::from_micros(rng.below(working_us)))
        };
        let (acked, out) = run_and_kill(target, &image, &disk, run_seed, kill);
        let what = format!("{target} round {round} (OASIS_CRASH_SEED={seed}, {kill:?}, acked {acked})");
        let (found, g) = contents(&disk, &what);
        let Some(kept) = matching_prefix(&state, run_seed, acked, acked + MAX_UNACKED, &found) else {
            panic!(
                "{what}: the store holds no state the workload could have left\nguest output (tail):\n{}",
                out.lines().rev().take(5).collect::<Vec<_>>().join("\n")
            );
        };
        tally.rounds += 1;
        tally.acked_ops += acked;
        if acked > 0 {
            tally.acked_rounds += 1;
        }
        if kept > acked {
            tally.unacked_survived += 1;
        }
        generation = g;
        state = found;
    }
    eprintln!(
        "kv crash test on {target}: {} kills; {} after acknowledged writes ({} operations acknowledged in all); \
         {} kept unacknowledged operations too; {} superblock generations (opens and compactions); {} keys at the end",
        tally.rounds,
        tally.acked_rounds,
        tally.acked_ops,
        tally.unacked_survived,
        generation,
        state.len()
    );
    // Not vacuous: most kills landed mid-workload, and compaction ran.
    assert!(tally.acked_rounds * 2 >= tally.rounds, "too few kills landed after a flush: raise the delays");
    if expect_compaction {
        assert!(generation > tally.rounds + 10, "compaction never ran: the device is too large for the workload");
    }
}

#[test]
fn sigkill_spt_200_times() {
    let rounds = std::env::var("OASIS_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    crash_rounds("spt", rounds, 5_000, 100_000, true);
}

#[test]
fn sigkill_hvt() {
    if let Err(why) = kvm_available() {
        skip("sigkill_hvt", &why);
        return;
    }
    // Under software-emulated KVM every block call is a slow VM exit:
    // fewer rounds, longer runs.
    if kvm_is_emulated() {
        crash_rounds("hvt", 8, 2_000_000, 3_000_000, false);
    } else {
        crash_rounds("hvt", 50, 50_000, 200_000, true);
    }
}
