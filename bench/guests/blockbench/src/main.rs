//! blockbench: raw block device throughput, for `oasis-bench block`.
//!
//! ```text
//! --mode seq-read|seq-write|rand-read|rand-write
//! --io-size BYTES    bytes per request, a multiple of the block size (default 4096)
//! --count N          requests (default: the device's capacity / io-size)
//! --seed S           seeds the offsets of the random modes (default 1)
//! --flush-every K    writes: flush after every K requests (default 0: only at the end)
//! ```
//!
//! Sequential modes walk the device from offset 0, wrapping at the end;
//! random modes pick offsets uniformly (with replacement) among the
//! io-size-aligned slots of the device. Writes always end with a flush, and
//! the flush is inside the timed span. Prints one line for the bench to
//! parse, integers only (the guest is soft-float):
//!
//! ```text
//! blockbench: mode=seq-read io_size=4096 ops=65536 bytes=268435456 flushes=0 ns=123456789
//! ```

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::fmt::{self, Write};
use core::str::FromStr;

use oasis::alloc::vec;
use oasis::block::BlockDevice;
use oasis::{ArgError, Os};

/// What to do, in which order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SeqRead,
    SeqWrite,
    RandRead,
    RandWrite,
}

impl Mode {
    fn is_write(self) -> bool {
        matches!(self, Mode::SeqWrite | Mode::RandWrite)
    }

    fn is_random(self) -> bool {
        matches!(self, Mode::RandRead | Mode::RandWrite)
    }

    fn name(self) -> &'static str {
        match self {
            Mode::SeqRead => "seq-read",
            Mode::SeqWrite => "seq-write",
            Mode::RandRead => "rand-read",
            Mode::RandWrite => "rand-write",
        }
    }
}

impl FromStr for Mode {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Mode, &'static str> {
        [Mode::SeqRead, Mode::SeqWrite, Mode::RandRead, Mode::RandWrite]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or("expected seq-read, seq-write, rand-read or rand-write")
    }
}

/// Why a run failed.
enum Error {
    Args(ArgError),
    /// `--mode` is required.
    NoMode,
    /// The io-size does not fit the device.
    IoSize {
        io_size: u64,
        block_size: u32,
        capacity: u64,
    },
    /// The device refused a request.
    Device {
        op: &'static str,
        offset: u64,
    },
}

impl From<ArgError> for Error {
    fn from(e: ArgError) -> Error {
        Error::Args(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Args(e) => write!(f, "{e}"),
            Error::NoMode => f.write_str("--mode: missing (seq-read, seq-write, rand-read or rand-write)"),
            Error::IoSize { io_size, block_size, capacity } => write!(
                f,
                "--io-size: {io_size} must be a non-zero multiple of the block size ({block_size}) \
                 and at most the capacity ({capacity})"
            ),
            Error::Device { op, offset } => write!(f, "storage: {op} at offset {offset} failed"),
        }
    }
}

/// SplitMix64: small, seedable with any value, good enough for offsets.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[oasis::main(block = "storage")]
async fn main(os: Os, mut disk: impl BlockDevice) -> Result<(), Error> {
    let mut args = os.args().parser();
    let mode: Mode = args.value("--mode")?.ok_or(Error::NoMode)?;
    let io_size: u64 = args.value("--io-size")?.unwrap_or(4096);
    let count: Option<u64> = args.value("--count")?;
    let seed: u64 = args.value("--seed")?.unwrap_or(1);
    let flush_every: u64 = args.value("--flush-every")?.unwrap_or(0);
    args.finish()?;

    let info = disk.info();
    if io_size == 0
        || !io_size.is_multiple_of(u64::from(info.block_size))
        || io_size > info.capacity
        || usize::try_from(io_size).is_err()
    {
        return Err(Error::IoSize { io_size, block_size: info.block_size, capacity: info.capacity });
    }
    let slots = info.capacity / io_size;
    let count = count.unwrap_or(slots);
    // Not zeroes, so nothing on the way can treat the data specially.
    let mut rng = SplitMix(seed ^ 0x6f_6173_6973);
    let mut buf = vec![0u8; io_size as usize];
    for chunk in buf.chunks_mut(8) {
        let word = rng.next().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    let mut rng = SplitMix(seed);

    let start = os.now();
    let mut flushes = 0u64;
    for i in 0..count {
        let slot = if mode.is_random() { rng.next() % slots } else { i % slots };
        let offset = slot * io_size;
        if mode.is_write() {
            disk.write(offset, &buf).await.map_err(|_| Error::Device { op: "write", offset })?;
            if flush_every != 0 && (i + 1) % flush_every == 0 && i + 1 != count {
                disk.flush().await.map_err(|_| Error::Device { op: "flush", offset })?;
                flushes += 1;
            }
        } else {
            disk.read(offset, &mut buf).await.map_err(|_| Error::Device { op: "read", offset })?;
        }
    }
    if mode.is_write() {
        disk.flush().await.map_err(|_| Error::Device { op: "flush", offset: 0 })?;
        flushes += 1;
    }
    let ns = os.now().saturating_duration_since(start).as_nanos();

    let _ = writeln!(
        os.console(),
        "blockbench: mode={} io_size={io_size} ops={count} bytes={} flushes={flushes} ns={ns}",
        mode.name(),
        count.saturating_mul(io_size),
    );
    Ok(())
}
