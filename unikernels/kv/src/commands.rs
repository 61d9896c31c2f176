//! The commands, over any [`Store`]: GET, SET (with NX, XX, GET, EX, PX,
//! EXAT, PXAT, KEEPTTL), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, DEL,
//! UNLINK, EXISTS, MGET, MSET, STRLEN, APPEND, INCR, DECR, INCRBY, DECRBY,
//! TYPE, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), TTL,
//! PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, SCAN, DBSIZE, FLUSHDB,
//! PING, ECHO, INFO, SAVE, and the few administrative ones clients send on
//! connecting (COMMAND, CONFIG GET, SELECT, CLIENT, HELLO, AUTH, QUIT).
//! Times to live follow Redis: a deadline in Unix milliseconds, kept
//! across restarts; a key past it is gone to every command.

use core::cell::RefCell;
use core::ops::Bound;

use oasis::alloc::collections::BTreeMap;
use oasis::alloc::string::{String, ToString};
use oasis::alloc::vec::Vec;
use oasis_resp::{Reply, glob_match};

use crate::store::{Deadline, Store, StoreError, Ttl};

/// Limits on what one command may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest key.
    pub max_key: usize,
    /// Longest value.
    pub max_value: usize,
}

/// What running a command did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// It changed the store (its reply waits for durability when asked).
    pub wrote: bool,
    /// The client asked to close the connection.
    pub quit: bool,
}

