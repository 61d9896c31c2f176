//! Strings: GET, SET (with NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL),
//! SETNX, GETSET, SETEX, PSETEX, GETEX, GETDEL, STRLEN, APPEND, INCR,
//! DECR, INCRBY, DECRBY, MGET, MSET.

use oasis::alloc::string::ToString;
use oasis::alloc::vec::Vec;
use oasis_resp::Reply;

use super::args::{check_key, check_value, eq, expiry_option, integer, positive_deadline};
use super::{Command, Exec, Failure, ParseContext, Refusal};
use crate::store::{Deadline, Store, Ttl};

/// Only set a key that is absent (NX) or present (XX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    /// NX.
    IfAbsent,
    /// XX.
    IfPresent,
}

/// How a SET-like command replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetReply {
    /// SET's: the old value with GET, else OK when it wrote and nil when
    /// NX or XX held it back (GETSET, SETEX, PSETEX are SETs that reply so).
    Status,
    /// SETNX's: 1 when it wrote, 0 when not.
    Written,
}

/// SET and its forms.
#[derive(Clone, Copy, Debug)]
pub struct Set<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// NX or XX.
    pub only: Option<Only>,
    /// Reply with the old value (GET) instead of OK.
    pub get: bool,
    /// What becomes of the time to live.
    pub ttl: Ttl,
    /// How it replies.
    pub reply: SetReply,
}

/// GETEX's change to the time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// None asked for.
    Keep,
    /// PERSIST: none any more.
    Persist,
    /// EX, PX, EXAT or PXAT: this deadline, or the refusal of the time
    /// given, which Redis reports only when the key exists.
    At(Result<Deadline, Refusal<'static>>),
}

/// GETEX.
#[derive(Clone, Copy, Debug)]
pub struct GetEx<'a> {
    /// The key.
    pub key: &'a [u8],
    /// What to do to its time to live.
    pub change: Change,
}

// ---- parsing -------------------------------------------------------------

/// `GET key`.
pub fn get<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    check_key(args[0], &cx.limits)?;
    Ok(Command::Get(args[0]))
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]`, as
/// Redis checks it: the options' syntax, then the time, then the key and
/// the value against the limits.
pub fn set<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let (key, value) = (args[0], args[1]);
    let mut options = &args[2..];
    let mut set = Set { key, value, only: None, get: false, ttl: Ttl::Clear, reply: SetReply::Status };
    let mut ttl_given = false;
    let mut expiry = None;
    while let Some((option, more)) = options.split_first() {
        options = more;
        let only = match () {
            _ if eq(option, "NX") => Some(Only::IfAbsent),
            _ if eq(option, "XX") => Some(Only::IfPresent),
            _ if eq(option, "GET") => {
                set.get = true;
                None
            }
            _ if eq(option, "KEEPTTL") && !ttl_given => {
                ttl_given = true;
                set.ttl = Ttl::Keep;
                None
            }
            _ if !ttl_given && !options.is_empty() && expiry_option(option).is_some() => {
                let (Some(unit), Some((time, more))) = (expiry_option(option), options.split_first()) else {
                    return Err(Refusal::Syntax);
                };
                options = more;
                // Checked once the syntax is known good, as Redis does.
                expiry = Some((*time, unit));
                ttl_given = true;
                None
            }
            _ => return Err(Refusal::Syntax),
        };
        if let Some(only) = only {
            if set.only.is_some_and(|o| o != only) {
                return Err(Refusal::Syntax);
            }
            set.only = Some(only);
        }
    }
    if let Some((time, (unit, relative))) = expiry {
        set.ttl = Ttl::At(positive_deadline(time, unit, relative, cx.now, "set")?);
    }
    check_key(key, &cx.limits)?;
    check_value(value, &cx.limits)?;
    Ok(Command::Set(set))
}

/// `SETNX key value`: SET NX, replying 1 or 0.
pub fn setnx<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    plain_set(args[0], args[1], cx, Some(Only::IfAbsent), false, Ttl::Clear, SetReply::Written)
}

/// `GETSET key value`: SET GET.
pub fn getset<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    plain_set(args[0], args[1], cx, None, true, Ttl::Clear, SetReply::Status)
}

/// `SETEX key seconds value`: SET EX.
pub fn setex<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let at = positive_deadline(args[1], 1000, true, cx.now, "setex")?;
    plain_set(args[0], args[2], cx, None, false, Ttl::At(at), SetReply::Status)
}

/// `PSETEX key milliseconds value`: SET PX.
pub fn psetex<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let at = positive_deadline(args[1], 1, true, cx.now, "psetex")?;
    plain_set(args[0], args[2], cx, None, false, Ttl::At(at), SetReply::Status)
}

fn plain_set<'a>(
    key: &'a [u8],
    value: &'a [u8],
    cx: &ParseContext,
    only: Option<Only>,
    get: bool,
    ttl: Ttl,
    reply: SetReply,
) -> Result<Command<'a>, Refusal<'a>> {
    check_key(key, &cx.limits)?;
    check_value(value, &cx.limits)?;
    Ok(Command::Set(Set { key, value, only, get, ttl, reply }))
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`: the syntax is checked
/// here; the time only once the key is found, as Redis does.
pub fn getex<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let change = match &args[1..] {
        [] => Change::Keep,
        [o] if eq(o, "PERSIST") => Change::Persist,
        [o, time] => match expiry_option(o) {
            Some((unit, relative)) => Change::At(positive_deadline(time, unit, relative, cx.now, "getex")),
            None => return Err(Refusal::Syntax),
        },
        _ => return Err(Refusal::Syntax),
    };
    Ok(Command::GetEx(GetEx { key: args[0], change }))
}

