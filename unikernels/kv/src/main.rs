//! kv: a key-value server speaking enough of the Redis protocol (RESP2)
//! for `redis-cli` and `redis-benchmark`: GET, SET, DEL, EXISTS, MGET,
//! MSET, KEYS, PING, INFO, DBSIZE and the handshake commands clients send.
//!
//! Devices: network `service`, block `storage`. Arguments:
//! `--port N` (6379), `--storage disk|memory` (disk), `--durability
//! always|everysec` (always: a write is acknowledged only after it is
//! durable, and writes arriving together share one flush — group commit;
//! everysec: acknowledged at once, flushed every second, like Redis's
//! `appendfsync everysec`), `--max-key BYTES` (1024, at most 1024),
//! `--max-value BYTES` (1 MiB), `--max-clients N` (10000), `--cache
//! BYTES` (8 MiB: values kept in memory so GET need not read the device;
//! 0 turns it off).
//!
//! The disk store is `oasis-kv`'s crash-safe log on the `storage` device.
//! A blank (all-zero) device is formatted on first boot; one holding
//! anything other than a store is refused, untouched.
//!
//! Malformed protocol input gets `-ERR Protocol error: …` and the
//! connection is closed, as Redis does; an unknown command or bad
//! arguments get an error reply and the connection stays usable.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

mod commands;
mod store;

use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::task::{Poll, Waker};

use oasis::alloc::boxed::Box;
use oasis::alloc::rc::Rc;
use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::net::io::Write as _;
use oasis::net::{NetError, Stack, TcpListener, TcpStream};
use oasis::sync::Mutex;
use oasis::{Duration, Os};
use oasis_resp::{Parsed, Reply};

use crate::commands::{Counters, Limits, Scans};
use crate::store::{DiskStore, MemStore, Opened, Store};

/// Group commit: writes get increasing numbers; a connection whose reply
/// depends on write `n` waits until a flush covering `n` is done. The
/// first waiter to find no flush running does it for everyone.
struct Syncer {
    written: Cell<u64>,
    synced: Cell<u64>,
    flushing: Cell<bool>,
    failed: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

struct Server<S> {
    os: Os,
    store: Box<Mutex<S>>,
    scans: RefCell<Scans>,
    limits: Limits,
    protocol: oasis_resp::Limits,
    counters: RefCell<Counters>,
    syncer: Syncer,
    durable: bool,
    max_clients: u64,
    /// The wall clock at monotonic time zero, so reading the time costs no
    /// hypercall (a VM exit on hvt) per command.
    wall_origin_ns: u64,
}

#[derive(Debug)]
enum Error {
    Args(oasis::ArgError),
    Net(&'static str, NetError),
    Storage(store::StoreError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Args(e) => write!(f, "{e}"),
            Error::Net(what, e) => write!(f, "{what}: {e}"),
            Error::Storage(e) => write!(f, "storage: {e}"),
        }
    }
}

impl<S: Store> Server<S> {
    /// Unix time in milliseconds, for deadlines.
    fn now_ms(&self) -> store::Deadline {
        self.wall_origin_ns.saturating_add(self.os.now().as_nanos()) / 1_000_000
    }

    /// Removes keys past their deadline, a bounded number at a time, ten
    /// times a second (Redis's active expiry); the rest go as they are
    /// touched.
    async fn expire_keys(&self) {
        loop {
            self.os.sleep(Duration::from_millis(100)).await;
            let mut store = self.store.lock().await;
            store.set_now(self.now_ms());
            match store.remove_expired(EXPIRE_PER_TICK).await {
                Ok(0) => {}
                // Durable with the next flush; a crash before it only
                // brings back keys that are past their deadline anyway.
                Ok(_) => self.syncer.written.set(self.syncer.written.get() + 1),
                Err(e) => oasis::log::warn!("removing expired keys: {e}"),
            }
        }
    }

