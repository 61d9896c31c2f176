//! The crash tests' workload: opens the `oasis-kv` store on `storage`
//! (formatted by the test), runs workload `--seed` (see
//! `oasis_kv::testing::workload`) with `Durability::Explicit`, syncing
//! after a random 1–8 operations, and after each sync prints
//! `acked N` (N operations are durable) and flushes the console, so the
//! test knows what must survive when it kills the tender. Stops after
//! `--ops` operations with `done N`.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::Write;

use oasis::block::BlockDevice;
use oasis_kv::testing::Rng;
use oasis_kv::testing::workload::{Workload, run};
use oasis_kv::{DiskKv, Durability, KvRw, OpenOptions};

#[oasis::main(block = "storage")]
async fn main(os: oasis::Os, disk: impl BlockDevice) -> Result<(), oasis::alloc::string::String> {
    let mut args = os.args().parser();
    let seed: u64 = args.value("--seed").map_err(|e| oasis::alloc::format!("{e}"))?.unwrap_or(1);
    let ops: u64 = args.value("--ops").map_err(|e| oasis::alloc::format!("{e}"))?.unwrap_or(1000);
    args.finish().map_err(|e| oasis::alloc::format!("{e}"))?;
    let options = OpenOptions { durability: Durability::Explicit, read_only: false };
    let kv = DiskKv::open(disk, options).await.map_err(|e| oasis::alloc::format!("open: {e}"))?;
    let console = os.console();
    let info = kv.info().await;
    let _ = writeln!(console.clone(), "opened generation={} keys={}", info.generation, info.keys);
    console.flush();
    let mut sync_rng = Rng::new(seed.wrapping_add(99));
    let mut until_sync = 1 + sync_rng.below(8);
    let workload = Workload::new(seed);
    for (done, op) in (1..=ops).zip(workload) {
        run(&kv, &op).await.map_err(|e| oasis::alloc::format!("operation {done}: {e}"))?;
        until_sync -= 1;
        if until_sync == 0 || done == ops {
            kv.sync().await.map_err(|e| oasis::alloc::format!("sync after {done}: {e}"))?;
            let _ = writeln!(console.clone(), "acked {done}");
            console.flush();
            until_sync = 1 + sync_rng.below(8);
        }
    }
    let _ = writeln!(console.clone(), "done {ops} generation={}", kv.info().await.generation);
    Ok(())
}
