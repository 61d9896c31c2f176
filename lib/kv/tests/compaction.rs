//! Compaction keeps a bounded live set going forever: far more data than
//! the device holds is written, overwritten and removed, and the store
//! neither runs out of space nor loses or mixes up a value, across
//! reopens. When live data really does not fit, writes fail with
//! `NoSpace` and the store stays usable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{contents, formatted, open_options, small_options};
use oasis_kv::testing::Rng;
use oasis_kv::tools::block_on;
use oasis_kv::{BatchOp, DiskKv, Durability, KvError, KvRw, OpenOptions};

const CAPACITY: u64 = 256 * 1024;

fn churn(durability: Durability, seed: u64, factor: u64) {
    let mut rng = Rng::new(seed);
    let mut kv = block_on(DiskKv::open(formatted(CAPACITY, &small_options(seed)), open_options(durability))).unwrap();
    let mut model = BTreeMap::new();
    let mut written = 0u64;
    let mut step = 0u64;
    while written < factor * CAPACITY {
        step += 1;
        let key = format!("k{}/{}", rng.below(4), rng.below(6));
        match rng.below(10) {
            0 => {
                block_on(kv.remove(&key)).unwrap();
                model.remove(&key);
            }
            1 => {
                let other = format!("k{}/{}", rng.below(4), rng.below(6));
                let value = vec![step as u8; rng.below(1500) as usize];
                let ops = [BatchOp::Set(&key, &value), BatchOp::Remove(&other)];
                block_on(kv.batch(&ops)).unwrap();
                model.insert(key.clone(), value.clone());
                model.remove(&other);
                written += value.len() as u64;
            }
            _ => {
                let mut value = vec![0; rng.below(2048) as usize];
                rng.fill(&mut value);
                block_on(kv.set(&key, &value)).unwrap();
                written += value.len() as u64;
                model.insert(key, value);
            }
        }
        if durability == Durability::Explicit && rng.chance(1, 8) {
            block_on(kv.sync()).unwrap();
        }
        let info = block_on(kv.info());
        assert!(info.log_used <= info.log_bytes);
        if step.is_multiple_of(500) {
            block_on(kv.sync()).unwrap();
            kv = block_on(DiskKv::open(kv.into_device(), open_options(durability))).unwrap();
            common::assert_same(&contents(&kv).unwrap(), &model, &format!("after reopen at step {step}"));
        }
    }
    common::assert_same(&contents(&kv).unwrap(), &model, "at the end");
    assert!(block_on(kv.check()).unwrap().is_clean());
    block_on(kv.checkpoint()).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    common::assert_same(&contents(&kv).unwrap(), &model, "at the end");
}

#[test]
fn fifty_times_the_capacity_explicit() {
    churn(Durability::Explicit, 1, 50);
}

#[test]
fn ten_times_the_capacity_always() {
    churn(Durability::Always, 2, 10);
}

#[test]
fn live_data_that_does_not_fit_is_refused() {
    let kv = block_on(DiskKv::open(formatted(CAPACITY, &small_options(3)), OpenOptions::default())).unwrap();
    let value = vec![5; 2000];
    let mut stored = 0;
    let error = loop {
        match block_on(kv.set(&format!("v/{stored}"), &value)) {
            Ok(()) => stored += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(error, KvError::NoSpace);
    let usable = block_on(kv.info()).usable_bytes;
    assert!(stored as u64 * 2000 > usable / 2, "refused too early: {stored} values, {usable} usable bytes");
    // Still usable: overwrite, remove, then there is room again.
    block_on(kv.set("v/0", b"small")).unwrap();
    for i in 1..10 {
        block_on(kv.remove(&format!("v/{i}"))).unwrap();
    }
    block_on(kv.set("w", &value)).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(oasis_kv::KvRo::get(&kv, "v/0")).unwrap(), b"small");
    assert_eq!(contents(&kv).unwrap().len(), stored - 9 + 1);
}
