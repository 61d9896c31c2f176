//! The crash-test workload (`testing::workload`): the store and the model
//! agree on it, across reopens, and `matching_prefix` finds exactly the
//! prefixes a state can come from.

#![allow(clippy::unwrap_used)]

use oasis_kv::testing::MemDevice;
use oasis_kv::testing::workload::{Model, Workload, apply, matching_prefix, run};
use oasis_kv::tools::{block_on, get, ls};
use oasis_kv::{DiskKv, Durability, FormatOptions, OpenOptions};

fn contents(kv: &DiskKv<MemDevice>) -> Model {
    ls(kv, "").map_or_else(
        |_| Model::new(),
        |keys| keys.into_iter().map(|(k, _)| (k.clone(), get(kv, &k).unwrap())).collect(),
    )
}

#[test]
fn store_and_model_agree() {
    let mut dev = MemDevice::new(1 << 20, 512);
    block_on(DiskKv::format(&mut dev, &FormatOptions { max_value_len: 64 << 10, ..FormatOptions::new(7) })).unwrap();
    let options = OpenOptions { durability: Durability::Explicit, read_only: false };
    let mut kv = block_on(DiskKv::open(dev, options)).unwrap();
    let mut model = Model::new();
    let mut ops = Workload::new(42);
    let mut kinds = [0usize; 4];
    for i in 0..3000 {
        let op = ops.next().unwrap();
        kinds[match &op {
            oasis_kv::testing::workload::Op::Set(..) => 0,
            oasis_kv::testing::workload::Op::Remove(_) => 1,
            oasis_kv::testing::workload::Op::Rename(..) => 2,
            oasis_kv::testing::workload::Op::Batch(_) => 3,
        }] += 1;
        block_on(run(&kv, &op)).unwrap();
        apply(&mut model, &op);
        if i % 500 == 499 {
            block_on(oasis_kv::KvRw::sync(&kv)).unwrap();
            kv = block_on(DiskKv::open(kv.into_device(), options)).unwrap();
            assert_eq!(contents(&kv), model, "after {} operations and a reopen", i + 1);
        }
    }
    assert!(kinds.iter().all(|&n| n > 100), "every kind of operation ran: {kinds:?}");
    assert!(block_on(kv.info()).generation > 10, "the workload outgrew the device and compacted");
}

#[test]
fn matching_prefix_finds_the_prefix() {
    let start = Model::new();
    let mut model = start.clone();
    let mut ops = Workload::new(5);
    for _ in 0..40 {
        apply(&mut model, &ops.next().unwrap());
    }
    let at = matching_prefix(&start, 5, 0, 1000, &model).unwrap();
    assert!(at <= 40);
    // Stopping short of the state, the search fails.
    let mut ops = Workload::new(5);
    let mut last_change = 0;
    let mut replay = start.clone();
    for i in 1..=40 {
        let before = replay.clone();
        apply(&mut replay, &ops.next().unwrap());
        if replay != before {
            last_change = i;
        }
    }
    assert_eq!(matching_prefix(&start, 5, 0, last_change - 1, &model), None);
    let mut other = model.clone();
    other.insert("w/k0".into(), b"not from the workload".to_vec());
    assert_eq!(matching_prefix(&start, 5, 0, 1000, &other), None);
}

/// A batch the store refused as too large would end a crash run early: every
/// batch stays within the budget, and a batch of the most keys at the budget
/// fits a store formatted as the crash tests format theirs.
#[test]
fn every_batch_fits_the_crash_test_store() {
    use oasis_kv::testing::workload::{BATCH_VALUE_BUDGET, Op};
    for seed in (0..300).chain([1_795_838_240_376_876_742]) {
        for op in Workload::new(seed).take(1000) {
            if let Op::Batch(steps) = op {
                let bytes: usize = steps.iter().map(|(_, v)| v.as_ref().map_or(0, Vec::len)).sum();
                assert!(bytes <= BATCH_VALUE_BUDGET, "seed {seed}: a batch of {bytes} value bytes");
            }
        }
    }
    let mut dev = MemDevice::new(1 << 20, 512);
    block_on(DiskKv::format(&mut dev, &FormatOptions { max_value_len: 32 << 10, ..FormatOptions::new(9) })).unwrap();
    let options = OpenOptions { durability: Durability::Explicit, read_only: false };
    let kv = block_on(DiskKv::open(dev, options)).unwrap();
    let big = vec![b'v'; BATCH_VALUE_BUDGET / 7];
    let keys: Vec<String> = (0..7).map(|i| format!("w/k{}", 40 + i)).collect();
    let ops: Vec<oasis_kv::BatchOp<'_>> = keys.iter().map(|k| oasis_kv::BatchOp::Set(k, &big)).collect();
    block_on(oasis_kv::KvRw::batch(&kv, &ops)).unwrap();
}