/// Counters INFO reports.
#[derive(Clone, Debug)]
pub struct Counters {
    /// Commands processed.
    pub commands: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub connected: u64,
    /// When writes are acknowledged: `always` (once durable), `everysec`
    /// or `none`.
    pub durability: &'static str,
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

fn wrong_args(out: &mut Reply<'_>, name: &[u8]) {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    out.error(&oasis::alloc::format!("ERR wrong number of arguments for '{name}' command"));
}

fn store_error(out: &mut Reply<'_>, e: StoreError) {
    out.error(&oasis::alloc::format!("ERR {e}"));
}

fn check_key(out: &mut Reply<'_>, key: &[u8], limits: &Limits) -> bool {
    if key.len() > limits.max_key {
        out.error(&oasis::alloc::format!(
            "ERR key is {} bytes, longer than the limit of {}",
            key.len(),
            limits.max_key
        ));
        return false;
    }
    true
}

fn check_value(out: &mut Reply<'_>, value: &[u8], limits: &Limits) -> bool {
    if value.len() > limits.max_value {
        out.error(&oasis::alloc::format!(
            "ERR value is {} bytes, longer than the limit of {}",
            value.len(),
            limits.max_value
        ));
        return false;
    }
    true
}

/// Runs one command at `now` (Unix milliseconds), appending its reply.
pub async fn run<S: Store>(
    store: &mut S,
    scans: &RefCell<Scans>,
    args: &[&[u8]],
    limits: &Limits,
    counters: &Counters,
    now: Deadline,
    out: &mut Reply<'_>,
) -> Effect {
    let Some((&name, rest)) = args.split_first() else { return Effect::default() };
    let mut effect = Effect::default();
    store.set_now(now);
    match () {
        _ if eq(name, "PING") => match rest {
            [] => out.simple("PONG"),
            [msg] => out.bulk(Some(msg)),
            _ => wrong_args(out, name),
        },
        _ if eq(name, "ECHO") => match rest {
            [msg] => out.bulk(Some(msg)),
            _ => wrong_args(out, name),
        },
        _ if eq(name, "GET") => match rest {
            [key] if check_key(out, key, limits) => match store.get(key).await {
                Ok(v) => out.bulk(v.as_deref()),
                Err(e) => store_error(out, e),
            },
            [_] => {}
            _ => wrong_args(out, name),
        },
        _ if eq(name, "SET") => match rest {
            [key, value, options @ ..] => {
                if let Some(options) = set_options(out, options, now)
                    && check_key(out, key, limits)
                    && check_value(out, value, limits)
                {
                    match set(store, key, value, options).await {
                        Ok(done) => {
                            effect.wrote |= done.written;
                            match done.old {
                                Some(old) => out.bulk(old.as_deref()),
                                None if done.written => out.simple("OK"),
                                None => out.bulk(None),
                            }
                        }
                        Err(e) => store_error(out, e),
                    }
                }
            }
            _ => wrong_args(out, name),
        },
        _ if eq(name, "SETNX") => match rest {
            [key, value] if check_key(out, key, limits) && check_value(out, value, limits) => {
                let options = SetOptions { only: Some(Only::IfAbsent), get: false, ttl: Ttl::Clear };
                match set(store, key, value, options).await {
                    Ok(done) => {
                        effect.wrote |= done.written;
                        out.integer(i64::from(done.written));
                    }
                    Err(e) => store_error(out, e),
                }
            }
            [_, _] => {}
            _ => wrong_args(out, name),
        },
        _ if eq(name, "GETSET") => match rest {
            [key, value] if check_key(out, key, limits) && check_value(out, value, limits) => {
                let options = SetOptions { only: None, get: true, ttl: Ttl::Clear };
                match set(store, key, value, options).await {
                    Ok(done) => {
                        effect.wrote |= done.written;
                        out.bulk(done.old.flatten().as_deref());
                    }
                    Err(e) => store_error(out, e),
                }
            }
            [_, _] => {}
            _ => wrong_args(out, name),
        },
        _ if eq(name, "SETEX") || eq(name, "PSETEX") => match rest {
            [key, time, value] => {
                let unit = if eq(name, "SETEX") { 1000 } else { 1 };
                let command = if eq(name, "SETEX") { "setex" } else { "psetex" };
                if let Some(at) = positive_deadline(out, time, unit, now, command)
                    && check_key(out, key, limits)
                    && check_value(out, value, limits)
                {
                    match store.set(key, value, Ttl::At(at)).await {
                        Ok(()) => {
                            effect.wrote = true;
                            out.simple("OK");
                        }
                        Err(e) => store_error(out, e),
                    }
                }
            }
            _ => wrong_args(out, name),
        },
        _ if eq(name, "GETEX") => match rest {
            [key, options @ ..] => getex(store, key, options, now, out, &mut effect).await,
            _ => wrong_args(out, name),
        },
        _ if eq(name, "GETDEL") => match rest {
            [key] => match store.get(key).await {
                Ok(None) => out.bulk(None),
                Ok(Some(v)) => match store.remove_many(&[key]).await {
                    Ok(_) => {
                        effect.wrote = true;
                        out.bulk(Some(&v));
                    }
                    Err(e) => store_error(out, e),
                },
                Err(e) => store_error(out, e),
            },
            _ => wrong_args(out, name),
        },
        _ if eq(name, "STRLEN") => match rest {
            [key] => match store.get(key).await {
                Ok(v) => out.integer(v.map_or(0, |v| v.len()) as i64),
                Err(e) => store_error(out, e),
            },
            _ => wrong_args(out, name),
        },
        _ if eq(name, "APPEND") => match rest {
            [key, tail] if check_key(out, key, limits) => match store.get(key).await {
                Ok(v) => {
                    let mut value = v.unwrap_or_default();
                    value.extend_from_slice(tail);
                    if check_value(out, &value, limits) {
                        match store.set(key, &value, Ttl::Keep).await {
                            Ok(()) => {
                                effect.wrote = true;
                                out.integer(value.len() as i64);
                            }
                            Err(e) => store_error(out, e),
                        }
                    }
                }
                Err(e) => store_error(out, e),
            },
            [_, _] => {}
            _ => wrong_args(out, name),
        },
        _ if eq(name, "INCR") || eq(name, "DECR") || eq(name, "INCRBY") || eq(name, "DECRBY") => {
            let by = match rest {
                [_] if eq(name, "INCR") => Some(1),
                [_] if eq(name, "DECR") => Some(-1),
                [_, by] if eq(name, "INCRBY") => integer(by),
                [_, by] if eq(name, "DECRBY") => match integer(by) {
                    Some(i64::MIN) => {
                        out.error("ERR decrement would overflow");
                        return effect;
                    }
                    by => by.map(|by| -by),
                },
                _ => {
                    wrong_args(out, name);
                    return effect;
                }
            };
            match by {
                Some(by) if check_key(out, rest[0], limits) => {
                    increment(store, rest[0], by, limits, out, &mut effect).await
                }
                Some(_) => {}
                None => out.error(NOT_AN_INTEGER),
            }
        }
        _ if eq(name, "TYPE") => match rest {
            [key] => match store.contains(key).await {
                Ok(true) => out.simple("string"),
                Ok(false) => out.simple("none"),
                Err(e) => store_error(out, e),
            },
            _ => wrong_args(out, name),
        },
        // -2 for no key, -1 for a key without a time to live, as Redis.
        _ if eq(name, "TTL") || eq(name, "PTTL") || eq(name, "EXPIRETIME") || eq(name, "PEXPIRETIME") => match rest {
            [key] => match store.contains(key).await {
                Ok(false) => out.integer(-2),
                Ok(true) => match store.expiry(key) {
                    None => out.integer(-1),
                    Some(at) => {
                        let left = at.saturating_sub(now);
                        out.integer(clamp_i64(match () {
                            _ if eq(name, "TTL") => left.saturating_add(500) / 1000,
                            _ if eq(name, "PTTL") => left,
                            // Rounded, as Redis rounds it.
                            _ if eq(name, "EXPIRETIME") => at.saturating_add(500) / 1000,
                            _ => at,
                        }))
                    }
                },
                Err(e) => store_error(out, e),
            },
            _ => wrong_args(out, name),
        },
        _ if eq(name, "PERSIST") => match rest {
            [key] if store.expiry(key).is_some() => match store.set_expiry(key, None).await {
                Ok(_) => {
                    effect.wrote = true;
                    out.integer(1);
                }
                Err(e) => store_error(out, e),
            },
            [_] => out.integer(0),
            _ => wrong_args(out, name),
        },
        _ if eq(name, "EXPIRE") || eq(name, "PEXPIRE") || eq(name, "EXPIREAT") || eq(name, "PEXPIREAT") => {
            match rest {
                [key, time, conditions @ ..] => expire(store, name, key, time, conditions, now, out, &mut effect).await,
                _ => wrong_args(out, name),
            }
        }
        _ if eq(name, "SCAN") => scan(store, scans, rest, out),
        _ if eq(name, "FLUSHDB") || eq(name, "FLUSHALL") => match rest {
            [] => flush_all(store, out, &mut effect).await,
            [mode] if eq(mode, "SYNC") || eq(mode, "ASYNC") => flush_all(store, out, &mut effect).await,
            _ => out.error("ERR syntax error"),
        },
        _ if eq(name, "MSET") => {
            if rest.is_empty() || rest.len() % 2 != 0 {
                wrong_args(out, name);
            } else if rest.chunks(2).all(|kv| check_key(out, kv[0], limits) && check_value(out, kv[1], limits)) {
                let pairs: Vec<(&[u8], &[u8])> = rest.chunks(2).map(|kv| (kv[0], kv[1])).collect();
                match store.set_many(&pairs).await {
                    Ok(()) => {
                        effect.wrote = true;
                        out.simple("OK");
                    }
                    Err(e) => store_error(out, e),
                }
            }
        }
        _ if eq(name, "MGET") => {
            if rest.is_empty() {
                wrong_args(out, name);
            } else {
                let mut values = Vec::with_capacity(rest.len());
                for key in rest {
                    match store.get(key).await {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            store_error(out, e);
                            return effect;
                        }
                    }
                }
                out.array(values.len());
                for v in values {
                    out.bulk(v.as_deref());
                }
            }
        }
        _ if eq(name, "DEL") || eq(name, "UNLINK") => {
            if rest.is_empty() {
                wrong_args(out, name);
            } else {
                match store.remove_many(rest).await {
                    Ok(n) => {
                        effect.wrote = n > 0;
                        out.integer(n as i64);
                    }
                    Err(e) => store_error(out, e),
                }
            }
        }
        _ if eq(name, "EXISTS") => {
            if rest.is_empty() {
                wrong_args(out, name);
            } else {
                let mut n = 0i64;
                for key in rest {
                    match store.contains(key).await {
                        Ok(true) => n += 1,
                        Ok(false) => {}
                        Err(e) => {
                            store_error(out, e);
                            return effect;
                        }
                    }
                }
                out.integer(n);
            }
        }
        _ if eq(name, "KEYS") => match rest {
            [pattern] => {
                let keys: Vec<Vec<u8>> = store.keys().filter(|k| glob_match(pattern, k)).collect();
                out.array(keys.len());
                for k in &keys {
                    out.bulk(Some(k));
                }
            }
            _ => wrong_args(out, name),
        },
        _ if eq(name, "DBSIZE") => out.integer(store.len() as i64),
        _ if eq(name, "INFO") => {
            let sections = [
                ("Server", String::from("redis_version:7.0.0\r\nredis_mode:standalone\r\nserver:oasis-kv\r\n")),
                ("Clients", oasis::alloc::format!("connected_clients:{}\r\n", counters.connected)),
                (
                    "Stats",
                    oasis::alloc::format!(
                        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n",
                        counters.connections,
                        counters.commands
                    ),
                ),
                (
                    "Persistence",
                    oasis::alloc::format!(
                        "storage:{}\r\ndurability:{}\r\n{}",
                        store.describe(),
                        counters.durability,
                        store.persistence_info().await
                    ),
                ),
                (
                    "Keyspace",
                    oasis::alloc::format!("db0:keys={},expires={},avg_ttl=0\r\n", store.len(), store.expiring()),
                ),
            ];
            // `INFO` and `INFO all|everything|default` give every section;
            // `INFO persistence keyspace` just those, as Redis does.
            let everything =
                rest.is_empty() || rest.iter().any(|a| eq(a, "all") || eq(a, "everything") || eq(a, "default"));
            let mut info = String::new();
            for (title, body) in &sections {
                if everything || rest.iter().any(|a| eq(a, title)) {
                    if !info.is_empty() {
                        info.push_str("\r\n");
                    }
                    info.push_str("# ");
                    info.push_str(title);
                    info.push_str("\r\n");
                    info.push_str(body);
                }
            }
            out.bulk(Some(info.as_bytes()));
        }
        _ if eq(name, "SAVE") || eq(name, "BGSAVE") => match store.sync().await {
            Ok(()) => out.simple(if eq(name, "SAVE") { "OK" } else { "Background saving started" }),
            Err(e) => store_error(out, e),
        },
        _ if eq(name, "COMMAND") => out.array(0),
        _ if eq(name, "CONFIG") => config(store, counters, rest, out),
        _ if eq(name, "SELECT") => match rest {
            [b"0"] => out.simple("OK"),
            [_] => out.error("ERR DB index is out of range"),
            _ => wrong_args(out, name),
        },
        _ if eq(name, "CLIENT") => out.simple("OK"),
        _ if eq(name, "HELLO") => hello(rest, out),
        _ if eq(name, "AUTH") => match rest {
            [_] => out.error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ),
            [user, _] => match auth(user) {
                Ok(()) => out.simple("OK"),
                Err(e) => out.error(e),
            },
            _ => wrong_args(out, name),
        },
        _ if eq(name, "QUIT") => {
            out.simple("OK");
            effect.quit = true;
        }
        _ => {
            let shown: String =
                String::from_utf8_lossy(&name[..name.len().min(64)]).chars().filter(|c| !c.is_control()).collect();
            out.error(&oasis::alloc::format!("ERR unknown command '{shown}'"));
        }
    }
    effect
}