    /// Waits until every write up to `target` is durable.
    async fn durable(&self, target: u64) -> Result<(), ()> {
        loop {
            if self.syncer.synced.get() >= target {
                return Ok(());
            }
            if self.syncer.failed.get() {
                return Err(());
            }
            if !self.syncer.flushing.get() {
                self.syncer.flushing.set(true);
                // Let every connection with input waiting run its writes
                // first, so they all share this flush (as Redis's
                // `appendfsync always` does once per event-loop turn).
                self.os.idle().await;
                let upto = self.syncer.written.get();
                let ok = self.store.lock().await.sync().await.is_ok();
                self.syncer.flushing.set(false);
                if ok {
                    self.syncer.synced.set(upto);
                } else {
                    self.syncer.failed.set(true);
                }
                for w in self.syncer.waiters.borrow_mut().drain(..) {
                    w.wake();
                }
                continue;
            }
            poll_fn(|cx| {
                if self.syncer.flushing.get() {
                    self.syncer.waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
    }

    async fn serve<C: TcpStream>(&self, mut conn: C) {
        let mut input: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut output: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut chunk = oasis::alloc::vec![0u8; 16 * 1024];
        loop {
            let n = match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            input.extend_from_slice(&chunk[..n]);
            // Every whole command in the buffer (pipelining), then one write.
            let mut used = 0;
            let mut wrote = false;
            let mut quit = false;
            let mut protocol_error = None;
            {
                let mut store = self.store.lock().await;
                loop {
                    match oasis_resp::parse(&input[used..], &self.protocol) {
                        Ok(Parsed::Incomplete) => break,
                        Ok(Parsed::Command { args, consumed }) => {
                            used += consumed;
                            if args.is_empty() {
                                continue;
                            }
                            // A copy: a store call may wait, and other
                            // connections update the counters meanwhile.
                            let counters = {
                                let mut c = self.counters.borrow_mut();
                                c.commands += 1;
                                c.clone()
                            };
                            let effect = commands::run(
                                &mut *store,
                                &self.scans,
                                &args,
                                &self.limits,
                                &counters,
                                self.now_ms(),
                                &mut Reply(&mut output),
                            )
                            .await;
                            if effect.wrote {
                                self.syncer.written.set(self.syncer.written.get() + 1);
                                wrote = true;
                            }
                            if effect.quit {
                                quit = true;
                                break;
                            }
                        }
                        Err(e) => {
                            protocol_error = Some(e);
                            break;
                        }
                    }
                }
            }
            input.drain(..used);
            if let Some(e) = protocol_error {
                Reply(&mut output).error(&oasis::alloc::format!("ERR {e}"));
                quit = true;
            }
            if wrote && self.durable && self.durable(self.syncer.written.get()).await.is_err() {
                output.clear();
                Reply(&mut output).error("ERR the storage device failed; writes may not be durable");
                quit = true;
            }
            if !output.is_empty() && conn.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
            if quit {
                let _ = conn.shutdown().await;
                return;
            }
        }
    }
}

async fn run<S: Store + 'static, N: Stack>(os: Os, net: N, server: Rc<Server<S>>, port: u16) -> Result<(), Error> {
    let listener = net.tcp_listen(port).await.map_err(|e| Error::Net("tcp listen", e))?;
    oasis::log::info!(
        "listening on port {port} ({}, durability {})",
        server.store.lock().await.describe(),
        server.counters.borrow().durability
    );
    loop {
        let (conn, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                oasis::log::warn!("accept: {e}");
                continue;
            }
        };
        let admitted = {
            let mut c = server.counters.borrow_mut();
            let room = c.connected < server.max_clients;
            if room {
                c.connections += 1;
                c.connected += 1;
            }
            room
        };
        if !admitted {
            let mut conn = conn;
            let _ = conn.write_all(b"-ERR max number of clients reached\r\n").await;
            continue;
        }
        let s = server.clone();
        os.spawn(async move {
            s.serve(conn).await;
            s.counters.borrow_mut().connected -= 1;
        });
    }
}

/// When a write is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    /// Once it is on the device (flushed); concurrent writes share a flush.
    Always,
    /// At once; a flush runs every second (Redis's `appendfsync everysec`).
    EverySec,
}

fn arg_error(name: &'static str, value: &str, reason: &str) -> Error {
    Error::Args(oasis::ArgError::Invalid { name, value: value.into(), reason: reason.into() })
}

#[oasis::main(net = "service", block = "storage")]
async fn main(os: Os, net: impl Stack, disk: impl BlockDevice + 'static) -> Result<(), Error> {
    let mut args = os.args().parser();
    let port: u16 = args.value("--port").map_err(Error::Args)?.unwrap_or(6379);
    let storage: String = args.value("--storage").map_err(Error::Args)?.unwrap_or_else(|| "disk".into());
    let durability: String = args.value("--durability").map_err(Error::Args)?.unwrap_or_else(|| "always".into());
    let max_key: usize = args.value("--max-key").map_err(Error::Args)?.unwrap_or(1024);
    let max_value: usize = args.value("--max-value").map_err(Error::Args)?.unwrap_or(1 << 20);
    let max_clients: u64 = args.value("--max-clients").map_err(Error::Args)?.unwrap_or(10_000);
    let cache: usize = args.value("--cache").map_err(Error::Args)?.unwrap_or(8 << 20);
    args.finish().map_err(Error::Args)?;
    let durability = match durability.as_str() {
        "always" => Durability::Always,
        "everysec" => Durability::EverySec,
        other => return Err(arg_error("--durability", other, "expected always or everysec")),
    };
    if max_key > MAX_KEY {
        return Err(arg_error("--max-key", &oasis::alloc::format!("{max_key}"), "at most 1024"));
    }
    if max_value == 0 || max_value > MAX_VALUE {
        return Err(arg_error("--max-value", &oasis::alloc::format!("{max_value}"), "between 1 and 16777216"));
    }
    let limits = Limits { max_key, max_value };
    match storage.as_str() {
        "memory" => {
            drop(disk);
            serve(os, net, MemStore::default(), limits, None, max_clients, port).await
        }
        "disk" => {
            let mut seed = [0u8; 8];
            os.fill_random(&mut seed);
            let (mut store, opened) =
                DiskStore::open(disk, u64::from_le_bytes(seed), max_value, cache).await.map_err(Error::Storage)?;
            // So the count below leaves out keys already past their deadline.
            store.set_now(os.wall_clock_ns() / 1_000_000);
            let info = store.info().await;
            oasis::log::info!(
                "{} store: {} keys, {} of {} usable bytes live, capacity {} bytes",
                if opened == Opened::Formatted { "formatted a new" } else { "opened the" },
                store.len(),
                info.live_bytes,
                info.usable_bytes,
                info.capacity
            );
            if store::keys::max_path_len(max_key) > info.max_key_len as usize {
                oasis::log::warn!(
                    "--max-key {max_key}: this store takes keys of {} bytes, and keys are stored escaped (up to \
                     3 bytes per byte); longer ones are refused",
                    info.max_key_len
                );
            }
            if max_value > info.max_value_len as usize {
                oasis::log::warn!(
                    "--max-value {max_value} is more than this store's limit of {}; larger values are refused",
                    info.max_value_len
                );
            }
            serve(os, net, store, limits, Some(durability), max_clients, port).await
        }
        other => Err(arg_error("--storage", other, "expected disk or memory")),
    }
}

/// The longest key `--max-key` may allow: encoded (at most three bytes
/// per byte, see `store::keys`) it still fits a store key.
const MAX_KEY: usize = 1024;
const _: () = assert!(store::keys::max_path_len(MAX_KEY) <= oasis_kv::disk::limits::KEY_LEN_LIMIT as usize);
/// Most expired keys removed per tenth of a second by the background sweep.
const EXPIRE_PER_TICK: usize = 200;

/// The largest value `--max-value` may allow.
const MAX_VALUE: usize = 16 << 20;

async fn serve<S: Store + 'static, N: Stack>(
    os: Os,
    net: N,
    store: S,
    limits: Limits,
    durability: Option<Durability>,
    max_clients: u64,
    port: u16,
) -> Result<(), Error> {
    // A bulk string over the value limit is refused while parsing, before
    // it is buffered (Redis's proto-max-bulk-len): an error reply, then
    // the connection is closed. Keys over their (smaller) limit get an
    // error reply and the connection goes on.
    let protocol =
        oasis_resp::Limits { max_args: 1 << 20, max_bulk: limits.max_value.max(limits.max_key), max_inline: 64 << 10 };
    let server = Rc::new(Server {
        os: os.clone(),
        store: Box::new(Mutex::new(store)),
        scans: RefCell::new(Scans::default()),
        limits,
        protocol,
        counters: RefCell::new(Counters {
            commands: 0,
            connections: 0,
            connected: 0,
            durability: match durability {
                None => "none",
                Some(Durability::Always) => "always",
                Some(Durability::EverySec) => "everysec",
            },
        }),
        syncer: Syncer {
            written: Cell::new(0),
            synced: Cell::new(0),
            flushing: Cell::new(false),
            failed: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
        },
        durable: durability == Some(Durability::Always),
        max_clients,
        wall_origin_ns: os.wall_clock_ns().saturating_sub(os.now().as_nanos()),
    });
    let expirer = server.clone();
    os.spawn(async move { expirer.expire_keys().await });
    if durability == Some(Durability::EverySec) {
        let s = server.clone();
        let timer = os.clone();
        os.spawn(async move {
            loop {
                timer.sleep(Duration::from_secs(1)).await;
                let written = s.syncer.written.get();
                if written > s.syncer.synced.get() && s.durable(written).await.is_err() {
                    oasis::log::error!("the storage device failed to flush");
                    return;
                }
            }
        });
    }
    run(os, net, server, port).await
}