/// `GETDEL key`.
pub fn getdel<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::GetDel(args[0]))
}

/// `STRLEN key`.
pub fn strlen<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::StrLen(args[0]))
}

/// `APPEND key tail`; the value it makes is checked against the limit
/// when it runs.
pub fn append<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    check_key(args[0], &cx.limits)?;
    Ok(Command::Append { key: args[0], tail: args[1] })
}

/// `INCR key`.
pub fn incr<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    increment(args[0], 1, cx)
}

/// `DECR key`.
pub fn decr<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    increment(args[0], -1, cx)
}

/// `INCRBY key n`.
pub fn incrby<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let by = integer(args[1]).ok_or(Refusal::NotAnInteger)?;
    increment(args[0], by, cx)
}

/// `DECRBY key n`.
pub fn decrby<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    let by = match integer(args[1]) {
        Some(i64::MIN) => return Err(Refusal::DecrementOverflow),
        Some(by) => -by,
        None => return Err(Refusal::NotAnInteger),
    };
    increment(args[0], by, cx)
}

fn increment<'a>(key: &'a [u8], by: i64, cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    check_key(key, &cx.limits)?;
    Ok(Command::Incr { key, by })
}

/// `MGET key…`.
pub fn mget<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::MGet(args))
}

/// `MSET key value [key value …]`: every key and value within the limits,
/// the first that is not refused.
pub fn mset<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    if !args.len().is_multiple_of(2) {
        return Err(Refusal::WrongArgs("MSET"));
    }
    let mut pairs = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks_exact(2) {
        check_key(pair[0], &cx.limits)?;
        check_value(pair[1], &cx.limits)?;
        pairs.push((pair[0], pair[1]));
    }
    Ok(Command::MSet(pairs))
}

// ---- running -------------------------------------------------------------

pub async fn run_get<S: Store>(x: &mut Exec<'_, S>, key: &[u8], out: &mut Reply<'_>) -> Result<(), Failure<'static>> {
    let value = x.store.get(key).await?;
    out.bulk(value.as_deref());
    Ok(())
}