const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The deadline `amount` units of `unit_ms` from now (`relative`) or from
/// the epoch; `None` when it overflows what Redis can hold (`i64`
/// milliseconds, with the current time added for a relative one).
fn deadline_of(amount: i64, unit_ms: i64, relative: bool, now: Deadline) -> Option<i64> {
    let ms = amount.checked_mul(unit_ms)?;
    if relative { ms.checked_add(i64::try_from(now).ok()?) } else { Some(ms) }
}

/// SET's, SETEX's and GETEX's expiry argument: an integer above zero.
fn positive_deadline(out: &mut Reply<'_>, time: &[u8], unit_ms: i64, now: Deadline, command: &str) -> Option<Deadline> {
    positive_deadline_at(out, time, unit_ms, true, now, command)
}

fn positive_deadline_at(
    out: &mut Reply<'_>,
    time: &[u8],
    unit_ms: i64,
    relative: bool,
    now: Deadline,
    command: &str,
) -> Option<Deadline> {
    let Some(amount) = integer(time) else {
        out.error(NOT_AN_INTEGER);
        return None;
    };
    match deadline_of(amount, unit_ms, relative, now) {
        Some(at) if amount > 0 => Some(at as Deadline),
        _ => {
            out.error(&oasis::alloc::format!("ERR invalid expire time in '{command}' command"));
            None
        }
    }
}

