//! dns: an authoritative name server.
//!
//! It serves the zones in its read-only store `zones` (compiled in from
//! `./zones`, or from any directory with `oasis run unikernels/dns --kv
//! zones=DIR`): every file is one zone, named by the file (less `.zone`)
//! unless it starts with `$ORIGIN`. A zone that does not load stops the
//! server before it answers anything, naming the file, line and reason.
//! Answers come from `oasis-dns` (its `Responder`, with a fast path of
//! precomputed responses); this package adds the network, the policy
//! (who may transfer, update, notify), and the block device.
//!
//! Devices: network `service`, block `storage` (zones changed by updates
//! or transferred in, kept by `oasis-kv`'s `DiskKv`; they take precedence
//! over the compiled-in copy unless that one has the newer serial).
//!
//! Arguments: `--port N` (53; 5353 on the unix target), `--role
//! primary|secondary`, `--primary ADDR[:PORT]` and `--zone NAME`
//! (repeatable) for a secondary, `--secondary ADDR[:PORT]` (repeatable:
//! notified of changes, allowed to transfer), `--key
//! NAME:hmac-sha256:BASE64` (repeatable TSIG keys: with any, transfers,
//! updates and NOTIFYs must be signed), `--tcp-max N` (256 connections),
//! `--tcp-idle SECONDS` (10), `--udp-size BYTES` (1232), `--cache BYTES`
//! (8 MiB of precomputed responses), `--storage disk|none`, and the
//! runtime's `--log LEVEL`. See docs/dns.md.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

mod config;
mod notify;
mod secondary;
mod server;
mod signal;
mod storage;
mod transport;
mod zones;

use core::cell::{Cell, RefCell};

use oasis::Os;
use oasis::alloc::collections::BTreeMap;
use oasis::alloc::rc::Rc;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::kv::StaticKv;
use oasis::net::{NetError, Stack};
use oasis::sync::Mutex;
use oasis_dns::secondary::Secondary;
use oasis_dns::zone::Zone;
use oasis_dns::{Catalog, Responder, serial};

use crate::config::{Config, Role};
use crate::secondary::ZoneState;
use crate::server::Server;
use crate::signal::Signal;
use crate::storage::{Opened, Storage, Stored};

static ZONES: StaticKv = oasis::static_kv!("zones.rs");

#[derive(Debug)]
enum Error {
    Args(oasis::ArgError),
    Zone(zones::ZoneFileError),
    Storage(storage::StorageError),
    Net(&'static str, u16, NetError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Args(e) => write!(f, "{e}"),
            Error::Zone(e) => write!(f, "zone refused: {e}"),
            Error::Storage(e) => write!(f, "storage: {e}"),
            Error::Net(what, port, e) => write!(f, "{what} on port {port}: {e}"),
        }
    }
}

