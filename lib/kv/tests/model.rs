//! Property tests: random sequences of set/remove/batch/rename/sync, run
//! against the store and a `BTreeMap` model of the same semantics. After
//! every step the results must agree, and a copy of the device must
//! recover to exactly the model (everything is synced before the copy is
//! taken, or the store runs with `Durability::Always`); some steps reopen
//! the store itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Model, Step, contents, diff, formatted, open_options, recovered, small_options};
use oasis_kv::tools::block_on;
use oasis_kv::{DiskKv, Durability, KvRw};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=3).prop_map(|segments| segments.join("/"))
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 64..600),
    ]
}

fn simple() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Step::Set(k, v)),
        2 => key().prop_map(Step::Remove),
        2 => (key(), key()).prop_map(|(a, b)| Step::Rename(a, b)),
    ]
}

#[derive(Clone, Debug)]
enum Action {
    Step(Step),
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        10 => simple().prop_map(Action::Step),
        2 => prop::collection::vec(simple(), 1..5).prop_map(|steps| Action::Step(Step::Batch(steps))),
        1 => Just(Action::Step(Step::Sync)),
        1 => Just(Action::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(actions in prop::collection::vec(action(), 1..40), always in any::<bool>()) {
        let durability = if always { Durability::Always } else { Durability::Explicit };
        let options = small_options(77);
        let mut kv = block_on(DiskKv::open(formatted(96 * 1024, &options), open_options(durability))).unwrap();
        let mut model = Model::new(options.max_key_len as usize, options.max_value_len as usize);
        // States the device may recover to: from the last sync on.
        let mut since_sync = vec![model.map.clone()];
        for (i, action) in actions.iter().enumerate() {
            match action {
                Action::Step(step) => {
                    let expected = match step {
                        Step::Sync => Ok(()),
                        _ => model.batch(&step.ops()),
                    };
                    prop_assert_eq!(step.run(&kv), expected, "step {} {:?}", i, step);
                    if always || matches!(step, Step::Sync) {
                        since_sync.clear();
                    }
                    since_sync.push(model.map.clone());
                }
                Action::Reopen => {
                    kv = block_on(DiskKv::open(kv.into_device(), open_options(durability))).unwrap();
                    let state = contents(&kv).unwrap();
                    prop_assert!(since_sync.contains(&state), "reopen after step {} lost synced data", i);
                    model.map = state;
                    since_sync = vec![model.map.clone()];
                }
            }
            let state = contents(&kv).unwrap();
            prop_assert!(state == model.map, "in memory after step {}:{}", i, diff(&state, &model.map));
            let state = recovered(&block_on(kv.with_device(Clone::clone))).unwrap();
            prop_assert!(since_sync.contains(&state), "recovery after step {} gives an unexpected state", i);
        }
        prop_assert!(block_on(kv.check()).unwrap().is_clean());
        block_on(kv.sync()).unwrap();
        let dev = kv.into_device();
        let state = recovered(&dev).unwrap();
        prop_assert!(state == model.map, "recovered at the end:{}", diff(&state, &model.map));
    }
}
