//! TSIG (RFC 8945) with HMAC-SHA256: signing and verifying single
//! messages and multi-message streams (AXFR), with the time check done
//! against a time the caller passes in (seconds since the Unix epoch).
//!
//! Keys are written `NAME:ALGORITHM:SECRET`, e.g.
//! `xfr.example.:hmac-sha256:c2VjcmV0IGtleSBieXRlcw==` — the key's
//! domain name, the algorithm (only `hmac-sha256`), and the secret in
//! base64. `dig -y`'s order `hmac-sha256:NAME:SECRET` is accepted too.

use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::message::{HEADER_LEN, HeaderView};
use crate::name::Name;
use crate::types::{Class, RType};
use crate::wire::{Reader, WireError, skip_name};

type HmacSha256 = Hmac<Sha256>;

/// Default fudge, seconds (RFC 8945 §10 recommends 300).
pub const DEFAULT_FUDGE: u16 = 300;
/// Shortest MAC we accept: RFC 8945 §5.2.2.1's floor for SHA-256 (half its
/// length).
const MIN_MAC_LEN: usize = 16;
/// Most unsigned messages between signed ones in a stream (RFC 8945 §5.3.1).
const MAX_UNSIGNED_IN_STREAM: usize = 99;

/// TSIG error codes (RFC 8945 §3, carried in the TSIG record).
pub mod code {
    /// Bad signature.
    pub const BADSIG: u16 = 16;
    /// Unknown key or algorithm.
    pub const BADKEY: u16 = 17;
    /// Time outside the fudge.
    pub const BADTIME: u16 = 18;
    /// MAC too short.
    pub const BADTRUNC: u16 = 22;
}

/// A shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's name, as both sides know it.
    pub name: Name,
    /// The secret.
    pub secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("name", &self.name).field("secret", &"<hidden>").finish()
    }
}

/// Why a key string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not three `:`-separated parts.
    Syntax,
    /// An algorithm other than `hmac-sha256`.
    Algorithm,
    /// A bad key name.
    Name,
    /// The secret is not base64, or empty.
    Secret,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::Syntax => "TSIG key must be NAME:hmac-sha256:BASE64SECRET",
            KeyError::Algorithm => "only hmac-sha256 TSIG keys are supported",
            KeyError::Name => "bad TSIG key name",
            KeyError::Secret => "TSIG secret is not non-empty base64",
        })
    }
}

impl core::error::Error for KeyError {}

/// The algorithm's name on the wire.
fn algorithm_name() -> Name {
    Name::from_checked_wire(b"\x0bhmac-sha256\x00".to_vec())
}

impl Key {
    /// Parses `NAME:ALGORITHM:SECRET` (or `ALGORITHM:NAME:SECRET`).
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        let parts: Vec<&str> = text.trim().splitn(3, ':').collect();
        let [a, b, secret] = parts.as_slice() else { return Err(KeyError::Syntax) };
        let (name, algorithm) = if a.to_ascii_lowercase().starts_with("hmac-") { (b, a) } else { (a, b) };
        if !algorithm.eq_ignore_ascii_case("hmac-sha256") {
            return Err(KeyError::Algorithm);
        }
        let name =
            if name.ends_with('.') { Name::from_text(name, None) } else { Name::from_text(name, Some(&Name::root())) }
                .map_err(|_| KeyError::Name)?;
        let secret = crate::base64::decode(secret).filter(|s| !s.is_empty()).ok_or(KeyError::Secret)?;
        Ok(Key { name, secret })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        }
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // new_from_slice only fails for fixed-size-key MACs.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// Why a signed message was not accepted, and the TSIG error to answer
/// with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigError {
    /// The message or its TSIG record is malformed (answer FORMERR).
    Malformed(WireError),
    /// No TSIG record where one was required.
    Unsigned,
    /// Unknown key or algorithm (BADKEY, rcode NOTAUTH).
    BadKey,
    /// The MAC does not verify (BADSIG, rcode NOTAUTH).
    BadSig,
    /// Signed too far from now (BADTIME, rcode NOTAUTH).
    BadTime {
        /// When the peer says it signed.
        signed: u64,
    },
    /// MAC shorter than we accept (BADTRUNC).
    BadTrunc,
    /// The peer answered with a TSIG error code.
    Peer(u16),
}

