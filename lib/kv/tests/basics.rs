//! The store's API on its own: the tree rules, limits, durability modes,
//! read-only opens, device failures, the host tools and `FileDevice`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{contents, formatted, open_options, small_options};
use oasis_devices::DeviceError;
use oasis_kv::testing::MemDevice;
use oasis_kv::tools::{self, block_on};
use oasis_kv::{BatchOp, DiskKv, Durability, EntryKind, FileDevice, FormatOptions, KvError, KvRo, KvRw, OpenOptions};
use sha2::{Digest, Sha256};

fn store(durability: Durability) -> DiskKv<MemDevice> {
    block_on(DiskKv::open(formatted(128 * 1024, &small_options(1)), open_options(durability))).unwrap()
}

#[test]
fn set_get_list_and_tree_rules() {
    let kv = store(Durability::Always);
    block_on(async {
        kv.set("a/b", b"one").await.unwrap();
        kv.set("a/c/d", b"two").await.unwrap();
        kv.set("a-x", b"three").await.unwrap();
        assert_eq!(kv.get("a/b").await.unwrap(), b"one");
        assert_eq!(kv.get("a").await, Err(KvError::NotAValue("a".into())));
        assert_eq!(kv.get("zz").await, Err(KvError::NotFound("zz".into())));
        assert_eq!(kv.set("a/b/c", b"").await, Err(KvError::NotADictionary("a/b".into())));
        assert_eq!(kv.set("a", b"").await, Err(KvError::NotAValue("a".into())));
        assert!(matches!(kv.set("a//b", b"").await, Err(KvError::BadKey { .. })));
        assert_eq!(kv.exists("a").await.unwrap(), Some(EntryKind::Dictionary));
        assert_eq!(kv.exists("a/b").await.unwrap(), Some(EntryKind::Value));
        assert_eq!(kv.exists("q").await.unwrap(), None);
        assert_eq!(kv.list("").await.unwrap(), [("a".into(), EntryKind::Dictionary), ("a-x".into(), EntryKind::Value)]);
        assert_eq!(
            kv.list("a").await.unwrap(),
            [("a/b".into(), EntryKind::Value), ("a/c".into(), EntryKind::Dictionary)]
        );
        assert_eq!(kv.list("a/b").await, Err(KvError::NotADictionary("a/b".into())));
        assert_eq!(kv.size("a/c/d").await.unwrap(), 3);
        assert_eq!(kv.digest("a/b").await.unwrap(), <[u8; 32]>::from(Sha256::digest(b"one")));
        assert_eq!(kv.get_partial("a-x", 1, 3).await.unwrap(), b"hre");
        assert_eq!(kv.get_partial("a-x", 4, 9).await.unwrap(), b"e");
        assert_eq!(kv.get_partial("a-x", 99, 9).await.unwrap(), b"");

        kv.rename("a", "m/n").await.unwrap();
        assert_eq!(kv.get("m/n/c/d").await.unwrap(), b"two");
        assert_eq!(kv.exists("a").await.unwrap(), None);
        kv.remove("m").await.unwrap();
        kv.remove("m").await.unwrap();
        assert_eq!(kv.list("").await.unwrap(), [("a-x".into(), EntryKind::Value)]);
    });
}

#[test]
fn batches_are_all_or_nothing() {
    let kv = store(Durability::Explicit);
    block_on(async {
        kv.set("x", b"1").await.unwrap();
        let refused = [BatchOp::Set("y", b"2"), BatchOp::Set("x/z", b"3")];
        assert_eq!(kv.batch(&refused).await, Err(KvError::NotADictionary("x".into())));
        assert_eq!(kv.exists("y").await.unwrap(), None);
        let ok = [BatchOp::Set("y", b"2"), BatchOp::Remove("x"), BatchOp::Set("x/z", b"3"), BatchOp::Rename("y", "w")];
        kv.batch(&ok).await.unwrap();
        kv.sync().await.unwrap();
        assert_eq!(kv.get("x/z").await.unwrap(), b"3");
        assert_eq!(kv.get("w").await.unwrap(), b"2");
        assert_eq!(kv.exists("y").await.unwrap(), None);
    });
    block_on(kv.checkpoint()).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.get("w")).unwrap(), b"2");
}

#[test]
fn limits() {
    let kv = store(Durability::Always);
    block_on(async {
        let big = vec![7; 2049];
        assert_eq!(kv.set("v", &big).await, Err(KvError::TooLarge { what: "value", len: 2049, max: 2048 }));
        let long = "k".repeat(65);
        assert!(matches!(kv.set(&long, b"").await, Err(KvError::BadKey { .. })));
        let at_limit = vec![1; 2048];
        let key = "k".repeat(64);
        kv.set(&key, &at_limit).await.unwrap();
        assert_eq!(kv.get(&key).await.unwrap(), at_limit);
        // A batch larger than the record limit.
        let values: Vec<String> = (0..8).map(|i| format!("b/{i}")).collect();
        let ops: Vec<BatchOp<'_>> = values.iter().map(|k| BatchOp::Set(k, &at_limit)).collect();
        assert!(matches!(kv.batch(&ops).await, Err(KvError::TooLarge { what: "batch (bytes)", .. })));
        assert_eq!(kv.exists("b").await.unwrap(), None);
    });
}

#[test]
fn megabyte_values_with_default_limits() {
    let mut dev = MemDevice::new(32 << 20, 4096);
    block_on(DiskKv::format(&mut dev, &FormatOptions::new(9))).unwrap();
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    let value: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 4096) as u8).collect();
    block_on(kv.set("big", &value)).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.get("big")).unwrap(), value);
    assert_eq!(block_on(kv.get_partial("big", 5000, 10)).unwrap(), &value[5000..5010]);
    assert_eq!(block_on(kv.info()).max_value_len, 1 << 20);
    let too_big = vec![0; (1 << 20) + 1];
    assert!(matches!(block_on(kv.set("bigger", &too_big)), Err(KvError::TooLarge { .. })));
}

