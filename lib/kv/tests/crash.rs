//! Crash simulation: seeded random workloads on a device with a volatile
//! write cache, cut off at random points (power fails after a random number
//! of writes, so crashes land inside sets, batches, syncs, compactions and
//! opens), crashed (keeping a random prefix or a random subset of the
//! unflushed writes, sometimes tearing one block), and reopened, several
//! times per workload. After every reopen the store must hold exactly the
//! state after some prefix of the operations, no shorter than the last
//! acknowledged sync: nothing acknowledged is lost, no value is torn or
//! stale, and batches are all or nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Model, State, Step, contents, diff, formatted, open_options};
use oasis_devices::DeviceError;
use oasis_kv::testing::{Crash, MemDevice, Rng};
use oasis_kv::tools::block_on;
use oasis_kv::{DiskKv, Durability, FormatOptions, KvError};

fn random_key(rng: &mut Rng) -> String {
    let segments = ["a", "b", "c", "d"];
    let depth = 1 + rng.below(2) as usize;
    (0..depth).map(|_| segments[rng.below(4) as usize]).collect::<Vec<_>>().join("/")
}

fn random_value(rng: &mut Rng, serial: &mut u32) -> Vec<u8> {
    *serial += 1;
    let len = match rng.below(8) {
        0 => 0,
        1 => 300 + rng.below(900) as usize,
        _ => 4 + rng.below(120) as usize,
    };
    // Every value is different: a stale or torn value cannot pass for the
    // right one.
    let mut value = serial.to_le_bytes().to_vec();
    value.resize(len.max(4), 0);
    rng.fill(&mut value[4..]);
    value
}

fn random_simple(rng: &mut Rng, serial: &mut u32) -> Step {
    match rng.below(10) {
        0 | 1 => Step::Remove(random_key(rng)),
        2 => Step::Rename(random_key(rng), random_key(rng)),
        _ => Step::Set(random_key(rng), random_value(rng, serial)),
    }
}

fn random_step(rng: &mut Rng, serial: &mut u32) -> Step {
    match rng.below(12) {
        0 => Step::Sync,
        1 | 2 => Step::Batch((0..1 + rng.below(4)).map(|_| random_simple(rng, serial)).collect()),
        _ => random_simple(rng, serial),
    }
}

fn options(seed: u64) -> FormatOptions {
    FormatOptions { store_id: seed, max_key_len: 16, max_value_len: 1200, max_record_len: Some(2944) }
}

/// One seeded workload: rounds of open, random steps, power cut, crash.
fn workload(seed: u64) {
    let mut rng = Rng::new(seed);
    let durability = if rng.chance(1, 2) { Durability::Always } else { Durability::Explicit };
    let mut dev: MemDevice = formatted(24 * 1024, &options(seed));
    let mut model = Model::new(16, 1200);
    model.max_record = Some(2944);
    let mut serial = 0;
    // The states a crash may leave: the last acknowledged-durable one and
    // every later one, in order.
    let mut candidates: Vec<State> = vec![State::new()];
    let mut round = 0;
    while round < 6 {
        if rng.chance(2, 3) {
            // The power fails after a few writes: during the open (which
            // writes the superblocks) or any step after it.
            dev.cut_power_after(rng.below(300));
        }
        let kv = match block_on(DiskKv::open(dev, open_options(durability))) {
            Ok(kv) => kv,
            Err(failed) => {
                assert_eq!(failed.error, KvError::Device(DeviceError::Gone), "seed {seed} round {round}");
                dev = failed.device;
                let tear = rng.chance(1, 2);
                dev.crash(&mut rng, Crash::Subset, tear);
                continue;
            }
        };
        round += 1;
        if TRACE.with(|t| t.get()) {
            eprintln!("round {round} opened: {:?}", block_on(kv.info()));
        }
        let gen0 = block_on(kv.info()).generation;
        let state = contents(&kv).unwrap();
        if TRACE.with(|t| t.get()) {
            // Values start with their serial number.
            let show = |st: &State| {
                let serial = |v: &[u8]| u32::from_le_bytes(v[..4].try_into().unwrap());
                st.iter().map(|(k, v)| format!("{k}={}", serial(v))).collect::<Vec<_>>().join(" ")
            };
            eprintln!("recovered: {}", show(&state));
            for c in &candidates {
                eprintln!("  candidate: {}", show(c));
            }
        }
        if !candidates.contains(&state) {
            let newest = candidates.last().map(|c| diff(&state, c)).unwrap_or_default();
            panic!(
                "seed {seed} round {round}: recovered a state that never was (or lost synced data); against the newest:{newest}"
            );
        }
        let report = block_on(kv.check()).unwrap();
        assert!(report.is_clean(), "seed {seed} round {round}: {report}");
        model.map = state;
        candidates = vec![model.map.clone()];
        let steps = 5 + rng.below(80);
        for _ in 0..steps {
            let step = random_step(&mut rng, &mut serial);
            let mut next = model.clone();
            let expected = match &step {
                Step::Sync => Ok(()),
                _ => next.batch(&step.ops()),
            };
            let result = step.run(&kv);
            if TRACE.with(|t| t.get()) {
                let short = format!("{step:?}");
                eprintln!("  {} -> {result:?}  info {:?}", &short[..short.len().min(60)], block_on(kv.info()));
            }
            match result {
                Ok(()) => {
                    assert_eq!(expected, Ok(()), "seed {seed}: {step:?}");
                    model = next;
                    if durability == Durability::Always || matches!(step, Step::Sync) {
                        candidates.clear();
                    }
                    candidates.push(model.map.clone());
                }
                Err(KvError::Device(DeviceError::Gone)) => {
                    // The step may or may not have happened; nothing after
                    // it can.
                    if expected.is_ok() {
                        candidates.push(next.map.clone());
                    }
                    break;
                }
                Err(error) => assert_eq!(Err(error), expected, "seed {seed}: {step:?}"),
            }
        }
        // Superblock updates in a session are compaction runs.
        COMPACTIONS.with(|c| c.set(c.get() + block_on(kv.info()).generation - gen0));
        dev = kv.into_device();
        let how = if rng.chance(1, 2) { Crash::Prefix } else { Crash::Subset };
        let tear = rng.chance(1, 2);
        dev.crash(&mut rng, how, tear);
    }
}

