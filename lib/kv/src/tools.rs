//! Synchronous helpers over the traits, for host tools (the `oasis kv`
//! commands: `ls`, `get`, `import`, `export`; `check` is
//! [`crate::disk::check`]) and tests.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use crate::error::KvError;
use crate::traits::{EntryKind, KvRo, KvRw};

/// Runs `future` to completion on this thread. The stores in this crate
/// never wait, so their futures finish on the first poll; a future that
/// does wait is polled again in a busy loop (this is not an executor).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        core::hint::spin_loop();
    }
}

/// Every value at or below `prefix` (`""` for all) with its size, sorted
/// by key.
pub fn ls<K: KvRo>(kv: &K, prefix: &str) -> Result<Vec<(String, u64)>, KvError> {
    let mut out = Vec::new();
    match block_on(kv.exists(prefix))? {
        None => return Err(KvError::NotFound(String::from(prefix))),
        Some(EntryKind::Value) => out.push((String::from(prefix), block_on(kv.size(prefix))?)),
        Some(EntryKind::Dictionary) => {
            let mut stack = alloc::vec![String::from(prefix)];
            while let Some(dictionary) = stack.pop() {
                for (key, kind) in block_on(kv.list(&dictionary))? {
                    match kind {
                        EntryKind::Value => {
                            let size = block_on(kv.size(&key))?;
                            out.push((key, size));
                        }
                        EntryKind::Dictionary => stack.push(key),
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The value at `key`.
pub fn get<K: KvRo>(kv: &K, key: &str) -> Result<K::Value, KvError> {
    block_on(kv.get(key))
}

/// Calls `each` with every value at or below `prefix`, in key order;
/// returns how many. Values are read one at a time.
pub fn export<K, E>(kv: &K, prefix: &str, mut each: impl FnMut(&str, K::Value) -> Result<(), E>) -> Result<usize, E>
where
    K: KvRo,
    E: From<KvError>,
{
    let keys = ls(kv, prefix)?;
    for (key, _) in &keys {
        each(key, block_on(kv.get(key))?)?;
    }
    Ok(keys.len())
}

/// Sets every `(key, value)`, then syncs; returns how many. Not atomic:
/// on an error, the values before it are set.
pub fn import<K, I, S, V>(kv: &K, items: I) -> Result<usize, KvError>
where
    K: KvRw,
    I: IntoIterator<Item = (S, V)>,
    S: AsRef<str>,
    V: AsRef<[u8]>,
{
    let mut count = 0;
    for (key, value) in items {
        block_on(kv.set(key.as_ref(), value.as_ref()))?;
        count += 1;
    }
    block_on(kv.sync())?;
    Ok(count)
}
