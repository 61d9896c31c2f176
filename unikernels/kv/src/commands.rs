//! The commands, over any [`Store`]: GET, SET, DEL, EXISTS, MGET, MSET,
//! KEYS, PING, ECHO, INFO, DBSIZE, and the few administrative ones clients
//! send on connecting (COMMAND, CONFIG GET, SELECT, CLIENT, HELLO, QUIT).

use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis_resp::{Reply, glob_match};

use crate::store::{Store, StoreError};

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

/// Runs one command, appending its reply.
pub async fn run<S: Store>(
    store: &mut S,
    args: &[&[u8]],
    limits: &Limits,
    counters: &Counters,
    out: &mut Reply<'_>,
) -> Effect {
    let Some((&name, rest)) = args.split_first() else { return Effect::default() };
    let mut effect = Effect::default();
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
            [key, value] if check_key(out, key, limits) && check_value(out, value, limits) => {
                match store.set(key, value).await {
                    Ok(()) => {
                        effect.wrote = true;
                        out.simple("OK");
                    }
                    Err(e) => store_error(out, e),
                }
            }
            [_, _] => {}
            [_, _, ..] => out.error("ERR SET options are not supported (EX, PX, NX, XX, GET)"),
            _ => wrong_args(out, name),
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
                        store.persistence_info()
                    ),
                ),
                ("Keyspace", oasis::alloc::format!("db0:keys={},expires=0,avg_ttl=0\r\n", store.len())),
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
        _ if eq(name, "COMMAND") || eq(name, "CONFIG") => out.array(0),
        _ if eq(name, "SELECT") => match rest {
            [b"0"] => out.simple("OK"),
            [_] => out.error("ERR DB index is out of range"),
            _ => wrong_args(out, name),
        },
        _ if eq(name, "CLIENT") => out.simple("OK"),
        _ if eq(name, "HELLO") => out.error("NOPROTO this server speaks RESP2 only"),
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
