//! The commands, over any [`Store`]: GET, SET (with NX, XX, GET, EX, PX,
//! EXAT, PXAT, KEEPTTL), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, DEL,
//! UNLINK, EXISTS, MGET, MSET, STRLEN, APPEND, INCR, DECR, INCRBY, DECRBY,
//! TYPE, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), TTL,
//! PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, SCAN, DBSIZE, FLUSHDB,
//! PING, ECHO, INFO, SAVE, and the few administrative ones clients send on
//! connecting (COMMAND, CONFIG GET, SELECT, CLIENT, HELLO, AUTH, QUIT).
//! Times to live follow Redis: a deadline in Unix milliseconds, kept
//! across restarts; a key past it is gone to every command.
//!
//! A command goes through three steps, each in one place: its name is
//! looked up in the table ([`table`]: arity, kind, parser), its arguments
//! are parsed into a typed [`Command`] or refused with Redis's exact
//! error ([`Refusal`]) before the store is touched, and the command is
//! executed ([`Command::execute`]) against the store. The families live
//! in `strings.rs`, `expiry.rs`, `keyspace.rs` and `server.rs`.

mod args;
mod expiry;
mod keyspace;
mod refusal;
mod server;
mod strings;
pub mod table;
#[cfg(test)]
mod tests;

use core::cell::RefCell;

use oasis::alloc::vec::Vec;
use oasis_resp::Reply;

pub use keyspace::Scans;
pub use refusal::{Failure, Refusal};
pub use table::{Flags, Spec};

use crate::store::{Deadline, Store};

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

/// What parsing may look at besides the arguments.
#[derive(Clone, Copy, Debug)]
pub struct ParseContext {
    /// The server's key and value limits.
    pub limits: Limits,
    /// The time the command runs at (Unix milliseconds), for times to
    /// live given relative to it.
    pub now: Deadline,
}

