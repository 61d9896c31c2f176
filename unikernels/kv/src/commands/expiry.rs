//! Times to live: TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, and EXPIRE,
//! PEXPIRE, EXPIREAT, PEXPIREAT with NX, XX, GT, LT.

use oasis_resp::Reply;

use super::args::{clamp_i64, deadline_of, eq, integer};
use super::{Command, Exec, Failure, ParseContext, Refusal};
use crate::store::{Deadline, Store};

/// What TTL and friends report of a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// TTL: seconds left, rounded.
    Seconds,
    /// PTTL: milliseconds left.
    Millis,
    /// EXPIRETIME: the deadline in Unix seconds, rounded.
    AtSeconds,
    /// PEXPIRETIME: the deadline in Unix milliseconds.
    AtMillis,
}

/// When EXPIRE may set the time to live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// NX: only when the key has none.
    pub nx: bool,
    /// XX: only when it has one.
    pub xx: bool,
    /// GT: only to a later deadline (none counts as forever).
    pub gt: bool,
    /// LT: only to an earlier one.
    pub lt: bool,
}

/// EXPIRE and its forms.
#[derive(Clone, Copy, Debug)]
pub struct Expire<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The deadline (0 for one before the epoch: already past).
    pub at: Deadline,
    /// NX, XX, GT, LT.
    pub conditions: Conditions,
}

// ---- parsing -------------------------------------------------------------

/// `TTL key`.
pub fn ttl<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ttl(args[0], Report::Seconds))
}

/// `PTTL key`.
pub fn pttl<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ttl(args[0], Report::Millis))
}

/// `EXPIRETIME key`.
pub fn expiretime<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ttl(args[0], Report::AtSeconds))
}

/// `PEXPIRETIME key`.
pub fn pexpiretime<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Ttl(args[0], Report::AtMillis))
}

/// `PERSIST key`.
pub fn persist<'a>(args: &'a [&'a [u8]], _: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    Ok(Command::Persist(args[0]))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`.
pub fn expire<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    expire_in(args, cx, 1000, true, "expire")
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`.
pub fn pexpire<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    expire_in(args, cx, 1, true, "pexpire")
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`.
pub fn expireat<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    expire_in(args, cx, 1000, false, "expireat")
}

/// `PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]`.
pub fn pexpireat<'a>(args: &'a [&'a [u8]], cx: &ParseContext) -> Result<Command<'a>, Refusal<'a>> {
    expire_in(args, cx, 1, false, "pexpireat")
}

/// The EXPIRE family, checked as Redis does: the conditions, then the
/// time. Any time is taken (one already past removes the key), unless it
/// overflows.
fn expire_in<'a>(
    args: &'a [&'a [u8]],
    cx: &ParseContext,
    unit_ms: i64,
    relative: bool,
    command: &'static str,
) -> Result<Command<'a>, Refusal<'a>> {
    let (key, time) = (args[0], args[1]);
    let mut conditions = Conditions::default();
    for c in &args[2..] {
        match () {
            _ if eq(c, "NX") => conditions.nx = true,
            _ if eq(c, "XX") => conditions.xx = true,
            _ if eq(c, "GT") => conditions.gt = true,
            _ if eq(c, "LT") => conditions.lt = true,
            _ => return Err(Refusal::UnsupportedOption(c)),
        }
    }
    if conditions.nx && (conditions.xx || conditions.gt || conditions.lt) {
        return Err(Refusal::NxWithOthers);
    }
    if conditions.gt && conditions.lt {
        return Err(Refusal::GtWithLt);
    }
    let amount = integer(time).ok_or(Refusal::NotAnInteger)?;
    let at = deadline_of(amount, unit_ms, relative, cx.now).ok_or(Refusal::InvalidExpireTime(command))?;
    Ok(Command::Expire(Expire { key, at: u64::try_from(at).unwrap_or(0), conditions }))
}

// ---- running -------------------------------------------------------------

/// -2 for no key, -1 for a key without a time to live, as Redis.
pub async fn run_ttl<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    report: Report,
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    if !x.store.contains(key).await? {
        out.integer(-2);
        return Ok(());
    }
    let Some(at) = x.store.expiry(key) else {
        out.integer(-1);
        return Ok(());
    };
    let left = at.saturating_sub(x.now);
    out.integer(clamp_i64(match report {
        Report::Seconds => left.saturating_add(500) / 1000,
        Report::Millis => left,
        // Rounded, as Redis rounds it.
        Report::AtSeconds => at.saturating_add(500) / 1000,
        Report::AtMillis => at,
    }));
    Ok(())
}

/// 1 when the key had a time to live and now has none, else 0.
pub async fn run_persist<S: Store>(
    x: &mut Exec<'_, S>,
    key: &[u8],
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    if x.store.expiry(key).is_none() {
        out.integer(0);
        return Ok(());
    }
    x.store.set_expiry(key, None).await?;
    x.effect.wrote = true;
    out.integer(1);
    Ok(())
}

/// 1 when the time to live was set (a time already past removes the key),
/// 0 when there is no key or the conditions do not hold.
pub async fn run_expire<S: Store>(
    x: &mut Exec<'_, S>,
    expire: Expire<'_>,
    out: &mut Reply<'_>,
) -> Result<(), Failure<'static>> {
    let Expire { key, at, conditions: c } = expire;
    if !x.store.contains(key).await? {
        out.integer(0);
        return Ok(());
    }
    let current = x.store.expiry(key);
    let allowed = match current {
        _ if c.nx => current.is_none(),
        _ if c.xx && current.is_none() => false,
        Some(old) if c.gt => at > old,
        None if c.gt => false,
        Some(old) if c.lt => at < old,
        _ => true,
    };
    if !allowed {
        out.integer(0);
        return Ok(());
    }
    if at <= x.now {
        x.store.remove_many(&[key]).await?;
    } else {
        x.store.set_expiry(key, Some(at)).await?;
    }
    x.effect.wrote = true;
    out.integer(1);
    Ok(())
}
