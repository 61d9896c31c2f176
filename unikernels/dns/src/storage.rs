//! Zones on the block device: `oasis-kv`'s crash-safe `DiskKv`, holding
//! per zone a snapshot (oasis-dns's `store::encode_zone`, in chunks) and
//! a journal of the updates since (`store::encode_journal`, one value per
//! update). Keys, for a zone `example.com.`:
//!
//! ```text
//! zones/example.com/head        "v1 gen G chunks C journal J confirmed T"
//! zones/example.com/gG/N        chunk N of snapshot generation G
//! zones/example.com/j/SEQ       an update (SEQ ≥ J, twenty digits)
//! ```
//!
//! The store is opened with explicit durability: its writes are all or
//! nothing and reach the device in order, and `sync` makes everything
//! before it durable. A new snapshot is written as chunks of a new
//! generation, then one batch points the head at it and removes the old
//! generation and the journal; a crash before that batch leaves the old
//! head, whose data is untouched (stray generations are removed on the
//! next open). An update is acknowledged only after its journal entry
//! has been synced.

use oasis::alloc::format;
use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::kv::{BatchOp, DiskKv, Durability, EntryKind, FormatOptions, KvError, KvRo, KvRw, OpenError, OpenOptions};
use oasis_dns::Name;
use oasis_dns::store::{decode_journal, decode_zone, encode_journal, encode_zone, replay};
use oasis_dns::update::Change;
use oasis_dns::zone::Zone;

/// Why the store failed.
#[derive(Debug)]
pub struct StorageError(pub String);

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

fn kv_error(what: &str) -> impl FnOnce(KvError) -> StorageError + '_ {
    move |e| StorageError(format!("{what}: {e}"))
}

/// Updates kept as journal entries before the next one writes a fresh
/// snapshot instead (bounds replay time at boot).
const MAX_JOURNAL: u64 = 256;

/// A zone read back from the device.
#[derive(Debug)]
pub struct Stored {
    /// The zone, journal replayed.
    pub zone: Zone,
    /// Wall-clock seconds when a secondary last had it confirmed fresh.
    pub confirmed: u64,
}

/// Where a zone's snapshot and journal are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    generation: u64,
    chunks: u32,
    /// The first journal sequence number that applies to the snapshot.
    journal: u64,
    confirmed: u64,
}

impl Head {
    fn encode(&self) -> String {
        format!(
            "v1 gen {} chunks {} journal {} confirmed {}\n",
            self.generation, self.chunks, self.journal, self.confirmed
        )
    }