/// SET with its options: the check (NX, XX) and the write are one step to
/// other clients, since the store is this command's alone.
pub async fn run_set<S: Store>(x: &mut Exec<'_, S>, set: Set<'_>, out: &mut Reply<'_>) -> Result<(), Failure<'static>> {
    let old = if set.get { Some(x.store.get(set.key).await?) } else { None };
    let written = match set.only {
        None => true,
        Some(only) => {
            let exists = match &old {
                Some(old) => old.is_some(),
                None => x.store.contains(set.key).await?,
            };
            exists == (only == Only::IfPresent)
        }
    };
    if written {
        x.store.set(set.key, set.value, set.ttl).await?;
        x.effect.wrote = true;
    }
    match (set.reply, old) {
        (SetReply::Written, _) => out.integer(i64::from(written)),
        (SetReply::Status, Some(old)) => out.bulk(old.as_deref()),
        (SetReply::Status, None) if written => out.simple("OK"),
        (SetReply::Status, None) => out.bulk(None),
    }
    Ok(())
}

/// GETEX: the value, and its new time to live (a deadline already past
/// removes the key, as EXPIRE does).
pub async fn run_getex<S: Store>(
    x: &mut Exec<'_, S>,
    getex: GetEx<'_>,
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let Some(value) = x.store.get(getex.key).await? else {
        out.bulk(None);
        return Ok(());
    };
    let deadline = match getex.change {
        Change::Keep => None,
        Change::Persist => Some(None),
        Change::At(at) => Some(Some(at?)),
    };
    if let Some(deadline) = deadline
        && x.store.expiry(getex.key) != deadline
    {
        match deadline {
            Some(at) if at <= x.now => {
                x.store.remove_many(&[getex.key]).await?;
            }
            _ => {
                x.store.set_expiry(getex.key, deadline).await?;
            }
        }
        x.effect.wrote = true;
    }
    out.bulk(Some(&value));
    Ok(())
}

pub async fn run_getdel<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let Some(value) = x.store.get(key).await? else {
        out.bulk(None);
        return Ok(());
    };
    x.store.remove_many(&[key]).await?;
    x.effect.wrote = true;
    out.bulk(Some(&value));
    Ok(())
}

pub async fn run_strlen<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let value = x.store.get(key).await?;
    out.integer(value.map_or(0, |v| v.len()) as i64);
    Ok(())
}

pub async fn run_append<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    tail: &[u8],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let mut value = x.store.get(key).await?.unwrap_or_default();
    value.extend_from_slice(tail);
    check_value(&value, x.limits)?;
    x.store.set(key, &value, Ttl::Keep).await?;
    x.effect.wrote = true;
    out.integer(value.len() as i64);
    Ok(())
}

/// INCR and friends: the value, a decimal integer (0 if the key is
/// absent), plus `by`, keeping the time to live.
pub async fn run_incr<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    by: i64,
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let now = match x.store.get(key).await? {
        None => 0,
        Some(v) => integer(&v).ok_or(Refusal::NotAnInteger)?,
    };
    let next = now.checked_add(by).ok_or(Refusal::Overflow)?;
    let text = next.to_string();
    check_value(text.as_bytes(), x.limits)?;
    x.store.set(key, text.as_bytes(), Ttl::Keep).await?;
    x.effect.wrote = true;
    out.integer(next);
    Ok(())
}

pub async fn run_mget<S: Store>(
    x: &mut Exec<'_, S>,
    keys: &[&[u8]],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        values.push(x.store.get(key).await?);
    }
    out.array(values.len());
    for v in values {
        out.bulk(v.as_deref());
    }
    Ok(())
}

pub async fn run_mset<S: Store>(
    x: &mut Exec<'_, S>,
    pairs: &[(&[u8], &[u8])],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    x.store.set_many(pairs).await?;
    x.effect.wrote = true;
    out.simple("OK");
    Ok(())
}
