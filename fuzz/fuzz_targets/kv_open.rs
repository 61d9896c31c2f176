//! A device image is hostile: opening a key-value store on any image,
//! read-only or for writing, and then reading, listing, checking and
//! writing, never panics (nor does I/O out of bounds: the test device
//! panics on that); it only returns errors.
//!
//! The first byte picks the image: the input itself at the start of a
//! zeroed 24 KiB device (superblocks and the first log blocks), or a real
//! store with the input applied as `(offset: u16, xor: u8)` patches, which
//! reaches deeper into recovery. Under `cfg(fuzzing)` a stored checksum of
//! zero also passes, so the fuzzer can forge records.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oasis_kv::testing::MemDevice;
use oasis_kv::tools::{self, block_on};
use oasis_kv::{BatchOp, DiskKv, Durability, FormatOptions, KvRo, KvRw, OpenOptions};

const SIZE: usize = 24 * 1024;

/// A small real store: nested keys, a rename, a batch, a removal.
fn base_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut dev = MemDevice::new(SIZE as u64, 512);
        let options = FormatOptions { store_id: 7, max_key_len: 32, max_value_len: 1024, max_record_len: None };
        let Ok(()) = block_on(DiskKv::format(&mut dev, &options)) else { return vec![0; SIZE] };
        let Ok(kv) = block_on(DiskKv::open(dev, OpenOptions::default())) else { return vec![0; SIZE] };
        let _ = block_on(async {
            kv.set("a/b", b"one").await?;
            kv.set("a/c", &[3; 700]).await?;
            kv.rename("a", "d/e").await?;
            kv.batch(&[BatchOp::Set("x", b"two"), BatchOp::Remove("d/e/b")]).await?;
            kv.set("y", b"three").await
        });
        kv.into_device().image().to_vec()
    })
}

fn exercise(dev: MemDevice, durability: Durability, read_only: bool) {
    let Ok(kv) = block_on(DiskKv::open(dev, OpenOptions { durability, read_only })) else { return };
    let _ = block_on(kv.info());
    if let Ok(keys) = tools::ls(&kv, "") {
        for (key, _) in keys.iter().take(16) {
            let _ = block_on(kv.get(key));
            let _ = block_on(kv.get_partial(key, 1, 5));
            let _ = block_on(kv.digest(key));
            let _ = block_on(kv.last_modified(key));
        }
    }
    let _ = block_on(kv.list(""));
    let _ = block_on(kv.check());
    if !read_only {
        let _ = block_on(async {
            kv.set("fuzz/a", &[1; 300]).await?;
            kv.batch(&[BatchOp::Set("fuzz/b", b"x"), BatchOp::Rename("fuzz/a", "fuzz/c")]).await?;
            kv.remove("x").await?;
            for i in 0..40u8 {
                kv.set("fuzz/d", &[i; 500]).await?;
            }
            kv.sync().await
        });
        let _ = block_on(kv.checkpoint());
        let _ = block_on(kv.check());
        let dev = kv.into_device();
        if let Ok(kv) = block_on(DiskKv::open(dev, OpenOptions::default())) {
            let _ = tools::ls(&kv, "");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let image = if mode & 1 == 0 {
        let mut image = vec![0; SIZE];
        let n = rest.len().min(SIZE);
        image[..n].copy_from_slice(&rest[..n]);
        image
    } else {
        let mut image = base_image().to_vec();
        for patch in rest.chunks_exact(3) {
            let offset = usize::from(u16::from_le_bytes([patch[0], patch[1]])) % SIZE;
            image[offset] ^= patch[2];
        }
        image
    };
    let dev = MemDevice::from_image(image, 512);
    let _ = block_on(oasis_kv::disk::check(&mut dev.clone()));
    exercise(dev.clone(), Durability::Explicit, true);
    let durability = if mode & 2 == 0 { Durability::Always } else { Durability::Explicit };
    exercise(dev, durability, false);
});
