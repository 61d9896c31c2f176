//! Damage is detected, not served: a flipped bit in a value makes `get`
//! fail with `Corrupt` and `check` report it; damage to a record that
//! holds changes makes the store refuse to open, and `check` says where.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{formatted, small_options};
use oasis_kv::testing::MemDevice;
use oasis_kv::tools::block_on;
use oasis_kv::{DiskKv, KvError, KvRo, KvRw, OpenOptions, ProblemKind, disk};

fn find(image: &[u8], needle: &[u8]) -> usize {
    image.windows(needle.len()).position(|w| w == needle).expect("bytes on the device")
}

/// A store holding a 1500-byte value under "victim" and others around it.
fn store_with_victim(checkpoint: bool) -> (MemDevice, Vec<u8>) {
    let kv = block_on(DiskKv::open(formatted(128 * 1024, &small_options(11)), OpenOptions::default())).unwrap();
    let victim: Vec<u8> = (0..1500u32).map(|i| (i * 31 % 251) as u8).collect();
    block_on(async {
        kv.set("before", b"first").await.unwrap();
        kv.set("victim", &victim).await.unwrap();
        kv.set("after", b"last").await.unwrap();
    });
    if checkpoint {
        block_on(kv.checkpoint()).unwrap();
    }
    let dev = kv.into_device();
    (dev, victim)
}

#[test]
fn flipped_value_bit_is_reported_by_get_and_check() {
    for checkpoint in [false, true] {
        let (mut dev, victim) = store_with_victim(checkpoint);
        let at = find(dev.image(), &victim[..64]) + 700;
        dev.flip_bit(at as u64, 3);
        let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
        match block_on(kv.get("victim")) {
            Err(KvError::Corrupt { key: Some(key), .. }) => assert_eq!(key, "victim"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(matches!(block_on(kv.digest("victim")), Err(KvError::Corrupt { .. })));
        assert_eq!(block_on(kv.get("before")).unwrap(), b"first");
        assert_eq!(block_on(kv.get("after")).unwrap(), b"last");
        let report = block_on(kv.check()).unwrap();
        assert!(!report.is_clean(), "{report}");
        let damaged: Vec<_> = report
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::DamagedValue { live: true })
            .map(|p| p.key.clone())
            .collect();
        assert_eq!(damaged, [Some("victim".to_string())], "{report}");
        // Writes go on; overwriting the damaged value heals the key.
        block_on(kv.set("victim", b"fresh")).unwrap();
        assert_eq!(block_on(kv.get("victim")).unwrap(), b"fresh");
        let mut dev = kv.into_device();
        let report = block_on(disk::check(&mut dev)).unwrap();
        assert!(report.problems.iter().any(|p| p.kind == ProblemKind::DamagedValue { live: false }), "{report}");
    }
}

#[test]
fn damaged_record_header_refuses_open_and_check_reports() {
    let (mut dev, _) = store_with_victim(false);
    // The "before" record: its key sits 24 bytes after its operation
    // header, which follows the 48-byte record header.
    let key_at = find(dev.image(), b"before");
    dev.flip_bit((key_at - 24 - 48 + 20) as u64, 0);
    let image = dev.image().to_vec();
    match block_on(DiskKv::open(dev.clone(), OpenOptions::default())).map_err(KvError::from) {
        Err(KvError::Corrupt { .. }) => {}
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
    let report = block_on(disk::check(&mut dev)).unwrap();
    assert!(report.problems.iter().any(|p| p.kind == ProblemKind::LogBroken), "{report}");
    assert_eq!(dev.image(), &image[..], "neither open nor check repairs");
}

#[test]
fn damaged_operation_refuses_open() {
    let (mut dev, _) = store_with_victim(false);
    let key_at = find(dev.image(), b"before");
    dev.flip_bit(key_at as u64, 1);
    let opened = block_on(DiskKv::open(dev.clone(), OpenOptions::default())).map_err(KvError::from);
    assert!(matches!(opened, Err(KvError::Corrupt { .. })));
    let report = block_on(disk::check(&mut dev)).unwrap();
    assert!(report.problems.iter().any(|p| matches!(p.kind, ProblemKind::DamagedRecord(_))), "{report}");
}

#[test]
fn one_damaged_superblock_copy_is_reported() {
    let (mut dev, _) = store_with_victim(true);
    dev.flip_bit(512 + 30, 0);
    let report = block_on(disk::check(&mut dev)).unwrap();
    assert!(report.problems.iter().any(|p| matches!(p.kind, ProblemKind::SuperblockCopy { copy: 1, .. })), "{report}");
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.get("after")).unwrap(), b"last");
    // Opening for writing rewrote both copies.
    assert!(block_on(kv.check()).unwrap().is_clean());
}

#[test]
fn clean_store_checks_clean() {
    let (mut dev, _) = store_with_victim(true);
    let report = block_on(disk::check(&mut dev)).unwrap();
    assert!(report.is_clean() && report.problems.is_empty(), "{report}");
    assert_eq!(report.keys, 3);
    assert!(report.to_string().ends_with("clean"));
}

#[test]
fn a_damaged_value_neither_stops_compaction_nor_is_laundered() {
    let (mut dev, victim) = store_with_victim(true);
    let at = find(dev.image(), &victim[..64]) + 100;
    dev.flip_bit(at as u64, 5);
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    let filler = vec![9; 1500];
    // Ten times the device: the damaged record is compacted many times.
    for i in 0..900 {
        block_on(kv.set(&format!("f/{}", i % 10), &filler)).unwrap();
    }
    assert!(block_on(kv.info()).generation > 10, "compaction ran");
    assert!(matches!(block_on(kv.get("victim")), Err(KvError::Corrupt { .. })));
    assert_eq!(block_on(kv.get("before")).unwrap(), b"first");
    let report = block_on(kv.check()).unwrap();
    let damaged: Vec<_> =
        report.problems.iter().filter(|p| p.is_error()).map(|p| (&p.kind, p.key.as_deref())).collect();
    assert_eq!(damaged, [(&ProblemKind::DamagedValue { live: true }, Some("victim"))], "{report}");
    block_on(kv.remove("victim")).unwrap();
    let kv = block_on(DiskKv::open(kv.into_device(), OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.exists("victim")).unwrap(), None);
    assert_eq!(block_on(kv.get("f/3")).unwrap(), filler);
}