    fn decode(bytes: &[u8]) -> Option<Head> {
        let text = core::str::from_utf8(bytes).ok()?;
        let w: Vec<&str> = text.split_whitespace().collect();
        match w.as_slice() {
            ["v1", "gen", g, "chunks", c, "journal", j, "confirmed", t] => Some(Head {
                generation: g.parse().ok()?,
                chunks: c.parse().ok()?,
                journal: j.parse().ok()?,
                confirmed: t.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// The key segment for a zone: its name in lower case without the final
/// dot (`@` for the root), or `x-` and the wire form in hex when the name
/// has bytes a key cannot carry well.
pub fn zone_key(origin: &Name) -> String {
    let text = origin.to_lowercase().to_text();
    let text = text.strip_suffix('.').unwrap_or(&text);
    if text.is_empty() {
        return String::from("@");
    }
    let plain = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if plain && !text.starts_with('.') && !text.starts_with("x-") {
        return String::from(text);
    }
    let mut hex = String::from("x-");
    for b in origin.to_lowercase().as_wire() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// How the store was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A blank device, formatted now.
    Formatted,
    /// An existing store.
    Existing,
}

/// The zone store on the block device.
pub struct Storage<D: BlockDevice> {
    kv: DiskKv<D>,
    /// Bytes per snapshot chunk (within the store's value limit).
    chunk: usize,
    /// Per zone: its head and the next journal sequence number.
    heads: oasis::alloc::collections::BTreeMap<String, (Head, u64)>,
}

impl<D: BlockDevice> Storage<D> {
    /// Opens the store on `dev`; a blank device is formatted first, one
    /// holding anything else is refused untouched.
    pub async fn open(mut dev: D, store_id: u64) -> Result<(Storage<D>, Opened), StorageError> {
        let options = OpenOptions { durability: Durability::Explicit, read_only: false };
        let mut opened = Opened::Existing;
        let kv = match DiskKv::open(dev, options).await {
            Ok(kv) => kv,
            Err(OpenError { error: KvError::NotAStore, device }) => {
                dev = device;
                if !looks_blank(&mut dev).await? {
                    return Err(StorageError(
                        "the storage device holds something that is not an Oasis store; refusing to format over \
                         it (give a blank device, or format one with `oasis kv format`)"
                            .into(),
                    ));
                }
                let mut format = FormatOptions::new(store_id);
                format.max_value_len = 256 << 10;
                // A record must fit an eighth of the log: on a small device
                // the value limit comes down until it does.
                loop {
                    match DiskKv::format(&mut dev, &format).await {
                        Ok(()) => break,
                        Err(KvError::Geometry(_)) if format.max_value_len > 4096 => format.max_value_len /= 2,
                        Err(e) => return Err(StorageError(format!("formatting the storage device: {e}"))),
                    }
                }
                opened = Opened::Formatted;
                DiskKv::open(dev, options).await.map_err(|e| StorageError(format!("opening after format: {e}")))?
            }
            Err(e) => return Err(StorageError(format!("opening the store: {e}"))),
        };
        let info = kv.info().await;
        // A chunk and its key fit one record with room to spare.
        let chunk = (info.max_value_len as usize).min(info.max_record_len as usize / 2).saturating_sub(256).max(1024);
        Ok((Storage { kv, chunk, heads: Default::default() }, opened))
    }

    /// The store's numbers, for the log.
    pub async fn info(&self) -> oasis::kv::StoreInfo {
        self.kv.info().await
    }

    /// Every zone on the device, journals replayed. Stray snapshot
    /// generations (a crash mid-snapshot) are removed. A zone whose data
    /// does not read back is reported and left out, not served.
    pub async fn load_all(&mut self) -> Result<Vec<Stored>, StorageError> {
        let mut out = Vec::new();
        let zones = match self.kv.list("zones").await {
            Ok(z) => z,
            Err(KvError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(StorageError(format!("listing zones: {e}"))),
        };
        for (dir, kind) in zones {
            if kind != EntryKind::Dictionary {
                continue;
            }
            match self.load_one(&dir).await {
                Ok(Some(stored)) => out.push(stored),
                Ok(None) => {}
                Err(e) => oasis::log::error!("{dir}: not served from storage: {e}"),
            }
        }
        Ok(out)
    }

    async fn load_one(&mut self, dir: &str) -> Result<Option<Stored>, StorageError> {
        let head_key = format!("{dir}/head");
        let head = match self.kv.get(&head_key).await {
            Ok(bytes) => Head::decode(&bytes).ok_or_else(|| StorageError(format!("{head_key}: unreadable")))?,
            Err(KvError::NotFound(_)) => {
                // Chunks of a first snapshot whose head never made it.
                self.kv.remove(dir).await.map_err(kv_error(dir))?;
                return Ok(None);
            }
            Err(e) => return Err(StorageError(format!("{head_key}: {e}"))),
        };
        let current = format!("{dir}/g{}", head.generation);
        let mut bytes = Vec::new();
        for n in 0..head.chunks {
            let key = format!("{current}/{n}");
            bytes.extend_from_slice(&self.kv.get(&key).await.map_err(kv_error(&key))?);
        }
        let mut zone = decode_zone(&bytes).map_err(|e| StorageError(format!("{current}: {e}")))?;
        let journal_dir = format!("{dir}/j");
        let mut next = head.journal;
        let entries = match self.kv.list(&journal_dir).await {
            Ok(e) => e,
            Err(KvError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(StorageError(format!("{journal_dir}: {e}"))),
        };
        for (key, _) in entries {
            let Some(seq) = key.rsplit('/').next().and_then(|s| s.parse::<u64>().ok()) else { continue };
            if seq < head.journal {
                continue;
            }
            let value = self.kv.get(&key).await.map_err(kv_error(&key))?;
            let changes = decode_journal(&value).map_err(|e| StorageError(format!("{key}: {e}")))?;
            replay(&mut zone, &changes).map_err(|e| StorageError(format!("{key}: {e}")))?;
            next = seq + 1;
        }
        // Snapshot generations other than the head's: a crash between
        // writing chunks and moving the head.
        for (key, kind) in self.kv.list(dir).await.map_err(kv_error(dir))? {
            let last = key.rsplit('/').next().unwrap_or_default();
            if kind == EntryKind::Dictionary && last.starts_with('g') && key != current {
                self.kv.remove(&key).await.map_err(kv_error(&key))?;
            }
        }
        self.heads.insert(String::from(dir), (head, next));
        Ok(Some(Stored { zone, confirmed: head.confirmed }))
    }

    /// Writes `zone` as a fresh snapshot (the journal restarts), durable
    /// when this returns. `confirmed`: wall-clock seconds, for secondaries.
    pub async fn save(&mut self, zone: &Zone, confirmed: u64) -> Result<(), StorageError> {
        let dir = format!("zones/{}", zone_key(zone.origin()));
        let (old, next) = self.heads.get(&dir).copied().map_or((None, 0), |(h, n)| (Some(h), n));
        let generation = old.map_or(0, |h| h.generation + 1);
        let bytes = encode_zone(zone);
        let chunks: Vec<&[u8]> = bytes.chunks(self.chunk).collect();
        let gen_dir = format!("{dir}/g{generation}");
        // Left over from an earlier crash at this generation, if any.
        self.kv.remove(&gen_dir).await.map_err(kv_error(&gen_dir))?;
        for (n, chunk) in chunks.iter().enumerate() {
            let key = format!("{gen_dir}/{n}");
            self.kv.set(&key, chunk).await.map_err(kv_error(&key))?;
        }
        let head = Head { generation, chunks: chunks.len() as u32, journal: next, confirmed };
        let head_key = format!("{dir}/head");
        let head_text = head.encode();
        let journal_dir = format!("{dir}/j");
        let old_dir = old.map(|h| format!("{dir}/g{}", h.generation));
        let mut ops = Vec::from([BatchOp::Set(&head_key, head_text.as_bytes()), BatchOp::Remove(&journal_dir)]);
        if let Some(old_dir) = &old_dir {
            ops.push(BatchOp::Remove(old_dir));
        }
        self.kv.batch(&ops).await.map_err(kv_error(&head_key))?;
        self.kv.sync().await.map_err(kv_error("syncing the storage device"))?;
        self.heads.insert(dir, (head, next));
        Ok(())
    }

    /// Records an update to `zone` (already applied to it), durable when
    /// this returns: as a journal entry when the device has a snapshot of
    /// the zone and the journal is not long, else as a fresh snapshot.
    pub async fn record_update(&mut self, zone: &Zone, changes: &[Change]) -> Result<(), StorageError> {
        let dir = format!("zones/{}", zone_key(zone.origin()));
        let Some(&(head, next)) = self.heads.get(&dir) else { return self.save(zone, 0).await };
        let entry = encode_journal(changes);
        if next - head.journal >= MAX_JOURNAL || entry.len() > self.chunk {
            return self.save(zone, head.confirmed).await;
        }
        let key = format!("{dir}/j/{next:020}");
        self.kv.set(&key, &entry).await.map_err(kv_error(&key))?;
        self.kv.sync().await.map_err(kv_error("syncing the storage device"))?;
        self.heads.insert(dir, (head, next + 1));
        Ok(())
    }

    /// Notes that a secondary's copy was confirmed fresh at `confirmed`.
    pub async fn confirm(&mut self, origin: &Name, confirmed: u64) -> Result<(), StorageError> {
        let dir = format!("zones/{}", zone_key(origin));
        let Some(&(head, next)) = self.heads.get(&dir) else { return Ok(()) };
        let head = Head { confirmed, ..head };
        let key = format!("{dir}/head");
        self.kv.set(&key, head.encode().as_bytes()).await.map_err(kv_error(&key))?;
        self.kv.sync().await.map_err(kv_error("syncing the storage device"))?;
        self.heads.insert(dir, (head, next));
        Ok(())
    }

    /// Forgets a zone (its compiled-in version is newer, say).
    pub async fn remove(&mut self, origin: &Name) -> Result<(), StorageError> {
        let dir = format!("zones/{}", zone_key(origin));
        self.kv.remove(&dir).await.map_err(kv_error(&dir))?;
        self.kv.sync().await.map_err(kv_error("syncing the storage device"))?;
        self.heads.remove(&dir);
        Ok(())
    }
}

/// Whether the device reads as zeroes where a format would write and a
/// sample elsewhere: a device with data on it is never formatted over.
async fn looks_blank<D: BlockDevice>(dev: &mut D) -> Result<bool, StorageError> {
    const MIB: u64 = 1 << 20;
    let info = dev.info();
    let block = u64::from(info.block_size.max(1));
    let capacity = info.capacity / block * block;
    let round_up = |n: u64| n.div_ceil(block) * block;
    let mut spans: Vec<(u64, u64)> = Vec::from([(0, MIB.min(capacity)), (capacity.saturating_sub(MIB), capacity)]);
    let mut at = MIB;
    while at + MIB < capacity {
        spans.push((at, (at + round_up(4096)).min(capacity)));
        at += MIB;
    }
    let chunk = round_up(64 << 10);
    let mut buf = oasis::alloc::vec![0u8; chunk as usize];
    for (start, end) in spans {
        let mut at = start;
        while at < end {
            let part = &mut buf[..chunk.min(end - at) as usize];
            dev.read(at, part).await.map_err(|e| StorageError(format!("reading the storage device at {at}: {e}")))?;
            // A word at a time: guests have no SIMD.
            let mut words = part.chunks_exact(8);
            if words.any(|w| w != [0u8; 8]) || words.remainder().iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += part.len() as u64;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_dns::zone::{ParseOptions, parse_zone};
    use oasis_dns::{Class, RData, Record};
    use oasis_kv::testing::{Crash, MemDevice, Rng};
    use oasis_kv::tools::block_on;

    fn zone() -> Zone {
        let text = b"$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
        let origin = Name::from_text("s.test.", None).unwrap();
        parse_zone(text, ParseOptions { file_name: "s", origin, default_ttl: None, include: None }).unwrap()
    }

    fn add(zone: &mut Zone, i: u32) -> Vec<Change> {
        let u = oasis_dns::update::Update {
            id: 1,
            zone: zone.origin().clone(),
            prerequisites: Vec::new(),
            updates: Vec::from([Record {
                name: Name::from_text(&format!("h{i}.s.test."), None).unwrap(),
                class: Class::IN,
                ttl: 60,
                data: RData::A([10, 0, (i >> 8) as u8, i as u8].into()),
            }]),
        };
        oasis_dns::update::apply(zone, &u).unwrap()
    }

    fn reopen(dev: MemDevice) -> (Storage<MemDevice>, Vec<Stored>) {
        let (mut s, opened) = block_on(Storage::open(dev, 1)).unwrap();
        assert_eq!(opened, Opened::Existing);
        let stored = block_on(s.load_all()).unwrap();
        (s, stored)
    }

    #[test]
    fn updates_snapshots_and_crashes() {
        let (mut s, opened) = block_on(Storage::open(MemDevice::new(4 << 20, 512), 7)).unwrap();
        assert_eq!(opened, Opened::Formatted);
        assert!(block_on(s.load_all()).unwrap().is_empty());
        let mut z = zone();
        // The first update writes a snapshot; the next ones journal
        // entries; past MAX_JOURNAL a fresh snapshot.
        for i in 0..(MAX_JOURNAL as u32 + 20) {
            let changes = add(&mut z, i);
            block_on(s.record_update(&z, &changes)).unwrap();
        }
        let keys: Vec<String> = block_on(s.kv.keys()).into_iter().map(|(k, _)| k).collect();
        assert!(keys.iter().any(|k| k.starts_with("zones/s.test/g1/")), "{keys:?}");
        assert!(keys.iter().filter(|k| k.contains("/j/")).count() < 30, "{keys:?}");
        // Every write was synced: a crash keeping nothing unflushed loses none.
        let mut dev = s.kv.into_device();
        dev.crash(&mut Rng::new(3), Crash::Subset, true);
        let (s, stored) = reopen(dev);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].zone.records().collect::<Vec<_>>(), z.records().collect::<Vec<_>>());
        // A snapshot cut short (chunks written, head not moved) is ignored
        // and cleared away on the next open.
        block_on(s.kv.set("zones/s.test/g9/0", b"half a snapshot")).unwrap();
        block_on(s.kv.sync()).unwrap();
        let (s, stored) = reopen(s.kv.into_device());
        assert_eq!(stored[0].zone.serial(), z.serial());
        assert!(!block_on(s.kv.keys()).iter().any(|(k, _)| k.contains("/g9/")));
        // A secondary's confirmation time survives too.
        let (mut s, _) = reopen(s.kv.into_device());
        block_on(s.confirm(z.origin(), 1234)).unwrap();
        let (mut s, stored) = reopen(s.kv.into_device());
        assert_eq!(stored[0].confirmed, 1234);
        block_on(s.remove(z.origin())).unwrap();
        let (_, stored) = reopen(s.kv.into_device());
        assert!(stored.is_empty());
    }

    #[test]
    fn a_device_with_other_data_is_refused() {
        let mut image = vec![0u8; 1 << 20];
        image[5000] = 1;
        let e = block_on(Storage::open(MemDevice::from_image(image, 512), 1)).err().unwrap();
        assert!(e.0.contains("refusing to format"), "{e}");
    }

    #[test]
    fn keys_and_heads() {
        let n = |t: &str| Name::from_text(t, None).unwrap();
        assert_eq!(zone_key(&n("Example.COM.")), "example.com");
        assert_eq!(zone_key(&Name::root()), "@");
        assert_eq!(zone_key(&n("a\\/b.test.")), "x-03612f62047465737400");
        let h = Head { generation: 3, chunks: 2, journal: 17, confirmed: 99 };
        assert_eq!(Head::decode(h.encode().as_bytes()), Some(h));
        assert_eq!(Head::decode(b"v2 gen 1"), None);
    }
}