/// A command with its arguments checked, ready to run. Keys and values
/// borrow from the request.
#[derive(Debug)]
pub enum Command<'a> {
    /// PING: PONG, or the message back.
    Ping(Option<&'a [u8]>),
    /// ECHO.
    Echo(&'a [u8]),
    /// GET.
    Get(&'a [u8]),
    /// SET and the commands that are forms of it: SETNX, GETSET, SETEX,
    /// PSETEX.
    Set(strings::Set<'a>),
    /// GETEX.
    GetEx(strings::GetEx<'a>),
    /// GETDEL.
    GetDel(&'a [u8]),
    /// STRLEN.
    StrLen(&'a [u8]),
    /// APPEND.
    Append {
        /// The key.
        key: &'a [u8],
        /// What to append.
        tail: &'a [u8],
    },
    /// INCR, DECR, INCRBY, DECRBY.
    Incr {
        /// The key.
        key: &'a [u8],
        /// What to add.
        by: i64,
    },
    /// MGET.
    MGet(&'a [&'a [u8]]),
    /// MSET: key and value pairs.
    MSet(Vec<(&'a [u8], &'a [u8])>),
    /// TYPE.
    Type(&'a [u8]),
    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
    Ttl(&'a [u8], expiry::Report),
    /// PERSIST.
    Persist(&'a [u8]),
    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT.
    Expire(expiry::Expire<'a>),
    /// DEL, UNLINK.
    Del(&'a [&'a [u8]]),
    /// EXISTS.
    Exists(&'a [&'a [u8]]),
    /// KEYS with its pattern.
    Keys(&'a [u8]),
    /// SCAN.
    Scan(keyspace::Scan<'a>),
    /// DBSIZE.
    DbSize,
    /// FLUSHDB, FLUSHALL.
    FlushDb,
    /// INFO with the sections asked for.
    Info(&'a [&'a [u8]]),
    /// SAVE, or BGSAVE (`background`).
    Save {
        /// BGSAVE's reply.
        background: bool,
    },
    /// COMMAND: an empty list (clients only look).
    ListCommands,
    /// CONFIG GET with its patterns.
    ConfigGet(&'a [&'a [u8]]),
    /// HELLO (RESP2): the server's description.
    Hello,
    /// What needs nothing done: SELECT 0, CLIENT, AUTH, CONFIG RESETSTAT.
    Ok,
    /// QUIT.
    Quit,
}

/// What executing a command works on.
pub struct Exec<'x, S> {
    /// The store, the caller's alone for the whole command (so a check and
    /// a write in one command are one step to other clients).
    pub store: &'x mut S,
    /// SCAN iterations under way.
    pub scans: &'x RefCell<Scans>,
    /// The server's limits.
    pub limits: &'x Limits,
    /// For INFO.
    pub counters: &'x Counters,
    /// The time the command runs at (Unix milliseconds).
    pub now: Deadline,
    /// What it did.
    pub effect: Effect,
}

/// Looks `name` up and parses its arguments `args`: the command, and its
/// entry in the table.
pub fn parse<'a>(
    name: &'a [u8],
    args: &'a [&'a [u8]],
    cx: &ParseContext,
) -> Result<(&'static Spec, Command<'a>), Refusal<'a>> {
    let spec = table::lookup(name).ok_or(Refusal::UnknownCommand(name))?;
    if !spec.arity.allows(args.len()) {
        return Err(Refusal::WrongArgs(spec.name));
    }
    Ok((spec, (spec.parse)(args, cx)?))
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
    store.set_now(now);
    let mut exec = Exec { store, scans, limits, counters, now, effect: Effect::default() };
    let done = match parse(name, rest, &ParseContext { limits: *limits, now }) {
        Ok((spec, command)) => {
            let done = command.execute(&mut exec, out).await;
            debug_assert!(
                !exec.effect.wrote || spec.flags.contains(Flags::WRITE),
                "{} wrote but is not flagged as a write",
                spec.name
            );
            done
        }
        Err(refusal) => Err(Failure::Refused(refusal)),
    };
    if let Err(failure) = done {
        out.error(&oasis::alloc::format!("{failure}"));
    }
    exec.effect
}

impl<'a> Command<'a> {
    /// Runs the command, appending its reply to `out` when it succeeds
    /// (the caller replies with the failure otherwise).
    pub async fn execute<S: Store>(self, x: &mut Exec<'_, S>, out: &mut Reply<'_>) -> Result<(), Failure<'a>> {
        match self {
            Command::Ping(message) => server::run_ping(message, out),
            Command::Echo(message) => out.bulk(Some(message)),
            Command::Get(key) => strings::run_get(x, key, out).await?,
            Command::Set(set) => strings::run_set(x, set, out).await?,
            Command::GetEx(getex) => strings::run_getex(x, getex, out).await?,
            Command::GetDel(key) => strings::run_getdel(x, key, out).await?,
            Command::StrLen(key) => strings::run_strlen(x, key, out).await?,
            Command::Append { key, tail } => strings::run_append(x, key, tail, out).await?,
            Command::Incr { key, by } => strings::run_incr(x, key, by, out).await?,
            Command::MGet(keys) => strings::run_mget(x, keys, out).await?,
            Command::MSet(pairs) => strings::run_mset(x, &pairs, out).await?,
            Command::Type(key) => keyspace::run_type(x, key, out).await?,
            Command::Ttl(key, report) => expiry::run_ttl(x, key, report, out).await?,
            Command::Persist(key) => expiry::run_persist(x, key, out).await?,
            Command::Expire(expire) => expiry::run_expire(x, expire, out).await?,
            Command::Del(keys) => keyspace::run_del(x, keys, out).await?,
            Command::Exists(keys) => keyspace::run_exists(x, keys, out).await?,
            Command::Keys(pattern) => keyspace::run_keys(x, pattern, out),
            Command::Scan(scan) => keyspace::run_scan(x, scan, out),
            Command::DbSize => out.integer(x.store.len() as i64),
            Command::FlushDb => keyspace::run_flushdb(x, out).await?,
            Command::Info(sections) => server::run_info(x, sections, out).await,
            Command::Save { background } => server::run_save(x, background, out).await?,
            Command::ListCommands => out.array(0),
            Command::ConfigGet(patterns) => server::run_config_get(x, patterns, out),
            Command::Hello => server::run_hello(out),
            Command::Ok => out.simple("OK"),
            Command::Quit => {
                out.simple("OK");
                x.effect.quit = true;
            }
        }
        Ok(())
    }
}