#[test]
fn explicit_durability_needs_sync() {
    let kv = store(Durability::Explicit);
    block_on(kv.set("a", b"kept")).unwrap();
    block_on(kv.sync()).unwrap();
    block_on(kv.set("b", b"maybe")).unwrap();
    let dev = kv.into_device();
    // After a crash keeping no unflushed write: "a" only.
    let durable = MemDevice::from_image(dev.durable_image().to_vec(), 512);
    let kv = block_on(DiskKv::open(durable, OpenOptions::default())).unwrap();
    assert_eq!(contents(&kv).unwrap().keys().collect::<Vec<_>>(), ["a"]);
    // Without a crash "b" is gone too: it sat in the store's buffer.
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    assert_eq!(contents(&kv).unwrap().keys().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn clock_and_logical_time() {
    let kv = store(Durability::Always);
    block_on(kv.set("a", b"1")).unwrap();
    block_on(kv.set("b", b"1")).unwrap();
    let (ta, tb) = (block_on(kv.last_modified("a")).unwrap(), block_on(kv.last_modified("b")).unwrap());
    assert!(tb > ta, "logical time grows");
    block_on(kv.set_clock(1_700_000_000));
    block_on(kv.set("c", b"1")).unwrap();
    assert_eq!(block_on(kv.last_modified("c")).unwrap(), 1_700_000_000);
    block_on(kv.rename("c", "d")).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.last_modified("d")).unwrap(), 1_700_000_000);
    assert_eq!(block_on(kv.last_modified("a")).unwrap(), ta);
}

#[test]
fn read_only_opens_write_nothing() {
    let kv = store(Durability::Always);
    block_on(kv.set("a", b"1")).unwrap();
    let dev = kv.into_device();
    let before = dev.image().to_vec();
    let writes = dev.writes;
    let kv = block_on(DiskKv::open(dev, OpenOptions { read_only: true, ..OpenOptions::default() })).unwrap();
    assert_eq!(block_on(kv.get("a")).unwrap(), b"1");
    assert_eq!(block_on(kv.set("b", b"2")), Err(KvError::ReadOnly));
    assert_eq!(block_on(kv.sync()), Err(KvError::ReadOnly));
    assert!(block_on(kv.check()).unwrap().is_clean());
    assert_eq!(block_on(kv.checkpoint()), Err(KvError::ReadOnly));
    let dev = kv.into_device();
    assert_eq!(dev.image(), &before[..]);
    assert_eq!(dev.writes, writes);
}

#[test]
fn a_device_error_stops_writes() {
    let kv = store(Durability::Always);
    block_on(kv.set("a", b"1")).unwrap();
    let mut dev = kv.into_device();
    dev.cut_power_after(5);
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    let mut failed = false;
    for i in 0..10 {
        match block_on(kv.set(&format!("k{i}"), b"v")) {
            Ok(()) => assert!(!failed),
            Err(KvError::Device(DeviceError::Gone)) => failed = true,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(failed);
    assert_eq!(block_on(kv.get("a")).unwrap(), b"1", "reads still work");
    assert_eq!(block_on(kv.sync()), Err(KvError::Device(DeviceError::Gone)));
}

#[test]
fn host_tools() {
    let kv = store(Durability::Explicit);
    let items = vec![("d/1", b"one".to_vec()), ("d/2", b"two".to_vec()), ("e", b"three".to_vec())];
    assert_eq!(tools::import(&kv, items.clone()).unwrap(), 3);
    assert_eq!(tools::ls(&kv, "").unwrap(), [("d/1".into(), 3), ("d/2".into(), 3), ("e".into(), 5)]);
    assert_eq!(tools::ls(&kv, "d").unwrap().len(), 2);
    assert_eq!(tools::get(&kv, "e").unwrap(), b"three");
    let mut exported = Vec::new();
    let n = tools::export(&kv, "", |key, value| {
        exported.push((key.to_string(), value));
        Ok::<(), KvError>(())
    })
    .unwrap();
    assert_eq!(n, 3);
    assert_eq!(exported[2], ("e".to_string(), b"three".to_vec()));
    assert_eq!(block_on(kv.keys()), [("d/1".into(), 3), ("d/2".into(), 3), ("e".into(), 5)]);
    // Everything imported was synced.
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.info()).keys, 3);
}

#[test]
fn file_device_round_trip() {
    let path = std::env::temp_dir().join(format!("oasis-kv-test-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut dev = FileDevice::create(&path, 256 * 1024, 512).unwrap();
    block_on(DiskKv::format(&mut dev, &small_options(5))).unwrap();
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    block_on(kv.set("hello", b"world")).unwrap();
    block_on(kv.checkpoint()).unwrap();
    drop(kv);
    let dev = FileDevice::open(&path, 512, false).unwrap();
    let kv = block_on(DiskKv::open(dev, OpenOptions { read_only: true, ..OpenOptions::default() })).unwrap();
    assert_eq!(block_on(kv.get("hello")).unwrap(), b"world");
    let mut dev = kv.into_device();
    let unaligned = block_on(oasis_devices::BlockDevice::read(&mut dev, 100, &mut [0; 512]));
    assert_eq!(unaligned, Err(DeviceError::Unaligned));
    assert!(dev.take_error().is_some());
    let past_end = block_on(oasis_devices::BlockDevice::read(&mut dev, 256 * 1024, &mut [0; 512]));
    assert_eq!(past_end, Err(DeviceError::OutOfRange));
    std::fs::remove_file(&path).unwrap();
}