impl TsigError {
    /// The TSIG error code for a response, where there is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            TsigError::BadKey => Some(code::BADKEY),
            TsigError::BadSig => Some(code::BADSIG),
            TsigError::BadTime { .. } => Some(code::BADTIME),
            TsigError::BadTrunc => Some(code::BADTRUNC),
            _ => None,
        }
    }
}

impl fmt::Display for TsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsigError::Malformed(e) => write!(f, "malformed TSIG message: {e}"),
            TsigError::Unsigned => f.write_str("message not signed"),
            TsigError::BadKey => f.write_str("TSIG BADKEY: unknown key or algorithm"),
            TsigError::BadSig => f.write_str("TSIG BADSIG: signature does not verify"),
            TsigError::BadTime { signed } => write!(f, "TSIG BADTIME: signed at {signed}, outside the fudge"),
            TsigError::BadTrunc => f.write_str("TSIG BADTRUNC: MAC too short"),
            TsigError::Peer(c) => write!(f, "peer answered with TSIG error {c}"),
        }
    }
}

impl core::error::Error for TsigError {}

/// A TSIG record's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TsigRecord {
    key: Name,
    algorithm: Name,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
    other: Vec<u8>,
}

impl TsigRecord {
    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.key.as_wire());
        out.extend_from_slice(&RType::TSIG.0.to_be_bytes());
        out.extend_from_slice(&Class::ANY.0.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(self.algorithm.as_wire());
        out.extend_from_slice(&self.time.to_be_bytes()[2..]);
        out.extend_from_slice(&self.fudge.to_be_bytes());
        out.extend_from_slice(&(self.mac.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.mac);
        out.extend_from_slice(&self.original_id.to_be_bytes());
        out.extend_from_slice(&self.error.to_be_bytes());
        out.extend_from_slice(&(self.other.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.other);
        let len = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// Finds the TSIG record that ends `msg`: its fields and where it starts.
fn find(msg: &[u8]) -> Result<Option<(TsigRecord, usize)>, WireError> {
    let h = HeaderView::new_checked(msg)?;
    if h.arcount() == 0 {
        return Ok(None);
    }
    // Walk to the last record.
    let mut at = HEADER_LEN;
    for _ in 0..h.qdcount() {
        at = skip_name(msg, at)? + 4;
    }
    let records = usize::from(h.ancount()) + usize::from(h.nscount()) + usize::from(h.arcount());
    let mut last = at;
    for _ in 0..records {
        last = at;
        at = skip_name(msg, at)?;
        let fixed = msg.get(at..at + 10).ok_or(WireError::Truncated)?;
        at += 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    }
    if at > msg.len() {
        return Err(WireError::Truncated);
    }
    let mut r = Reader::new(msg, last);
    let key = r.name()?;
    if RType(r.u16()?) != RType::TSIG {
        return Ok(None);
    }
    if Class(r.u16()?) != Class::ANY || r.u32()? != 0 {
        return Err(WireError::BadRdata);
    }
    let rdlen = usize::from(r.u16()?);
    let end = r.pos() + rdlen;
    let algorithm = r.name()?;
    let t = r.bytes(6)?;
    let time = u64::from_be_bytes([0, 0, t[0], t[1], t[2], t[3], t[4], t[5]]);
    let fudge = r.u16()?;
    let mac_len = usize::from(r.u16()?);
    let mac = r.bytes(mac_len)?.to_vec();
    let original_id = r.u16()?;
    let error = r.u16()?;
    let other_len = usize::from(r.u16()?);
    let other = r.bytes(other_len)?.to_vec();
    if r.pos() != end || end != msg.len() {
        return Err(WireError::RdataLength);
    }
    Ok(Some((TsigRecord { key, algorithm, time, fudge, mac, original_id, error, other }, last)))
}

/// The message as it was before signing: TSIG cut off, ARCOUNT one less,
/// the original ID back.
fn unsigned_part(msg: &[u8], start: usize, original_id: u16) -> Vec<u8> {
    let mut m = msg[..start].to_vec();
    m[0..2].copy_from_slice(&original_id.to_be_bytes());
    let ar = u16::from_be_bytes([m[10], m[11]]).saturating_sub(1);
    m[10..12].copy_from_slice(&ar.to_be_bytes());
    m
}

fn add_variables(mac: &mut HmacSha256, t: &TsigRecord, timers_only: bool) {
    if !timers_only {
        mac.update(t.key.to_lowercase().as_wire());
        mac.update(&Class::ANY.0.to_be_bytes());
        mac.update(&0u32.to_be_bytes());
        mac.update(t.algorithm.to_lowercase().as_wire());
    }
    mac.update(&t.time.to_be_bytes()[2..]);
    mac.update(&t.fudge.to_be_bytes());
    if !timers_only {
        mac.update(&t.error.to_be_bytes());
        mac.update(&(t.other.len() as u16).to_be_bytes());
        mac.update(&t.other);
    }
}

fn prior_mac(mac: &mut HmacSha256, prior: Option<&[u8]>) {
    if let Some(p) = prior {
        mac.update(&(p.len() as u16).to_be_bytes());
        mac.update(p);
    }
}

/// Signs `msg` in place (appends a TSIG record, bumps ARCOUNT) and
/// returns the MAC. `request_mac`: when signing a response, the MAC of the
/// request it answers. `error`: a TSIG error code to report (then `other`
/// carries our time for BADTIME, RFC 8945 §5.2.3).
pub fn sign(msg: &mut Vec<u8>, key: &Key, now: u64, request_mac: Option<&[u8]>, error: u16) -> Vec<u8> {
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let other = if error == code::BADTIME { now.to_be_bytes()[2..].to_vec() } else { Vec::new() };
    let mut t = TsigRecord {
        key: key.name.clone(),
        algorithm: algorithm_name(),
        time: now,
        fudge: DEFAULT_FUDGE,
        mac: Vec::new(),
        original_id: id,
        error,
        other,
    };
    let mut mac = key.mac();
    prior_mac(&mut mac, request_mac);
    mac.update(msg);
    add_variables(&mut mac, &t, false);
    t.mac = mac.finalize().into_bytes().to_vec();
    append(msg, &t);
    t.mac
}

fn append(msg: &mut Vec<u8>, t: &TsigRecord) {
    t.emit(msg);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).saturating_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// The message as it was before it was signed (TSIG removed, ARCOUNT and
/// ID restored), `None` when it carries no TSIG. For answering a signed
/// query: [`verify`] it, give this to the responder, then [`sign`] the
/// response with the query's MAC.
pub fn without_tsig(msg: &[u8]) -> Result<Option<Vec<u8>>, WireError> {
    Ok(find(msg)?.map(|(t, start)| unsigned_part(msg, start, t.original_id)))
}

/// A verified message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed it.
    pub key: Name,
    /// Its MAC (needed to sign the response, or to check the next message).
    pub mac: Vec<u8>,
    /// When it was signed.
    pub time: u64,
}

/// Checks the TSIG that ends `msg` against `keys`, at time `now`.
/// `request_mac`: when checking a response, our request's MAC.
pub fn verify(msg: &[u8], keys: &[Key], now: u64, request_mac: Option<&[u8]>) -> Result<Verified, TsigError> {
    let (t, start) = find(msg).map_err(TsigError::Malformed)?.ok_or(TsigError::Unsigned)?;
    let key = keys.iter().find(|k| k.name == t.key).ok_or(TsigError::BadKey)?;
    if t.algorithm != algorithm_name() {
        return Err(TsigError::BadKey);
    }
    if t.error != 0 && t.mac.is_empty() {
        return Err(TsigError::Peer(t.error));
    }
    if t.mac.len() < MIN_MAC_LEN || t.mac.len() > 32 {
        return Err(if t.mac.len() > 32 { TsigError::Malformed(WireError::BadRdata) } else { TsigError::BadTrunc });
    }
    let mut mac = key.mac();
    prior_mac(&mut mac, request_mac);
    mac.update(&unsigned_part(msg, start, t.original_id));
    add_variables(&mut mac, &t, false);
    mac.verify_truncated_left(&t.mac).map_err(|_| TsigError::BadSig)?;
    // RFC 8945 §5.2.3: time is checked after the MAC.
    if now.abs_diff(t.time) > u64::from(t.fudge) {
        return Err(TsigError::BadTime { signed: t.time });
    }
    if t.error != 0 {
        return Err(TsigError::Peer(t.error));
    }
    Ok(Verified { key: key.name.clone(), mac: t.mac, time: t.time })
}

/// Signs the messages of a response stream (AXFR): the first with the
/// request's MAC, each later one with the previous MAC and timers only
/// (RFC 8945 §5.3.1). We sign every message.
#[derive(Debug)]
pub struct StreamSigner {
    key: Key,
    prior: Vec<u8>,
    first: bool,
}

impl StreamSigner {
    /// For a response to a request signed with `request_mac`.
    pub fn new(key: Key, request_mac: Vec<u8>) -> StreamSigner {
        StreamSigner { key, prior: request_mac, first: true }
    }

    /// Signs the next message in place.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) {
        if self.first {
            self.first = false;
            self.prior = sign(msg, &self.key, now, Some(&self.prior), 0);
            return;
        }
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let mut t = TsigRecord {
            key: self.key.name.clone(),
            algorithm: algorithm_name(),
            time: now,
            fudge: DEFAULT_FUDGE,
            mac: Vec::new(),
            original_id: id,
            error: 0,
            other: Vec::new(),
        };
        let mut mac = self.key.mac();
        prior_mac(&mut mac, Some(&self.prior));
        mac.update(msg);
        add_variables(&mut mac, &t, true);
        t.mac = mac.finalize().into_bytes().to_vec();
        append(msg, &t);
        self.prior = t.mac;
    }
}

/// Checks the messages of a signed response stream as they arrive.
#[derive(Debug)]
pub struct StreamVerifier {
    key: Key,
    prior: Vec<u8>,
    first: bool,
    /// Unsigned messages since the last signed one, as the MAC will cover
    /// them.
    pending: Vec<u8>,
    unsigned: usize,
}

impl StreamVerifier {
    /// For the stream answering our request signed with `request_mac`.
    pub fn new(key: Key, request_mac: Vec<u8>) -> StreamVerifier {
        StreamVerifier { key, prior: request_mac, first: true, pending: Vec::new(), unsigned: 0 }
    }

    /// Checks the next message. The first must be signed; later ones may
    /// be unsigned, up to 99 in a row, covered by the next signature.
    pub fn verify(&mut self, msg: &[u8], now: u64) -> Result<(), TsigError> {
        if self.first {
            let v = verify(msg, core::slice::from_ref(&self.key), now, Some(&self.prior))?;
            self.first = false;
            self.prior = v.mac;
            return Ok(());
        }
        let Some((t, start)) = find(msg).map_err(TsigError::Malformed)? else {
            self.unsigned += 1;
            if self.unsigned > MAX_UNSIGNED_IN_STREAM {
                return Err(TsigError::Unsigned);
            }
            self.pending.extend_from_slice(msg);
            return Ok(());
        };
        if t.key != self.key.name || t.algorithm != algorithm_name() {
            return Err(TsigError::BadKey);
        }
        if t.mac.len() < MIN_MAC_LEN || t.mac.len() > 32 {
            return Err(TsigError::BadTrunc);
        }
        let mut mac = self.key.mac();
        prior_mac(&mut mac, Some(&self.prior));
        mac.update(&self.pending);
        mac.update(&unsigned_part(msg, start, t.original_id));
        add_variables(&mut mac, &t, true);
        mac.verify_truncated_left(&t.mac).map_err(|_| TsigError::BadSig)?;
        if now.abs_diff(t.time) > u64::from(t.fudge) {
            return Err(TsigError::BadTime { signed: t.time });
        }
        self.pending.clear();
        self.unsigned = 0;
        self.prior = t.mac;
        Ok(())
    }

    /// Call after the last message: the stream must end signed.
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.unsigned > 0 || self.first { Err(TsigError::Unsigned) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests;