/// Runs `steps` on a fresh store whose device loses power after `budget`
/// writes and flushes, then crashes it and checks what recovers.
fn run_until_power_fails(seed: u64, durability: Durability, steps: &[Step], budget: u64, crash_seed: u64) {
    let mut dev = formatted(24 * 1024, &options(seed));
    dev.cut_power_after(budget);
    let mut model = Model::new(16, 1200);
    model.max_record = Some(2944);
    let mut candidates: Vec<State> = vec![State::new()];
    match block_on(DiskKv::open(dev, open_options(durability))) {
        Err(failed) => dev = failed.device,
        Ok(kv) => {
            for step in steps {
                let mut next = model.clone();
                let expected = match step {
                    Step::Sync => Ok(()),
                    _ => next.batch(&step.ops()),
                };
                match step.run(&kv) {
                    Ok(()) => {
                        model = next;
                        if durability == Durability::Always || matches!(step, Step::Sync) {
                            candidates.clear();
                        }
                        candidates.push(model.map.clone());
                    }
                    Err(KvError::Device(DeviceError::Gone)) => {
                        if expected.is_ok() {
                            candidates.push(next.map.clone());
                        }
                        break;
                    }
                    Err(error) => assert_eq!(Err(error), expected),
                }
            }
            dev = kv.into_device();
        }
    }
    let mut rng = Rng::new(crash_seed);
    let tear = rng.chance(1, 2);
    dev.crash(&mut rng, Crash::Subset, tear);
    let kv = block_on(DiskKv::open(dev, open_options(durability))).unwrap_or_else(|e| panic!("budget {budget}: {e}"));
    let state = contents(&kv).unwrap();
    if !candidates.contains(&state) {
        let newest = candidates.last().map(|c| diff(&state, c)).unwrap_or_default();
        panic!("seed {seed} budget {budget} crash {crash_seed}: impossible state; against the newest:{newest}");
    }
}

/// Every single point where the power can fail, for a few workloads that
/// compact a lot (values big enough that copies span blocks).
#[test]
fn every_crash_point() {
    for seed in 0..3 {
        let mut rng = Rng::new(1000 + seed);
        let mut serial = 0;
        let steps: Vec<Step> = (0..120)
            .map(|i| {
                if i % 17 == 16 {
                    return Step::Sync;
                }
                let mut step = random_simple(&mut rng, &mut serial);
                if let Step::Set(_, value) = &mut step {
                    value.resize(200 + rng.below(500) as usize, 7);
                }
                step
            })
            .collect();
        for durability in [Durability::Explicit, Durability::Always] {
            // How many device operations the whole workload takes.
            let mut dev = formatted(24 * 1024, &options(seed));
            let kv = block_on(DiskKv::open(dev.clone(), open_options(durability))).unwrap();
            for step in &steps {
                let _ = step.run(&kv);
            }
            dev = kv.into_device();
            let total = dev.writes + dev.flushes;
            for budget in 0..=total {
                for crash_seed in 0..2 {
                    run_until_power_fails(seed, durability, &steps, budget, budget * 2 + crash_seed);
                }
            }
        }
    }
}

thread_local! {
    /// Set by `KV_CRASH_SEED=N`: run that one workload and trace it.
    static TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Compaction runs over all workloads, so the test knows it covered them.
    static COMPACTIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[test]
fn random_workloads_survive_random_crashes() {
    if let Some(seed) = std::env::var("KV_CRASH_SEED").ok().and_then(|s| s.parse().ok()) {
        TRACE.with(|t| t.set(true));
        return workload(seed);
    }
    for seed in 0..1500 {
        workload(seed);
    }
    let runs = COMPACTIONS.with(|c| c.get());
    assert!(runs > 1000, "only {runs} compaction runs: the workloads no longer exercise compaction");
}