/// EX, PX, EXAT or PXAT: the unit in milliseconds and whether it counts
/// from now.
fn expiry_option(option: &[u8]) -> Option<(i64, bool)> {
    match () {
        _ if eq(option, "EX") => Some((1000, true)),
        _ if eq(option, "PX") => Some((1, true)),
        _ if eq(option, "EXAT") => Some((1000, false)),
        _ if eq(option, "PXAT") => Some((1, false)),
        _ => None,
    }
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`: the value, and
/// a new time to live (or none).
async fn getex<S: Store>(
    store: &mut S,
    key: &[u8],
    options: &[&[u8]],
    now: Deadline,
    out: &mut Reply<'_>,
    effect: &mut Effect,
) {
    // As Redis: the syntax first, then the key, then the time.
    match options {
        [] => {}
        [o] if eq(o, "PERSIST") => {}
        [o, _] if expiry_option(o).is_some() => {}
        _ => return out.error("ERR syntax error"),
    }
    let value = match store.get(key).await {
        Ok(v) => v,
        Err(e) => return store_error(out, e),
    };
    if value.is_none() {
        return out.bulk(None);
    }
    let change = match options {
        [o, time] => {
            let Some((unit, relative)) = expiry_option(o) else { return };
            match positive_deadline_at(out, time, unit, relative, now, "getex") {
                Some(at) => Some(Some(at)),
                None => return,
            }
        }
        [_] => Some(None),
        _ => None,
    };
    if value.is_some()
        && let Some(deadline) = change
        && store.expiry(key) != deadline
    {
        // A deadline already past removes the key, as EXPIRE does.
        let written = match deadline {
            Some(at) if at <= now => store.remove_many(&[key]).await.map(|_| true),
            _ => store.set_expiry(key, deadline).await,
        };
        match written {
            Ok(_) => effect.wrote = true,
            Err(e) => return store_error(out, e),
        }
    }
    out.bulk(value.as_deref());
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` and PEXPIRE, EXPIREAT, PEXPIREAT:
/// 1 when the time to live was set (a time already past removes the key),
/// 0 when there is no key or the condition did not hold. No time to live
/// counts as forever for GT and LT.
#[allow(clippy::too_many_arguments)]
async fn expire<S: Store>(
    store: &mut S,
    name: &[u8],
    key: &[u8],
    time: &[u8],
    conditions: &[&[u8]],
    now: Deadline,
    out: &mut Reply<'_>,
    effect: &mut Effect,
) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for c in conditions {
        match () {
            _ if eq(c, "NX") => nx = true,
            _ if eq(c, "XX") => xx = true,
            _ if eq(c, "GT") => gt = true,
            _ if eq(c, "LT") => lt = true,
            _ => {
                let shown: String =
                    String::from_utf8_lossy(&c[..c.len().min(64)]).chars().filter(|c| !c.is_control()).collect();
                return out.error(&oasis::alloc::format!("ERR Unsupported option {shown}"));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return out.error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(amount) = integer(time) else { return out.error(NOT_AN_INTEGER) };
    let (unit, relative) = match () {
        _ if eq(name, "EXPIRE") => (1000, true),
        _ if eq(name, "PEXPIRE") => (1, true),
        _ if eq(name, "EXPIREAT") => (1000, false),
        _ => (1, false),
    };
    let Some(at) = deadline_of(amount, unit, relative, now) else {
        let command = String::from_utf8_lossy(name).to_ascii_lowercase();
        return out.error(&oasis::alloc::format!("ERR invalid expire time in '{command}' command"));
    };
    match store.contains(key).await {
        Ok(true) => {}
        Ok(false) => return out.integer(0),
        Err(e) => return store_error(out, e),
    }
    let current = store.expiry(key);
    let at = u64::try_from(at).unwrap_or(0);
    let allowed = match current {
        _ if nx => current.is_none(),
        _ if xx && current.is_none() => false,
        Some(old) if gt => at > old,
        None if gt => false,
        Some(old) if lt => at < old,
        _ => true,
    };
    if !allowed {
        return out.integer(0);
    }
    let done =
        if at <= now { store.remove_many(&[key]).await.map(|_| true) } else { store.set_expiry(key, Some(at)).await };
    match done {
        Ok(_) => {
            effect.wrote = true;
            out.integer(1);
        }
        Err(e) => store_error(out, e),
    }
}

/// A decimal integer as Redis reads one (`string2ll`): an optional `-`,
/// then digits with no leading zero (but `0` itself), nothing else, within
/// `i64`. So `007`, `+1`, ` 1` and `-0` are not integers.
fn integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    match digits {
        b"0" if digits.len() == bytes.len() => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    core::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Only set a key that is absent (NX) or present (XX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Only {
    IfAbsent,
    IfPresent,
}

/// SET's options.
#[derive(Clone, Copy, Debug)]
struct SetOptions {
    only: Option<Only>,
    /// Reply with the old value (GET) instead of OK.
    get: bool,
    /// What becomes of the time to live.
    ttl: Ttl,
}

/// Reads SET's options, replying with an error for what it cannot take.
fn set_options(out: &mut Reply<'_>, mut options: &[&[u8]], now: Deadline) -> Option<SetOptions> {
    let mut parsed = SetOptions { only: None, get: false, ttl: Ttl::Clear };
    let mut ttl_given = false;
    let mut expiry = None;
    while let Some((option, more)) = options.split_first() {
        options = more;
        let only = match () {
            _ if eq(option, "NX") => Some(Only::IfAbsent),
            _ if eq(option, "XX") => Some(Only::IfPresent),
            _ if eq(option, "GET") => {
                parsed.get = true;
                None
            }
            _ if eq(option, "KEEPTTL") && !ttl_given => {
                ttl_given = true;
                parsed.ttl = Ttl::Keep;
                None
            }
            _ if !ttl_given && !options.is_empty() && expiry_option(option).is_some() => {
                let (unit, relative) = expiry_option(option)?;
                let (time, more) = options.split_first()?;
                options = more;
                // Checked once the syntax is known good, as Redis does.
                expiry = Some((time, unit, relative));
                ttl_given = true;
                None
            }
            _ => {
                out.error("ERR syntax error");
                return None;
            }
        };
        if let Some(only) = only {
            if parsed.only.is_some_and(|o| o != only) {
                out.error("ERR syntax error");
                return None;
            }
            parsed.only = Some(only);
        }
    }
    if let Some((time, unit, relative)) = expiry {
        parsed.ttl = Ttl::At(positive_deadline_at(out, time, unit, relative, now, "set")?);
    }
    Some(parsed)
}

/// What a SET did.
struct SetDone {
    /// The value was written (NX or XX did not hold it back).
    written: bool,
    /// With GET: the value before (`None` inside if there was none).
    old: Option<Option<Vec<u8>>>,
}

/// SET with its options. The store is the caller's alone for the whole
/// command, so the check and the write are one step to other clients.
async fn set<S: Store>(store: &mut S, key: &[u8], value: &[u8], options: SetOptions) -> Result<SetDone, StoreError> {
    let old = if options.get { Some(store.get(key).await?) } else { None };
    let written = match options.only {
        None => true,
        Some(only) => {
            let exists = match &old {
                Some(old) => old.is_some(),
                None => store.contains(key).await?,
            };
            exists == (only == Only::IfPresent)
        }
    };
    if written {
        store.set(key, value, options.ttl).await?;
    }
    Ok(SetDone { written, old })
}

/// INCR, DECR, INCRBY, DECRBY: the value, a decimal integer (0 if the key
/// is absent), plus `by`.
async fn increment<S: Store>(
    store: &mut S,
    key: &[u8],
    by: i64,
    limits: &Limits,
    out: &mut Reply<'_>,
    effect: &mut Effect,
) {
    let now = match store.get(key).await {
        Ok(None) => 0,
        Ok(Some(v)) => match integer(&v) {
            Some(n) => n,
            None => return out.error(NOT_AN_INTEGER),
        },
        Err(e) => return store_error(out, e),
    };
    let Some(next) = now.checked_add(by) else { return out.error("ERR increment or decrement would overflow") };
    let text = next.to_string();
    if !check_value(out, text.as_bytes(), limits) {
        return;
    }
    match store.set(key, text.as_bytes(), Ttl::Keep).await {
        Ok(()) => {
            effect.wrote = true;
            out.integer(next);
        }
        Err(e) => store_error(out, e),
    }
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

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]`: examines COUNT keys
/// (10 by default) from where the cursor left off, in key order.
fn scan<S: Store>(store: &S, scans: &RefCell<Scans>, rest: &[&[u8]], out: &mut Reply<'_>) {
    let Some((cursor, mut options)) = rest.split_first() else { return wrong_args(out, b"scan") };
    let Some(cursor) = core::str::from_utf8(cursor).ok().and_then(|c| c.parse::<u64>().ok()) else {
        return out.error("ERR invalid cursor");
    };
    let (mut pattern, mut count, mut strings) = (&b"*"[..], 10, true);
    while let [option, value, more @ ..] = options {
        match () {
            _ if eq(option, "MATCH") => pattern = value,
            _ if eq(option, "COUNT") => match integer(value) {
                Some(n) if n >= 1 => count = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return out.error("ERR syntax error"),
            },
            _ if eq(option, "TYPE") => strings = eq(value, "string"),
            _ => return out.error("ERR syntax error"),
        }
        options = more;
    }
    if !options.is_empty() {
        return out.error("ERR syntax error");
    }
    let mut scans = scans.borrow_mut();
    // Cursor 0, or one this server does not know (forgotten, or from
    // before a restart): from the start.
    let after = scans.open.remove(&cursor);
    let start = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut keys = store.keys_from(start);
    let mut found = Vec::new();
    let mut last = None;
    for key in keys.by_ref().take(count) {
        if strings && glob_match(pattern, &key) {
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

/// FLUSHDB: removes every key, in batches (each all or nothing; a crash
/// part-way leaves the keys of batches not yet written). A batch the store
/// refuses, too large for one record, is halved until it fits.
async fn flush_all<S: Store>(store: &mut S, out: &mut Reply<'_>, effect: &mut Effect) {
    // Keys past their deadline first: the ones `keys` no longer shows.
    loop {
        match store.remove_expired(64).await {
            Ok(0) => break,
            Ok(_) => effect.wrote = true,
            Err(e) => return store_error(out, e),
        }
    }
    let keys: Vec<Vec<u8>> = store.keys().collect();
    let mut batch_len = 64;
    let mut rest = &keys[..];
    while !rest.is_empty() {
        let (batch, more) = rest.split_at(batch_len.min(rest.len()));
        let batch: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        match store.remove_many(&batch).await {
            Ok(_) => {
                effect.wrote = true;
                rest = more;
            }
            Err(_) if batch_len > 1 => batch_len /= 2,
            Err(e) => return store_error(out, e),
        }
    }
    out.simple("OK");
}

/// `HELLO [2 [AUTH user pass] [SETNAME name]]`: RESP2 is all this server
/// speaks; `HELLO 3` is refused so the client stays on RESP2.
fn hello(rest: &[&[u8]], out: &mut Reply<'_>) {
    match rest.first() {
        None => {}
        Some(v) if v == b"2" => {}
        Some(v) if integer(v).is_some() => return out.error("NOPROTO unsupported protocol version"),
        Some(_) => return out.error("ERR Protocol version is not an integer or out of range"),
    }
    let mut options = rest.get(1..).unwrap_or_default();
    while let Some((option, more)) = options.split_first() {
        options = match (option, more) {
            (o, [user, _, more @ ..]) if eq(o, "AUTH") => match auth(user) {
                Ok(()) => more,
                Err(e) => return out.error(e),
            },
            (o, [_, more @ ..]) if eq(o, "SETNAME") => more,
            _ => return out.error("ERR syntax error"),
        };
    }
    let fields: [(&str, Field); 7] = [
        ("server", Field::Text("redis")),
        ("version", Field::Text("7.0.0")),
        ("proto", Field::Integer(2)),
        ("id", Field::Integer(1)),
        ("mode", Field::Text("standalone")),
        ("role", Field::Text("master")),
        ("modules", Field::Empty),
    ];
    out.array(fields.len() * 2);
    for (name, value) in fields {
        out.bulk(Some(name.as_bytes()));
        match value {
            Field::Text(t) => out.bulk(Some(t.as_bytes())),
            Field::Integer(n) => out.integer(n),
            Field::Empty => out.array(0),
        }
    }
}

/// `CONFIG GET pattern…`: the few parameters clients look at (what
/// `redis-benchmark` asks before it starts), as name/value pairs; nothing
/// can be changed at run time.
fn config<S: Store>(store: &S, counters: &Counters, rest: &[&[u8]], out: &mut Reply<'_>) {
    match rest.split_first() {
        Some((sub, patterns)) if eq(sub, "GET") && !patterns.is_empty() => {
            let disk = store.describe() != "memory";
            let params = [
                ("appendonly", if disk { "yes" } else { "no" }),
                ("appendfsync", if disk { counters.durability } else { "no" }),
                ("save", ""),
                ("databases", "1"),
                ("maxmemory", "0"),
            ];
            let found: Vec<_> =
                params.iter().filter(|(n, _)| patterns.iter().any(|p| glob_match(p, n.as_bytes()))).collect();
            out.array(found.len() * 2);
            for (name, value) in found {
                out.bulk(Some(name.as_bytes()));
                out.bulk(Some(value.as_bytes()));
            }
        }
        Some((sub, [])) if eq(sub, "RESETSTAT") => out.simple("OK"),
        Some((sub, _)) if eq(sub, "SET") || eq(sub, "REWRITE") => {
            out.error("ERR this server's configuration is set by its boot arguments")
        }
        Some((sub, _)) => {
            let shown: String =
                String::from_utf8_lossy(&sub[..sub.len().min(64)]).chars().filter(|c| !c.is_control()).collect();
            out.error(&oasis::alloc::format!("ERR unknown subcommand '{shown}'"));
        }
        None => wrong_args(out, b"config"),
    }
}

/// There are no passwords: like Redis with its default user and no
/// password set, any password for `default` is accepted.
fn auth(user: &[u8]) -> Result<(), &'static str> {
    if user == b"default" { Ok(()) } else { Err("WRONGPASS invalid username-password pair or user is disabled.") }
}

enum Field {
    Text(&'static str),
    Integer(i64),
    Empty,
}

#[cfg(test)]
mod tests {
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use core::cell::RefCell;

    use super::{Counters, Effect, Limits, Reply, Scans, run};
    use crate::store::MemStore;

    const LIMITS: Limits = Limits { max_key: 64, max_value: 24 };

    /// A store, the server's SCAN cursors and the time (Unix ms).
    struct Db {
        store: MemStore,
        scans: RefCell<Scans>,
        now: u64,
    }

    impl Default for Db {
        fn default() -> Db {
            Db { store: MemStore::default(), scans: RefCell::default(), now: NOW }
        }
    }

    /// 2023-11-14T22:13:20Z.
    const NOW: u64 = 1_700_000_000_000;

    /// Runs `command` (split at spaces) and returns its reply as text.
    fn exec(db: &mut Db, command: &str) -> (String, Effect) {
        let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
        let counters = Counters { commands: 0, connections: 0, connected: 0, durability: "always" };
        let mut out = Vec::new();
        let effect = {
            let mut reply = Reply(&mut out);
            let mut future = pin!(run(&mut db.store, &db.scans, &args, &LIMITS, &counters, db.now, &mut reply));
            // MemStore never waits.
            let Poll::Ready(effect) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
                panic!("{command} waited")
            };
            effect
        };
        (String::from_utf8(out).unwrap(), effect)
    }

    fn reply(db: &mut Db, command: &str) -> String {
        exec(db, command).0
    }

    #[test]
    fn set_options() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "SET k v XX"), "$-1\r\n");
        assert!(!exec(&mut s, "SET k v XX").1.wrote);
        assert_eq!(reply(&mut s, "SET k v NX"), "+OK\r\n");
        assert_eq!(reply(&mut s, "SET k w NX"), "$-1\r\n");
        assert_eq!(reply(&mut s, "GET k"), "$1\r\nv\r\n");
        assert_eq!(reply(&mut s, "SET k w XX GET"), "$1\r\nv\r\n");
        assert_eq!(reply(&mut s, "SET k x NX GET"), "$1\r\nw\r\n");
        assert_eq!(reply(&mut s, "GET k"), "$1\r\nw\r\n");
        assert_eq!(reply(&mut s, "SET n 1 GET"), "$-1\r\n");
        assert_eq!(reply(&mut s, "SET k v nx xx"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SET k v NX NX KEEPTTL"), "$-1\r\n");
        assert_eq!(reply(&mut s, "SET k v BOGUS"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SET k v EX 10"), "+OK\r\n");
        assert!(reply(&mut s, "SET k 0123456789abcdef012345678 NX").starts_with("-ERR value is 25 bytes"));
        assert_eq!(reply(&mut s, "SETNX k z"), ":0\r\n");
        assert_eq!(reply(&mut s, "SETNX fresh z"), ":1\r\n");
        assert_eq!(reply(&mut s, "GETSET fresh y"), "$1\r\nz\r\n");
        assert_eq!(reply(&mut s, "GETSET none y"), "$-1\r\n");
        assert_eq!(reply(&mut s, "GETDEL fresh"), "$1\r\ny\r\n");
        assert_eq!(reply(&mut s, "GETDEL fresh"), "$-1\r\n");
        assert!(!exec(&mut s, "GETDEL fresh").1.wrote);
    }

    #[test]
    fn counters_and_strings() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "INCR n"), ":1\r\n");
        assert!(exec(&mut s, "INCRBY n 41").1.wrote);
        assert_eq!(reply(&mut s, "GET n"), "$2\r\n42\r\n");
        assert_eq!(reply(&mut s, "DECRBY n 50"), ":-8\r\n");
        assert_eq!(reply(&mut s, "DECR n"), ":-9\r\n");
        assert_eq!(reply(&mut s, "INCRBY n +1"), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "INCRBY n 1.5"), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "DECRBY n -9223372036854775808"), "-ERR decrement would overflow\r\n");
        // Integers as Redis reads them: no leading zeros, no "+", no "-0".
        for bad in ["007", "-0", "+1", "-", "1x", "0x10", "99999999999999999999"] {
            assert_eq!(reply(&mut s, &format!("INCRBY n {bad}")), "-ERR value is not an integer or out of range\r\n");
        }
        assert_eq!(reply(&mut s, "SET z 007"), "+OK\r\n");
        assert_eq!(reply(&mut s, "INCR z"), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "SET z 0"), "+OK\r\n");
        assert_eq!(reply(&mut s, "INCRBY z -10"), ":-10\r\n");
        assert_eq!(reply(&mut s, "SET n 9223372036854775807"), "+OK\r\n");
        assert_eq!(reply(&mut s, "INCR n"), "-ERR increment or decrement would overflow\r\n");
        assert_eq!(reply(&mut s, "SET t hello"), "+OK\r\n");
        assert_eq!(reply(&mut s, "INCR t"), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "APPEND t !"), ":6\r\n");
        assert_eq!(reply(&mut s, "APPEND new ab"), ":2\r\n");
        assert!(reply(&mut s, "APPEND t 0123456789abcdefghij").starts_with("-ERR value is 26 bytes"));
        assert_eq!(reply(&mut s, "GET t"), "$6\r\nhello!\r\n");
        assert_eq!(reply(&mut s, "STRLEN t"), ":6\r\n");
        assert_eq!(reply(&mut s, "STRLEN nothing"), ":0\r\n");
        assert_eq!(reply(&mut s, "TYPE t"), "+string\r\n");
        assert_eq!(reply(&mut s, "TYPE nothing"), "+none\r\n");
        assert_eq!(reply(&mut s, "TTL t"), ":-1\r\n");
        assert_eq!(reply(&mut s, "PTTL nothing"), ":-2\r\n");
        assert_eq!(reply(&mut s, "EXPIRE t 10"), ":1\r\n");
    }

    #[test]
    fn keys_expire_as_in_redis() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "SET k v EX 10"), "+OK\r\n");
        assert_eq!(reply(&mut s, "TTL k"), ":10\r\n");
        assert_eq!(reply(&mut s, "PTTL k"), ":10000\r\n");
        assert_eq!(reply(&mut s, "EXPIRETIME k"), format!(":{}\r\n", NOW / 1000 + 10));
        assert_eq!(reply(&mut s, "PEXPIRETIME k"), format!(":{}\r\n", NOW + 10_000));
        assert_eq!(reply(&mut s, "PEXPIRETIME nothing"), ":-2\r\n");
        // INCR and APPEND keep the time to live, SET clears it unless KEEPTTL.
        assert_eq!(reply(&mut s, "APPEND k w"), ":2\r\n");
        assert_eq!(reply(&mut s, "SET k v KEEPTTL"), "+OK\r\n");
        assert_eq!(reply(&mut s, "TTL k"), ":10\r\n");
        assert_eq!(reply(&mut s, "INFO keyspace"), "$44\r\n# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n\r\n");
        s.now += 9_499;
        assert_eq!(reply(&mut s, "TTL k"), ":1\r\n", "rounded as Redis rounds");
        assert_eq!(reply(&mut s, "PTTL k"), ":501\r\n");
        s.now += 501;
        // At its deadline the key is gone to every command.
        assert_eq!(reply(&mut s, "GET k"), "$-1\r\n");
        assert_eq!(reply(&mut s, "EXISTS k"), ":0\r\n");
        assert_eq!(reply(&mut s, "TTL k"), ":-2\r\n");
        assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
        assert_eq!(reply(&mut s, "KEYS *"), "*0\r\n");
        assert_eq!(reply(&mut s, "SCAN 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(reply(&mut s, "DEL k"), ":0\r\n");
        // INCR on an expired key starts from nothing, with no time to live.
        assert_eq!(reply(&mut s, "SET c 5 PX 100"), "+OK\r\n");
        s.now += 100;
        assert_eq!(reply(&mut s, "INCR c"), ":1\r\n");
        assert_eq!(reply(&mut s, "TTL c"), ":-1\r\n");
        assert_eq!(reply(&mut s, "SET c 5 EX 5"), "+OK\r\n");
        assert_eq!(reply(&mut s, "SET c 6"), "+OK\r\n");
        assert_eq!(reply(&mut s, "TTL c"), ":-1\r\n");
        // EXAT and PXAT are absolute; SETEX and PSETEX; bad times.
        assert_eq!(
            {
                let c = format!("SET a 1 PXAT {}", s.now + 2500);
                reply(&mut s, &c)
            },
            "+OK\r\n"
        );
        assert_eq!(reply(&mut s, "PTTL a"), ":2500\r\n");
        assert_eq!(
            {
                let c = format!("SET a 1 EXAT {}", s.now / 1000 + 3);
                reply(&mut s, &c)
            },
            "+OK\r\n"
        );
        assert_eq!(reply(&mut s, "SETEX b 7 x"), "+OK\r\n");
        assert_eq!(reply(&mut s, "TTL b"), ":7\r\n");
        assert_eq!(reply(&mut s, "PSETEX b 70 x"), "+OK\r\n");
        assert_eq!(reply(&mut s, "PTTL b"), ":70\r\n");
        assert_eq!(reply(&mut s, "SET b x EX 0"), "-ERR invalid expire time in 'set' command\r\n");
        assert_eq!(reply(&mut s, "SET b x EX -5"), "-ERR invalid expire time in 'set' command\r\n");
        assert_eq!(reply(&mut s, "SET b x EX 9223372036854775807"), "-ERR invalid expire time in 'set' command\r\n");
        assert_eq!(reply(&mut s, "SET b x EX ten"), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "SET b x EX 1 PX 1"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SET b x EX 1 KEEPTTL"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SET b x EX"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SETEX b 0 x"), "-ERR invalid expire time in 'setex' command\r\n");
        assert_eq!(reply(&mut s, "PTTL b"), ":70\r\n", "a refused SET changes nothing");
        // EXPIRE and its conditions; no time to live is forever to GT/LT.
        assert_eq!(reply(&mut s, "EXPIRE nothing 10"), ":0\r\n");
        assert_eq!(reply(&mut s, "SET p v"), "+OK\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 10 XX"), ":0\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 10 GT"), ":0\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 100 LT"), ":1\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 10 NX"), ":0\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 200 GT"), ":1\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 50 GT"), ":0\r\n");
        assert_eq!(reply(&mut s, "TTL p"), ":200\r\n");
        assert_eq!(reply(&mut s, "PEXPIRE p 1500 XX"), ":1\r\n");
        assert_eq!(reply(&mut s, "PTTL p"), ":1500\r\n");
        assert_eq!(
            reply(&mut s, "EXPIRE p 1 NX XX"),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
        );
        assert_eq!(reply(&mut s, "EXPIRE p 1 GT LT"), "-ERR GT and LT options at the same time are not compatible\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 1 SOON"), "-ERR Unsupported option SOON\r\n");
        assert_eq!(reply(&mut s, "EXPIRE p 9223372036854775807"), "-ERR invalid expire time in 'expire' command\r\n");
        assert_eq!(reply(&mut s, "PERSIST p"), ":1\r\n");
        assert_eq!(reply(&mut s, "PERSIST p"), ":0\r\n");
        assert_eq!(reply(&mut s, "TTL p"), ":-1\r\n");
        assert_eq!(
            {
                let c = format!("PEXPIREAT p {}", s.now + 42);
                reply(&mut s, &c)
            },
            ":1\r\n"
        );
        assert_eq!(reply(&mut s, "PTTL p"), ":42\r\n");
        // A time already past removes the key.
        assert_eq!(reply(&mut s, "EXPIRE p -1"), ":1\r\n");
        assert_eq!(reply(&mut s, "EXISTS p"), ":0\r\n");
        assert_eq!(reply(&mut s, "SET p v"), "+OK\r\n");
        assert_eq!(reply(&mut s, "EXPIREAT p 1"), ":1\r\n");
        assert_eq!(reply(&mut s, "GET p"), "$-1\r\n");
        // GETEX.
        assert_eq!(reply(&mut s, "SET g v"), "+OK\r\n");
        assert_eq!(reply(&mut s, "GETEX g EX 30"), "$1\r\nv\r\n");
        assert_eq!(reply(&mut s, "TTL g"), ":30\r\n");
        assert_eq!(reply(&mut s, "GETEX g"), "$1\r\nv\r\n");
        assert_eq!(reply(&mut s, "TTL g"), ":30\r\n");
        assert_eq!(reply(&mut s, "GETEX g PERSIST"), "$1\r\nv\r\n");
        assert_eq!(reply(&mut s, "TTL g"), ":-1\r\n");
        assert_eq!(reply(&mut s, "GETEX g PX 0"), "-ERR invalid expire time in 'getex' command\r\n");
        assert_eq!(reply(&mut s, "GETEX g EX 1 PERSIST"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "GETEX nothing EX 5"), "$-1\r\n");
        // As Redis: syntax before the key, the key before the time.
        assert_eq!(reply(&mut s, "GETEX nothing EX 0"), "$-1\r\n");
        assert_eq!(reply(&mut s, "GETEX nothing EX"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SET b x EX 0 BOGUS"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "TTL nothing"), ":-2\r\n");
        // MSET and GETSET clear times to live.
        assert_eq!(reply(&mut s, "SETEX m 9 x"), "+OK\r\n");
        assert_eq!(reply(&mut s, "MSET m y"), "+OK\r\n");
        assert_eq!(reply(&mut s, "TTL m"), ":-1\r\n");
        assert_eq!(reply(&mut s, "SETEX m 9 x"), "+OK\r\n");
        assert_eq!(reply(&mut s, "GETSET m z"), "$1\r\nx\r\n");
        assert_eq!(reply(&mut s, "TTL m"), ":-1\r\n");
        // FLUSHDB takes expired keys too; nothing is left to expire.
        assert_eq!(reply(&mut s, "SETEX gone 1 x"), "+OK\r\n");
        s.now += 5000;
        assert_eq!(reply(&mut s, "FLUSHDB"), "+OK\r\n");
        assert_eq!(reply(&mut s, "INFO keyspace"), "$44\r\n# Keyspace\r\ndb0:keys=0,expires=0,avg_ttl=0\r\n\r\n");
    }

    #[test]
    fn scan_flush_and_hello() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "MSET user:1 a user:2 b other c"), "+OK\r\n");
        assert_eq!(reply(&mut s, "SCAN 0"), "*2\r\n$1\r\n0\r\n*3\r\n$5\r\nother\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
        // COUNT 1: one key examined per call, the cursor carrying on.
        assert_eq!(reply(&mut s, "SCAN 0 MATCH user:* COUNT 1"), "*2\r\n$1\r\n1\r\n*0\r\n");
        assert_eq!(reply(&mut s, "SCAN 1 MATCH user:* COUNT 1"), "*2\r\n$1\r\n2\r\n*1\r\n$6\r\nuser:1\r\n");
        assert_eq!(reply(&mut s, "SCAN 2 MATCH user:* COUNT 1"), "*2\r\n$1\r\n0\r\n*1\r\n$6\r\nuser:2\r\n");
        // A cursor it does not know starts over.
        assert!(reply(&mut s, "SCAN 77").contains("$5\r\nother\r\n"));
        assert_eq!(reply(&mut s, "SCAN 0 TYPE hash"), "*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(reply(&mut s, "SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "SCAN x"), "-ERR invalid cursor\r\n");
        assert_eq!(reply(&mut s, "SCAN -1"), "-ERR invalid cursor\r\n");
        assert_eq!(reply(&mut s, "SCAN 0 MATCH"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "FLUSHDB"), "+OK\r\n");
        assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
        assert!(reply(&mut s, "HELLO").starts_with("*14\r\n$6\r\nserver\r\n"));
        assert!(reply(&mut s, "HELLO 2 SETNAME me").contains("$5\r\nproto\r\n:2\r\n"));
        assert_eq!(reply(&mut s, "HELLO 3"), "-NOPROTO unsupported protocol version\r\n");
        assert!(reply(&mut s, "HELLO 2 AUTH u p").starts_with("-WRONGPASS"));
        assert!(reply(&mut s, "HELLO 2 AUTH default anything SETNAME me").starts_with("*14\r\n"));
        assert!(reply(&mut s, "AUTH secret").starts_with("-ERR AUTH <password> called without any password"));
        assert_eq!(reply(&mut s, "AUTH default secret"), "+OK\r\n");
        assert_eq!(reply(&mut s, "CONFIG GET save"), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
        assert_eq!(
            reply(&mut s, "CONFIG GET append* nothing"),
            "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$11\r\nappendfsync\r\n$2\r\nno\r\n"
        );
        assert!(reply(&mut s, "CONFIG SET save x").starts_with("-ERR"));
        assert_eq!(reply(&mut s, "HELLO 2 SETNAME"), "-ERR syntax error\r\n");
    }

    #[test]
    fn connection_and_server_commands() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "PING"), "+PONG\r\n");
        assert_eq!(reply(&mut s, "ping hello"), "$5\r\nhello\r\n");
        assert_eq!(reply(&mut s, "PING a b"), "-ERR wrong number of arguments for 'ping' command\r\n");
        assert_eq!(reply(&mut s, "EcHo hi"), "$2\r\nhi\r\n");
        assert_eq!(reply(&mut s, "ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n");
        assert_eq!(reply(&mut s, "ECHO a b"), "-ERR wrong number of arguments for 'echo' command\r\n");
        assert_eq!(reply(&mut s, "COMMAND"), "*0\r\n");
        assert_eq!(reply(&mut s, "COMMAND DOCS get"), "*0\r\n");
        assert_eq!(reply(&mut s, "CLIENT SETNAME me"), "+OK\r\n");
        assert_eq!(reply(&mut s, "CLIENT"), "+OK\r\n");
        assert_eq!(reply(&mut s, "SELECT 0"), "+OK\r\n");
        assert_eq!(reply(&mut s, "SELECT 1"), "-ERR DB index is out of range\r\n");
        assert_eq!(reply(&mut s, "SELECT 00"), "-ERR DB index is out of range\r\n");
        assert_eq!(reply(&mut s, "SELECT"), "-ERR wrong number of arguments for 'select' command\r\n");
        assert_eq!(reply(&mut s, "SELECT 0 1"), "-ERR wrong number of arguments for 'select' command\r\n");
        assert_eq!(reply(&mut s, "AUTH a b c"), "-ERR wrong number of arguments for 'auth' command\r\n");
        assert_eq!(reply(&mut s, "AUTH"), "-ERR wrong number of arguments for 'auth' command\r\n");
        assert_eq!(
            reply(&mut s, "AUTH nobody pw"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(reply(&mut s, "HELLO two"), "-ERR Protocol version is not an integer or out of range\r\n");
        assert_eq!(reply(&mut s, "HELLO 2 FOO"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "HELLO 2 AUTH default"), "-ERR syntax error\r\n");
        assert_eq!(
            reply(&mut s, "HELLO 2 AUTH nobody pw"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(
            reply(&mut s, "HELLO"),
            "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:1\r\n\
             $4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        );
        assert_eq!(reply(&mut s, "CONFIG"), "-ERR wrong number of arguments for 'config' command\r\n");
        assert_eq!(reply(&mut s, "CONFIG GET"), "-ERR unknown subcommand 'GET'\r\n");
        assert_eq!(reply(&mut s, "config resetstat"), "+OK\r\n");
        assert_eq!(reply(&mut s, "CONFIG RESETSTAT now"), "-ERR unknown subcommand 'RESETSTAT'\r\n");
        assert_eq!(
            reply(&mut s, "CONFIG REWRITE"),
            "-ERR this server's configuration is set by its boot arguments\r\n"
        );
        assert_eq!(reply(&mut s, "CONFIG bogus\u{7}x"), "-ERR unknown subcommand 'bogusx'\r\n");
        assert_eq!(
            reply(&mut s, "CONFIG GET data* *memory"),
            "*4\r\n$9\r\ndatabases\r\n$1\r\n1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
        );
        assert_eq!(reply(&mut s, "SAVE"), "+OK\r\n");
        assert_eq!(reply(&mut s, "BGSAVE now"), "+Background saving started\r\n");
        let (out, effect) = exec(&mut s, "QUIT");
        assert_eq!((out.as_str(), effect), ("+OK\r\n", Effect { wrote: false, quit: true }));
        assert_eq!(reply(&mut s, "quit now"), "+OK\r\n");
    }

    #[test]
    fn unknown_commands_are_named_in_the_error() {
        let mut s = Db::default();
        assert_eq!(reply(&mut s, "GETX k"), "-ERR unknown command 'GETX'\r\n");
        assert_eq!(reply(&mut s, "LPUSH l a"), "-ERR unknown command 'LPUSH'\r\n");
        assert_eq!(reply(&mut s, "a\u{1}b\u{7f}c"), "-ERR unknown command 'abc'\r\n");
        let long = "X".repeat(100);
        assert_eq!(reply(&mut s, &long), format!("-ERR unknown command '{}'\r\n", &long[..64]));
        // Invalid UTF-8 is shown replaced.
        let mut out = Vec::new();
        let args: [&[u8]; 1] = [b"\xffGET"];
        let counters = Counters { commands: 0, connections: 0, connected: 0, durability: "always" };
        {
            let mut reply = Reply(&mut out);
            let mut future = pin!(run(&mut s.store, &s.scans, &args, &LIMITS, &counters, s.now, &mut reply));
            assert!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
        }
        assert_eq!(String::from_utf8(out).unwrap(), "-ERR unknown command '\u{fffd}GET'\r\n");
    }

    #[test]
    fn every_command_counts_its_arguments() {
        let mut s = Db::default();
        for command in [
            "GET",
            "GET a b",
            "SET k",
            "SETNX k",
            "SETNX k v w",
            "GETSET k",
            "SETEX k 1",
            "PSETEX k 1 v w",
            "GETEX",
            "GETDEL",
            "GETDEL a b",
            "STRLEN",
            "APPEND k",
            "INCR",
            "INCR a b",
            "DECR",
            "INCRBY k",
            "DECRBY k 1 2",
            "TYPE",
            "TTL",
            "PTTL a b",
            "EXPIRETIME",
            "PEXPIRETIME a b",
            "PERSIST",
            "EXPIRE k",
            "PEXPIRE k",
            "EXPIREAT",
            "PEXPIREAT k",
            "SCAN",
            "MSET",
            "MSET k",
            "MSET a 1 b",
            "MGET",
            "DEL",
            "UNLINK",
            "EXISTS",
            "KEYS",
            "KEYS a b",
        ] {
            let name = command.split(' ').next().unwrap().to_ascii_lowercase();
            assert_eq!(
                reply(&mut s, command),
                format!("-ERR wrong number of arguments for '{name}' command\r\n"),
                "{command}"
            );
        }
        // These take any arguments.
        assert_eq!(reply(&mut s, "DBSIZE please"), ":0\r\n");
        assert!(reply(&mut s, "INFO a b c").starts_with("$"));
        assert_eq!(reply(&mut s, "FLUSHDB a b"), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, "FLUSHALL async"), "+OK\r\n");
        assert_eq!(reply(&mut s, "flushall SYNC"), "+OK\r\n");
    }

    #[test]
    fn keys_and_values_over_the_limits() {
        let mut s = Db::default();
        let long_key = "k".repeat(65);
        let long_value = "v".repeat(25);
        let key_error = "-ERR key is 65 bytes, longer than the limit of 64\r\n";
        let value_error = "-ERR value is 25 bytes, longer than the limit of 24\r\n";
        for command in [
            "GET {k}",
            "SET {k} v",
            "SETNX {k} v",
            "GETSET {k} v",
            "SETEX {k} 5 v",
            "APPEND {k} v",
            "INCR {k}",
            "DECRBY {k} 2",
            "MSET a 1 {k} 2",
        ] {
            let command = command.replace("{k}", &long_key);
            assert_eq!(reply(&mut s, &command), key_error, "{command}");
        }
        for command in ["SET k {v}", "SETNX k {v}", "GETSET k {v}", "PSETEX k 5 {v}", "MSET a 1 b {v}"] {
            let command = command.replace("{v}", &long_value);
            assert_eq!(reply(&mut s, &command), value_error, "{command}");
        }
        // The first refused pair of MSET, key before value; nothing is set.
        assert_eq!(reply(&mut s, &format!("MSET a {long_value} {long_key} 1")), value_error);
        assert_eq!(reply(&mut s, "DBSIZE"), ":0\r\n");
        // Checked after the options and the time, as Redis orders it.
        assert_eq!(reply(&mut s, &format!("SET {long_key} v BOGUS")), "-ERR syntax error\r\n");
        assert_eq!(reply(&mut s, &format!("SETEX {long_key} 0 v")), "-ERR invalid expire time in 'setex' command\r\n");
        assert_eq!(reply(&mut s, &format!("INCRBY {long_key} x")), "-ERR value is not an integer or out of range\r\n");
        assert_eq!(
            reply(&mut s, &format!("DECRBY {long_key} -9223372036854775808")),
            "-ERR decrement would overflow\r\n"
        );
        // Commands that only look a key up take any key.
        for command in ["STRLEN {k}", "EXISTS {k}", "DEL {k}", "TTL {k}", "PERSIST {k}", "EXPIRE {k} 5"] {
            let command = command.replace("{k}", &long_key);
            assert!(reply(&mut s, &command).starts_with(':'), "{command}");
        }
        assert_eq!(reply(&mut s, &format!("MGET {long_key}")), "*1\r\n$-1\r\n");
        assert_eq!(reply(&mut s, &format!("GETDEL {long_key}")), "$-1\r\n");
        assert_eq!(reply(&mut s, &format!("GETEX {long_key}")), "$-1\r\n");
        assert_eq!(reply(&mut s, &format!("TYPE {long_key}")), "+none\r\n");
    }

    #[test]
    fn many_keys_at_once() {
        let mut s = Db::default();
        assert!(exec(&mut s, "MSET a 1 b 2 c 3").1.wrote);
        assert_eq!(reply(&mut s, "MGET a x c"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
        assert_eq!(reply(&mut s, "EXISTS a a x b"), ":3\r\n");
        assert_eq!(reply(&mut s, "KEYS [ab]"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(reply(&mut s, "DBSIZE"), ":3\r\n");
        let (out, effect) = exec(&mut s, "DEL a x a");
        assert_eq!((out.as_str(), effect.wrote), (":1\r\n", true));
        let (out, effect) = exec(&mut s, "UNLINK x y");
        assert_eq!((out.as_str(), effect.wrote), (":0\r\n", false));
        assert_eq!(reply(&mut s, "unlink b c"), ":2\r\n");
        assert_eq!(reply(&mut s, "KEYS *"), "*0\r\n");
    }

    #[test]
    fn info_sections() {
        let mut s = Db::default();
        reply(&mut s, "SET k v");
        let all = reply(&mut s, "INFO");
        for title in ["# Server\r\n", "# Clients\r\n", "# Stats\r\n", "# Persistence\r\n", "# Keyspace\r\n"] {
            assert!(all.contains(title), "{title} in {all}");
        }
        assert_eq!(reply(&mut s, "INFO everything"), all);
        assert_eq!(reply(&mut s, "INFO default"), all);
        assert_eq!(reply(&mut s, "INFO bogus"), "$0\r\n\r\n");
        assert_eq!(
            reply(&mut s, "INFO persistence KEYSPACE"),
            "$96\r\n# Persistence\r\nstorage:memory\r\ndurability:always\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"
        );
        assert_eq!(
            reply(&mut s, "INFO server"),
            "$71\r\n# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nserver:oasis-kv\r\n\r\n"
        );
    }

    /// Reads SCAN's reply: the next cursor and the keys.
    fn parse_scan(reply: &str) -> (String, Vec<String>) {
        let mut lines = reply.split("\r\n");
        assert_eq!(lines.next(), Some("*2"), "{reply}");
        lines.next();
        let cursor = lines.next().unwrap().to_string();
        let n: usize = lines.next().unwrap()[1..].parse().unwrap();
        let keys = (0..n).map(|_| {
            lines.next();
            lines.next().unwrap().to_string()
        });
        (cursor, keys.collect())
    }

    /// Words commands are made of: names, options, and numbers at the
    /// edges of what deadlines can hold.
    const WORDS: &[&str] = &[
        "SET",
        "GET",
        "SETEX",
        "PSETEX",
        "GETEX",
        "EXPIRE",
        "PEXPIRE",
        "EXPIREAT",
        "PEXPIREAT",
        "TTL",
        "PTTL",
        "EXPIRETIME",
        "PEXPIRETIME",
        "PERSIST",
        "INCR",
        "INCRBY",
        "APPEND",
        "DEL",
        "EXISTS",
        "KEYS",
        "SCAN",
        "DBSIZE",
        "MSET",
        "GETSET",
        "SETNX",
        "FLUSHDB",
        "INFO",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "KEEPTTL",
        "NX",
        "XX",
        "GT",
        "LT",
        "PERSIST",
        "GET",
        "k",
        "j",
        "*",
        "0",
        "1",
        "-1",
        "10",
        "1700000000",
        "1700000000000",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775",
        "18446744073709551615",
    ];

    proptest::proptest! {
        /// Any sequence of these commands, with time passing, gets a reply
        /// and never panics, and the key count agrees with KEYS.
        #[test]
        fn commands_with_deadlines_never_panic(
            commands in proptest::collection::vec(
                (proptest::collection::vec(0..WORDS.len(), 1..7), 0u64..5000),
                1..40,
            ),
        ) {
            let mut db = Db::default();
            for (words, wait) in commands {
                let command: Vec<&str> = words.iter().map(|&i| WORDS[i]).collect();
                let out = reply(&mut db, &command.join(" "));
                proptest::prop_assert!(!out.is_empty(), "{command:?} got no reply");
                db.now += wait;
                let keys = reply(&mut db, "KEYS *");
                let count: usize = keys.lines().next().unwrap()[1..].parse().unwrap();
                proptest::prop_assert_eq!(reply(&mut db, "DBSIZE"), format!(":{count}\r\n"));
            }
        }

        /// SCAN's guarantee: every key present for the whole iteration is
        /// returned, whatever is added and removed between the calls.
        #[test]
        fn scan_returns_every_key_present_throughout(
            initial in proptest::collection::btree_set("[a-e]{1,3}", 0..40),
            changes in proptest::collection::vec(("[a-e]{1,3}", proptest::prelude::any::<bool>()), 0..60),
            count in 1usize..6,
        ) {
            let mut db = Db::default();
            for k in &initial {
                reply(&mut db, &format!("SET {k} v"));
            }
            let mut throughout = initial.clone();
            let mut seen = std::collections::BTreeSet::new();
            let mut cursor = String::from("0");
            let mut changes = changes.iter();
            for round in 0.. {
                proptest::prop_assert!(round < 1000, "SCAN never ended");
                let (next, keys) = parse_scan(&reply(&mut db, &format!("SCAN {cursor} COUNT {count}")));
                seen.extend(keys);
                cursor = next;
                if cursor == "0" {
                    break;
                }
                if let Some((key, add)) = changes.next() {
                    if *add {
                        reply(&mut db, &format!("SET {key} v"));
                    } else {
                        reply(&mut db, &format!("DEL {key}"));
                        throughout.remove(key);
                    }
                }
            }
            proptest::prop_assert!(
                throughout.is_subset(&seen),
                "missed {:?}",
                throughout.difference(&seen).collect::<Vec<_>>()
            );
        }
    }
}
