//! Block device conformance: multi-block writes and reads at the start and
//! the end of the device, read back exactly, flushed; with `--write-only`
//! it writes and flushes, with `--verify-only` it checks what an earlier
//! run wrote (so a test can restart the tender in between).

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::Write;

use oasis::alloc::vec;
use oasis::block::BlockDevice;

fn pattern(offset: u64, len: usize) -> oasis::alloc::vec::Vec<u8> {
    (0..len).map(|i| ((offset as usize + i) * 7 % 251) as u8).collect()
}

#[oasis::main(block = "storage")]
async fn main(os: oasis::Os, mut disk: impl BlockDevice) -> Result<(), &'static str> {
    let mut args = os.args().parser();
    let write_only = args.flag("--write-only").map_err(|_| "bad arguments")?;
    let verify_only = args.flag("--verify-only").map_err(|_| "bad arguments")?;
    let info = disk.info();
    let bs = info.block_size as usize;
    if bs < 512 || !bs.is_power_of_two() || !info.capacity.is_multiple_of(bs as u64) || info.capacity < 16 * bs as u64 {
        return Err("odd geometry");
    }
    let spots = [(0u64, 8 * bs), (info.capacity - 8 * bs as u64, 8 * bs), (bs as u64 * 3, bs)];
    if !verify_only {
        for &(at, len) in &spots {
            disk.write(at, &pattern(at, len)).await.map_err(|_| "write failed")?;
        }
        disk.flush().await.map_err(|_| "flush failed")?;
    }
    if !write_only {
        for &(at, len) in &spots {
            let mut buf = vec![0u8; len];
            disk.read(at, &mut buf).await.map_err(|_| "read failed")?;
            if buf != pattern(at, len) {
                return Err("read back something else");
            }
        }
    }
    let _ = writeln!(os.console(), "blk: ok capacity={} block_size={}", info.capacity, info.block_size);
    Ok(())
}