#[oasis::main(net = "service", block = "storage")]
async fn main(os: Os, net: impl Stack + 'static, disk: impl BlockDevice + 'static) -> Result<(), Error> {
    let mut args = os.args().parser();
    let config = Config::from_args(&mut args, os.platform_name() == "unix").map_err(Error::Args)?;
    let cache: usize = args.value("--cache").map_err(Error::Args)?.unwrap_or(8 << 20);
    args.finish().map_err(Error::Args)?;
    let wall_origin_ns = os.wall_clock_ns().saturating_sub(os.now().as_nanos());
    let now = (wall_origin_ns + os.now().as_nanos()) / 1_000_000_000;

    let (mut storage, stored) = if config.storage {
        let (mut storage, opened) = Storage::open(disk, os.random_u64()).await.map_err(Error::Storage)?;
        let stored = storage.load_all().await.map_err(Error::Storage)?;
        let info = storage.info().await;
        oasis::log::info!(
            "{} zone store: {} zones, {} of {} usable bytes",
            if opened == Opened::Formatted { "formatted a new" } else { "opened the" },
            stored.len(),
            info.live_bytes,
            info.usable_bytes
        );
        (Some(storage), stored)
    } else {
        drop(disk);
        (None, Vec::new())
    };

    let mut catalog = Catalog::new();
    let mut secondary = BTreeMap::new();
    match &config.role {
        Role::Primary => {
            let compiled = zones::load_all(ZONES.entries().iter().map(|(k, v, _)| (*k, *v))).map_err(Error::Zone)?;
            let mut stored: Vec<Stored> = stored;
            for zone in compiled {
                let zone = match stored.iter().position(|s| s.zone.origin() == zone.origin()) {
                    Some(i) => {
                        let copy = stored.swap_remove(i).zone;
                        choose(zone, copy, storage.as_mut()).await?
                    }
                    None => zone,
                };
                catalog.insert(zone);
            }
            for s in stored {
                oasis::log::warn!("{}: on the storage device but not compiled in; not served", s.zone.origin());
            }
        }
        Role::Secondary { primary, zones } => {
            if !ZONES.is_empty() {
                oasis::log::info!("secondary: the compiled-in zones are not served");
            }
            for origin in zones {
                let copy = stored.iter().find(|s| s.zone.origin() == origin);
                let timers = match copy.and_then(|s| s.zone.soa().map(|(soa, _)| (soa.clone(), s.confirmed))) {
                    Some((soa, confirmed)) => Secondary::with_copy(&soa, confirmed, now),
                    None => Secondary::new(now),
                };
                match copy {
                    Some(s) if timers.is_servable(now) => {
                        oasis::log::info!(
                            "{origin}: serving the stored copy, serial {} (checking {primary})",
                            s.zone.serial().unwrap_or(0)
                        );
                        catalog.insert(s.zone.clone());
                    }
                    Some(_) => oasis::log::warn!("{origin}: the stored copy has expired; transferring"),
                    None => {}
                }
                secondary.insert(origin.clone(), ZoneState { timers });
            }
        }
    }
    for zone in catalog.zones() {
        oasis::log::info!("{}: serial {}, {} records", zone.origin(), zone.serial().unwrap_or(0), zone.record_count());
    }
    let responder_config =
        oasis_dns::Config { edns_udp_size: config.udp_size, cache_bytes: cache, ..oasis_dns::Config::default() };
    let zone_count = catalog.zones().count();
    let port = config.port;
    let server = Rc::new(Server {
        os: os.clone(),
        net,
        config,
        responder: RefCell::new(Responder::new(catalog, responder_config)),
        storage: Mutex::new(storage),
        secondary: RefCell::new(secondary),
        secondary_wake: Signal::default(),
        notify_generation: RefCell::new(BTreeMap::new()),
        tcp_open: Cell::new(0),
        wall_origin_ns,
    });
    let udp = server.net.udp_bind(port).await.map_err(|e| Error::Net("udp bind", port, e))?;
    let tcp = server.net.tcp_listen(port).await.map_err(|e| Error::Net("tcp listen", port, e))?;
    oasis::log::info!("serving {zone_count} zones on port {port} (udp and tcp)");
    os.spawn(server.clone().serve_udp(udp));
    match server.config.role {
        Role::Primary => {
            let origins: Vec<_> = server.responder.borrow().catalog().zones().map(|z| z.origin().clone()).collect();
            for origin in origins {
                server.notify_secondaries(&origin);
            }
        }
        Role::Secondary { .. } => {
            os.spawn(server.clone().run_secondary());
        }
    }
    server.serve_tcp(tcp).await;
    Ok(())
}

/// The compiled-in zone or the stored copy (changed by updates since the
/// image was built): the stored one unless the compiled-in serial is
/// newer, in which case the operator edited the file and it wins (the
/// stored copy is dropped, so later updates start from it).
async fn choose<D: BlockDevice>(compiled: Zone, stored: Zone, storage: Option<&mut Storage<D>>) -> Result<Zone, Error> {
    let (new, old) = (compiled.serial().unwrap_or(0), stored.serial().unwrap_or(0));
    if serial::is_newer(new, old) {
        oasis::log::info!(
            "{}: the compiled-in serial {new} is newer than the stored {old}; serving the compiled-in zone",
            compiled.origin()
        );
        if let Some(storage) = storage {
            storage.remove(compiled.origin()).await.map_err(Error::Storage)?;
        }
        return Ok(compiled);
    }
    oasis::log::info!("{}: serving the stored copy (updated), serial {old}", stored.origin());
    Ok(stored)
}
