//! Synchronous helpers over the traits, for host tools (the `oasis kv`
//! commands: `ls`, `get`, `import`, `export`; `check` is
//! [`crate::disk::check`]) and tests, and [`block_on`] to run the stores'
//! async methods from synchronous code.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use crate::error::KvError;
use crate::traits::{EntryKind, KvRo, KvRw};

/// Runs `future` to completion on this thread, for futures that never
/// wait: the stores of this crate over a device whose requests complete
/// at once (`MemDevice` under the `testing` feature, `FileDevice` under `std`), used by
/// one caller at a time. Those finish on their first poll.
///
/// This is not an executor. A future that returns `Pending` having woken
/// itself is polled again; one that returns `Pending` without being woken
/// is waiting for something nothing on this thread will bring (a device
/// request in flight elsewhere, a lock held across the call), and this
/// panics, naming the cause, rather than spin forever.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if !woken.0.swap(false, Ordering::SeqCst) {
            panic!(
                "block_on: the future waits for something nothing on this thread will bring (a device request that \
                 does not complete at once, or a store locked elsewhere); block_on runs only futures that never wait"
            );
        }
    }
}

/// Whether [`block_on`]'s future woke itself since its last poll.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use core::future::poll_fn;

    use super::*;

    #[test]
    fn futures_that_complete_at_once_or_wake_themselves_run() {
        assert_eq!(block_on(async { 7 }), 7);
        let mut polls = 0;
        let output = block_on(poll_fn(|cx| {
            polls += 1;
            if polls < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        }));
        assert_eq!(output, 3);
    }

    #[test]
    #[should_panic(expected = "block_on runs only futures that never wait")]
    fn a_future_that_waits_fails_loudly() {
        block_on(core::future::pending::<()>());
    }

    #[test]
    #[should_panic(expected = "block_on runs only futures that never wait")]
    fn a_store_locked_elsewhere_fails_loudly() {
        let mutex = oasis_sync::Mutex::new(());
        let _held = mutex.try_lock();
        block_on(mutex.lock());
    }
}
