//! The keyspace: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, DBSIZE, FLUSHDB,
//! FLUSHALL.

use core::ops::Bound;

use oasis::alloc::collections::BTreeMap;
use oasis::alloc::string::ToString;
use oasis::alloc::vec::Vec;
use oasis_resp::{Reply, glob_match};

use super::args::{eq, integer};
use super::{Command, Exec, Failure, ParseContext, Refusal};
use crate::store::Store;

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`.
#[derive(Clone, Copy, Debug)]
pub struct Scan<'a> {
    /// Where to go on from (0: the start).
    pub cursor: u64,
    /// Keys to return.
    pub pattern: &'a [u8],
    /// Keys to examine.
    pub count: usize,
    /// Whether TYPE (if given) is `string`, the only type there is.
    pub strings: bool,
}

/// How many SCAN iterations are remembered at once; a forgotten one
/// starts over (SCAN may return a key twice, never miss one).
const MAX_OPEN_SCANS: usize = 1024;

/// SCAN iterations under way: each cursor handed out and the last key it
/// examined. Keys are kept sorted, so an iteration resumes after that key
/// and returns every key present all along, whatever changed meanwhile.
#[derive(Debug, Default)]
pub struct Scans {
    next: u64,
    open: BTreeMap<u64, Vec<u8>>,
}

impl Scans {
    /// A new cursor resuming after `last`; the least recently used one is
    /// forgotten when too many are open.
    fn open(&mut self, last: Vec<u8>) -> u64 {
        self.next = self.next.wrapping_add(1).max(1);
        self.open.insert(self.next, last);
        if self.open.len() > MAX_OPEN_SCANS {
            self.open.pop_first();
        }
        self.next
    }
}

// ---- parsing -------------------------------------------------------------

/// `DEL key…` and `UNLINK key…`.
pub fn del<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Del(args))
}

/// `EXISTS key…`.
pub fn exists<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Exists(args))
}

/// `TYPE key`.
pub fn type_of<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Type(args[0]))
}

/// `KEYS pattern`.
pub fn keys<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Keys(args[0]))
}

/// `DBSIZE` (arguments are ignored).
pub fn dbsize<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::DbSize)
}

/// `FLUSHDB [SYNC|ASYNC]`, `FLUSHALL [SYNC|ASYNC]`: both remove at once.
pub fn flushdb<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    match args {
        [] => Ok(Command::FlushDb),
        [mode] if eq(mode, "SYNC") || eq(mode, "ASYNC") => Ok(Command::FlushDb),
        _ => Err(Refusal::Syntax),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`: COUNT is 10 unless
/// given.
pub fn scan<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let cursor =
        core::str::from_utf8(args[0]).ok().and_then(|c| c.parse::<u64>().ok()).ok_or(Refusal::InvalidCursor)?;
    let mut scan = Scan { cursor, pattern: b"*", count: 10, strings: true };
    let mut options = &args[1..];
    while let [option, value, more @ ..] = options {
        match () {
            _ if eq(option, "MATCH") => scan.pattern = value,
            _ if eq(option, "COUNT") => match integer(value) {
                Some(n) if n >= 1 => scan.count = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(Refusal::Syntax),
            },
            _ if eq(option, "TYPE") => scan.strings = eq(value, "string"),
            _ => return Err(Refusal::Syntax),
        }
        options = more;
    }
    if !options.is_empty() {
        return Err(Refusal::Syntax);
    }
    Ok(Command::Scan(scan))
}

// ---- running -------------------------------------------------------------

/// How many of the keys existed (and are now gone).
pub async fn run_del<S: Store>(
    x: &mut Exec<'_, S>,
    keys: &[&[u8]],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let removed = x.store.remove_many(keys).await?;
    x.effect.wrote = removed > 0;
    out.integer(removed as i64);
    Ok(())
}

/// How many of the keys exist (a key named twice counts twice).
pub async fn run_exists<S: Store>(
    x: &mut Exec<'_, S>,
    keys: &[&[u8]],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let mut n = 0i64;
    for key in keys {
        if x.store.contains(key).await? {
            n += 1;
        }
    }
    out.integer(n);
    Ok(())
}

/// `string`, the only type, or `none`.
pub async fn run_type<S: Store>(x: &mut Exec<'_, S>, key: &[u8], out: &mut Reply<'_>) -> Result<(), Failure<'static>> {
    let present = x.store.contains(key).await?;
    out.simple(if present { "string" } else { "none" });
    Ok(())
}

/// Every key matching `pattern`, in order.
pub fn run_keys<S: Store>(x: &mut Exec<'_, S>, pattern: &[u8], out: &mut Reply<'_>) {
    let keys: Vec<Vec<u8>> = x.store.keys().filter(|k| glob_match(pattern, k)).collect();
    out.array(keys.len());
    for k in &keys {
        out.bulk(Some(k));
    }
}

/// Examines `count` keys from where the cursor left off, in key order.
pub fn run_scan<S: Store>(x: &mut Exec<'_, S>, scan: Scan<'_>, out: &mut Reply<'_>) {
    let mut scans = x.scans.borrow_mut();
    // Cursor 0, or one this server does not know (forgotten, or from
    // before a restart): from the start.
    let after = scans.open.remove(&scan.cursor);
    let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut keys = x.store.keys_from(start);
    let mut found = Vec::new();
    let mut last = None;
    for key in keys.by_ref().take(scan.count) {
        if scan.strings && glob_match(scan.pattern, &key) {
            found.push(key.clone());
        }
        last = Some(key);
    }
    let next = match last {
        Some(last) if keys.next().is_some() => scans.open(last),
        _ => 0,
    };
    out.array(2);
    out.bulk(Some(next.to_string().as_bytes()));
    out.array(found.len());
    for k in &found {
        out.bulk(Some(k));
    }
}

/// Removes every key, in batches (each all or nothing; a crash part-way
/// leaves the keys of batches not yet written). A batch the store
/// refuses, too large for one record, is halved until it fits.
pub async fn run_flushdb<S: Store>(x: &mut Exec<'_, S>, out: &mut Reply<'_>) -> Result<(), Failure<'static>> {
    // Keys past their deadline first: the ones `keys` no longer shows.
    while x.store.remove_expired(64).await? > 0 {
        x.effect.wrote = true;
    }
    let keys: Vec<Vec<u8>> = x.store.keys().collect();
    let mut batch_len = 64;
    let mut rest = &keys[..];
    while !rest.is_empty() {
        let (batch, more) = rest.split_at(batch_len.min(rest.len()));
        let batch: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        match x.store.remove_many(&batch).await {
            Ok(_) => {
                x.effect.wrote = true;
                rest = more;
            }
            Err(_) if batch_len > 1 => batch_len /= 2,
            Err(e) => return Err(e.into()),
        }
    }
    out.simple("OK");
    Ok(())
}
