//! The server and the connection: PING, ECHO, INFO, SAVE, BGSAVE, and the
//! commands clients send on connecting (COMMAND, CONFIG, SELECT, CLIENT,
//! HELLO, AUTH), QUIT.

use oasis::alloc::string::String;
use oasis_resp::{Reply, glob_match};

use super::args::{eq, integer};
use super::{Command, Exec, Failure, ParseContext, Refusal};
use crate::store::Store;

// ---- parsing -------------------------------------------------------------

/// `PING [message]`.
pub fn ping<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ping(args.first().copied()))
}

/// `ECHO message`.
pub fn echo<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Echo(args[0]))
}

/// `INFO [section…]`.
pub fn info<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Info(args))
}

/// `SAVE`: makes every write durable.
pub fn save<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Save { background: false })
}

/// `BGSAVE`: the same, done before the reply too.
pub fn bgsave<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Save { background: true })
}

/// `COMMAND …`: an empty list; clients that ask do without.
pub fn command<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::ListCommands)
}

/// Commands that only say OK: CLIENT (anything).
pub fn ok<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ok)
}

/// `QUIT`: OK, then the connection closes.
pub fn quit<'a>(_: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Quit)
}

/// `SELECT 0`: there is one database.
pub fn select<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    if args[0] == b"0" { Ok(Command::Ok) } else { Err(Refusal::DbIndexOutOfRange) }
}

/// `CONFIG GET pattern…` (the few parameters clients look at, what
/// `redis-benchmark` asks before it starts), `CONFIG RESETSTAT`; nothing
/// can be changed at run time.
pub fn config<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    match args.split_first() {
        Some((sub, patterns)) if eq(sub, "GET") && !patterns.is_empty() => Ok(Command::ConfigGet(patterns)),
        Some((sub, [])) if eq(sub, "RESETSTAT") => Ok(Command::Ok),
        Some((sub, _)) if eq(sub, "SET") || eq(sub, "REWRITE") => Err(Refusal::ConfigFixed),
        Some((sub, _)) => Err(Refusal::UnknownSubcommand(sub)),
        None => Err(Refusal::WrongArgs("CONFIG")),
    }
}

/// `AUTH [user] password`: there are no passwords.
pub fn auth<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    match args {
        [user, _] => user_allowed(user).map(|()| Command::Ok),
        _ => Err(Refusal::AuthWithoutPassword),
    }
}

/// `HELLO [2 [AUTH user pass] [SETNAME name]]`: RESP2 is all this server
/// speaks; `HELLO 3` is refused so the client stays on RESP2.
pub fn hello<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    match args.first() {
        None => {}
        Some(v) if v == b"2" => {}
        Some(v) if integer(v).is_some() => return Err(Refusal::NoProto),
        Some(_) => return Err(Refusal::ProtocolVersionNotInteger),
    }
    let mut options = args.get(1..).unwrap_or_default();
    while let Some((option, more)) = options.split_first() {
        options = match (option, more) {
            (o, [user, _, more @ ..]) if eq(o, "AUTH") => {
                user_allowed(user)?;
                more
            }
            (o, [_, more @ ..]) if eq(o, "SETNAME") => more,
            _ => return Err(Refusal::Syntax),
        };
    }
    Ok(Command::Hello)
}

/// Like Redis with its default user and no password set, any password
/// for `default` is accepted.
fn user_allowed(user: &[u8]) -> Result<(), Refusal<'static>> {
    if user == b"default" { Ok(()) } else { Err(Refusal::WrongPass) }
}

// ---- running -------------------------------------------------------------

pub fn run_ping(message: Option<&[u8]>, out: &mut Reply<'_>) {
    match message {
        None => out.simple("PONG"),
        Some(message) => out.bulk(Some(message)),
    }
}

/// `INFO` and `INFO all|everything|default` give every section; `INFO
/// persistence keyspace` just those, as Redis does.
pub async fn run_info<S: Store>(x: &mut Exec<'_, S>, asked: &[&[u8]], out: &mut Reply<'_>) {
    let counters = x.counters;
    let store = &*x.store;
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
        ("Keyspace", oasis::alloc::format!("db0:keys={},expires={},avg_ttl=0\r\n", store.len(), store.expiring())),
    ];
    let everything = asked.is_empty() || asked.iter().any(|a| eq(a, "all") || eq(a, "everything") || eq(a, "default"));
    let mut info = String::new();
    for (title, body) in &sections {
        if everything || asked.iter().any(|a| eq(a, title)) {
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

pub async fn run_save<S: Store>(
    x: &mut Exec<'_, S>,
    background: bool,
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    x.store.sync().await?;
    out.simple(if background { "Background saving started" } else { "OK" });
    Ok(())
}

/// The parameters matching any of `patterns`, as name/value pairs.
pub fn run_config_get<S: Store>(x: &mut Exec<'_, S>, patterns: &[&[u8]], out: &mut Reply<'_>) {
    let disk = x.store.describe() != "memory";
    let params = [
        ("appendonly", if disk { "yes" } else { "no" }),
        ("appendfsync", if disk { x.counters.durability } else { "no" }),
        ("save", ""),
        ("databases", "1"),
        ("maxmemory", "0"),
    ];
    let found: oasis::alloc::vec::Vec<_> =
        params.iter().filter(|(n, _)| patterns.iter().any(|p| glob_match(p, n.as_bytes()))).collect();
    out.array(found.len() * 2);
    for (name, value) in found {
        out.bulk(Some(name.as_bytes()));
        out.bulk(Some(value.as_bytes()));
    }
}

/// What HELLO says of the server.
pub fn run_hello(out: &mut Reply<'_>) {
    enum Field {
        Text(&'static str),
        Integer(i64),
        Empty,
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
