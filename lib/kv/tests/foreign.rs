//! A device that holds no store is refused and left byte-for-byte as it
//! was; so is a store of a newer format. Opening never formats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{formatted, small_options};
use oasis_kv::testing::{MemDevice, Rng};
use oasis_kv::tools::block_on;
use oasis_kv::{DiskKv, Durability, KvError, OpenOptions};

fn refused(image: Vec<u8>, block_size: u32) -> KvError {
    let whole = &image[..image.len() / block_size as usize * block_size as usize];
    let mut errors = Vec::new();
    for read_only in [false, true] {
        let dev = MemDevice::from_image(image.clone(), block_size);
        let options = OpenOptions { read_only, durability: Durability::Always };
        let Err(failed) = block_on(DiskKv::open(dev, options)) else { panic!("opened a foreign device") };
        assert_eq!(failed.device.image(), whole, "the device was changed");
        assert_eq!((failed.device.writes, failed.device.flushes), (0, 0));
        errors.push(failed.error);
    }
    // `check` refuses it the same way, writing nothing either.
    let mut dev = MemDevice::from_image(image.clone(), block_size);
    assert_eq!(block_on(oasis_kv::disk::check(&mut dev)).err().as_ref(), Some(&errors[0]));
    assert_eq!(dev.writes, 0);
    assert_eq!(errors[0], errors[1]);
    errors.remove(0)
}

#[test]
fn zeroes_random_bytes_and_ext4_are_not_stores() {
    assert_eq!(refused(vec![0; 64 * 1024], 512), KvError::NotAStore);
    let mut random = vec![0; 64 * 1024];
    Rng::new(7).fill(&mut random);
    assert_eq!(refused(random.clone(), 512), KvError::NotAStore);
    assert_eq!(refused(random, 4096), KvError::NotAStore);
    // An ext4 superblock: magic 0xEF53 at byte 1024 + 56.
    let mut ext4 = vec![0; 64 * 1024];
    ext4[1024..1028].copy_from_slice(&4096u32.to_le_bytes());
    ext4[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
    ext4[1024 + 0x68..1024 + 0x78].copy_from_slice(b"uuid-of-the-disk");
    assert_eq!(refused(ext4, 512), KvError::NotAStore);
    assert_eq!(refused(vec![0; 512], 512), KvError::NotAStore, "smaller than two blocks");
}

#[test]
fn damaged_or_newer_superblocks_are_refused() {
    let image = formatted(64 * 1024, &small_options(3)).image().to_vec();
    // Both copies damaged: a store, but unusable.
    let mut damaged = image.clone();
    damaged[40] ^= 1;
    damaged[512 + 40] ^= 1;
    assert!(matches!(refused(damaged, 512), KvError::Corrupt { .. }));
    // A newer version in both copies.
    let mut newer = image.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    newer[512 + 8..512 + 12].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(refused(newer, 512), KvError::UnsupportedVersion { found: 2, supported: 1 });
    // A block size the device does not have.
    assert!(matches!(refused(image.clone(), 4096), KvError::NotAStore | KvError::Geometry(_)));
    // One damaged copy is survivable.
    let mut one = image;
    one[40] ^= 1;
    let kv = block_on(DiskKv::open(MemDevice::from_image(one, 512), OpenOptions::default())).unwrap();
    drop(kv);
}

#[test]
fn a_smaller_device_is_refused() {
    let image = formatted(64 * 1024, &small_options(3)).image().to_vec();
    let error = refused(image[..32 * 1024].to_vec(), 512);
    assert_eq!(error, KvError::Geometry("the device is smaller than the store"));
}

#[test]
fn format_refuses_impossible_options() {
    let mut dev = MemDevice::new(8 * 1024, 512);
    assert!(matches!(block_on(DiskKv::format(&mut dev, &small_options(1))), Err(KvError::Geometry(_))), "too small");
    let mut dev = MemDevice::new(64 * 1024, 512);
    let mut options = small_options(1);
    options.max_value_len = 1 << 20;
    assert!(matches!(block_on(DiskKv::format(&mut dev, &options)), Err(KvError::Geometry(_))));
    assert!(dev.image().iter().all(|&b| b == 0), "nothing written when refused");
    // Reformatting with the same store id would let old records pass.
    let mut dev = formatted(64 * 1024, &small_options(3));
    assert!(matches!(block_on(DiskKv::format(&mut dev, &small_options(3))), Err(KvError::Geometry(_))));
    assert!(block_on(DiskKv::format(&mut dev, &small_options(4))).is_ok());
}

#[test]
fn a_refused_device_comes_back_to_be_formatted() {
    let Err(failed) = block_on(DiskKv::open(MemDevice::new(64 * 1024, 512), OpenOptions::default())) else {
        panic!("opened a blank device")
    };
    assert_eq!(failed.error, KvError::NotAStore);
    assert_eq!(failed.to_string(), KvError::NotAStore.to_string());
    let mut dev = failed.device;
    block_on(DiskKv::format(&mut dev, &small_options(8))).unwrap();
    let kv = block_on(DiskKv::open(dev, OpenOptions::default())).unwrap();
    assert_eq!(block_on(kv.info()).keys, 0);
}
