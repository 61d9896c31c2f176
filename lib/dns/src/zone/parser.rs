//! The RFC 1035 §5 master-file format: `$ORIGIN`, `$TTL`, `$INCLUDE`
//! (only through a caller's resolver: a unikernel has no file system),
//! `@`, relative names, omitted owner/TTL/class, parentheses across
//! lines, comments, quoted strings, `\X`/`\DDD` escapes, and the RFC
//! 3597 `\# len hex` form for any type.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::{Zone, ZoneProblem};
use crate::name::{Name, NameError, unescape};
use crate::rdata::{RData, Soa};
use crate::record::Record;
use crate::types::{Class, RType, parse_u16, parse_u32};

/// Most nested `$INCLUDE`s.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Gives the bytes of an included file by the name `$INCLUDE` used, or
/// says why not.
pub type IncludeResolver<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<u8>, String>;

/// How to read a zone file.
pub struct ParseOptions<'a> {
    /// Used in error messages.
    pub file_name: &'a str,
    /// The zone's apex; also the initial `$ORIGIN`.
    pub origin: Name,
    /// TTL for records before any `$TTL` or explicit TTL.
    pub default_ttl: Option<u32>,
    /// Reads `$INCLUDE`d files; without one, `$INCLUDE` is an error.
    pub include: Option<IncludeResolver<'a>>,
}

impl fmt::Debug for ParseOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseOptions")
            .field("file_name", &self.file_name)
            .field("origin", &self.origin)
            .field("default_ttl", &self.default_ttl)
            .field("include", &self.include.is_some())
            .finish()
    }
}

/// What is wrong at a place in a zone file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneErrorKind {
    /// The text does not follow the format.
    Syntax(&'static str),
    /// A bad name.
    Name(NameError),
    /// A type mnemonic we do not know (use `TYPEnnn`).
    UnknownType(String),
    /// Record data that does not parse for its type.
    Rdata(RType, &'static str),
    /// No TTL given and no `$TTL` or earlier TTL to use.
    NoTtl,
    /// `$INCLUDE` without a resolver.
    IncludeRefused(String),
    /// The resolver could not give the file.
    IncludeFailed(String, String),
    /// `$INCLUDE` nested too deep (a loop?).
    IncludeDepth,
    /// A directive we do not support (`$GENERATE`, …).
    UnknownDirective(String),
    /// The record breaks a zone rule.
    Zone(ZoneProblem),
}

impl fmt::Display for ZoneErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneErrorKind::Syntax(s) => f.write_str(s),
            ZoneErrorKind::Name(e) => write!(f, "bad name: {e}"),
            ZoneErrorKind::UnknownType(t) => write!(f, "unknown type {t:?} (write TYPEnnn with \\# data)"),
            ZoneErrorKind::Rdata(t, why) => write!(f, "bad {t} data: {why}"),
            ZoneErrorKind::NoTtl => f.write_str("no TTL: give one, or $TTL before the first record"),
            ZoneErrorKind::IncludeRefused(file) => {
                write!(f, "$INCLUDE {file} refused: no file system here (give the parser an include resolver)")
            }
            ZoneErrorKind::IncludeFailed(file, why) => write!(f, "$INCLUDE {file}: {why}"),
            ZoneErrorKind::IncludeDepth => write!(f, "$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep"),
            ZoneErrorKind::UnknownDirective(d) => write!(f, "unsupported directive {d}"),
            ZoneErrorKind::Zone(p) => write!(f, "{p}"),
        }
    }
}

/// A zone file refused: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneError {
    /// The file (an `$INCLUDE`d one when the error is there).
    pub file: String,
    /// 1-based line; the last line for whole-zone problems.
    pub line: usize,
    /// What is wrong.
    pub kind: ZoneErrorKind,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.kind)
    }
}

impl core::error::Error for ZoneError {}

/// Parses a zone file into a zone, checking every record and the whole
/// zone (SOA and NS at the apex) as NSD does.
pub fn parse_zone(text: &[u8], options: ParseOptions<'_>) -> Result<Zone, ZoneError> {
    let mut zone = Zone::new(options.origin.clone());
    let mut state = State {
        origin: options.origin.clone(),
        last_owner: None,
        default_ttl: options.default_ttl,
        last_ttl: None,
        include: options.include,
    };
    let last_line = state.load(&mut zone, options.file_name, text, 0)?;
    zone.check_servable().map_err(|p| ZoneError {
        file: options.file_name.to_string(),
        line: last_line,
        kind: ZoneErrorKind::Zone(p),
    })?;
    Ok(zone)
}

struct State<'a> {
    origin: Name,
    last_owner: Option<Name>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    include: Option<IncludeResolver<'a>>,
}

#[derive(Debug)]
struct Token {
    text: Vec<u8>,
    quoted: bool,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    owner_omitted: bool,
    tokens: Vec<Token>,
}

impl State<'_> {
    /// Loads one file's records; returns its last line number.
    fn load(&mut self, zone: &mut Zone, file: &str, text: &[u8], depth: usize) -> Result<usize, ZoneError> {
        let err = |line: usize, kind: ZoneErrorKind| ZoneError { file: file.to_string(), line, kind };
        let (entries, last_line) = tokenize(text).map_err(|(line, why)| err(line, ZoneErrorKind::Syntax(why)))?;
        for entry in entries {
            let line = entry.line;
            let first = &entry.tokens[0];
            if !entry.owner_omitted && !first.quoted && first.text.first() == Some(&b'$') {
                self.directive(zone, &entry, depth).map_err(|e| match e {
                    DirectiveError::Here(kind) => err(line, kind),
                    DirectiveError::Nested(e) => *e,
                })?;
                continue;
            }
            let record = self.record(&entry).map_err(|kind| err(line, kind))?;
            zone.add(record).map_err(|p| err(line, ZoneErrorKind::Zone(p)))?;
        }
        Ok(last_line)
    }

    fn directive(&mut self, zone: &mut Zone, entry: &Entry, depth: usize) -> Result<(), DirectiveError> {
        let here = DirectiveError::Here;
        let args = &entry.tokens[1..];
        let name = &entry.tokens[0].text;
        if name.eq_ignore_ascii_case(b"$ORIGIN") {
            let [arg] = args else { return Err(here(ZoneErrorKind::Syntax("$ORIGIN takes one name"))) };
            self.origin =
                Name::from_text_bytes(&arg.text, Some(&self.origin)).map_err(|e| here(ZoneErrorKind::Name(e)))?;
        } else if name.eq_ignore_ascii_case(b"$TTL") {
            let [arg] = args else { return Err(here(ZoneErrorKind::Syntax("$TTL takes one TTL"))) };
            self.default_ttl = Some(parse_ttl(&arg.text).ok_or(here(ZoneErrorKind::Syntax("bad $TTL value")))?);
        } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
            let (file, origin) = match args {
                [file] => (file, None),
                [file, origin] => (file, Some(origin)),
                _ => return Err(here(ZoneErrorKind::Syntax("$INCLUDE takes a file name and an optional origin"))),
            };
            let file_name = String::from_utf8_lossy(&file.text).into_owned();
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(here(ZoneErrorKind::IncludeDepth));
            }
            let Some(resolver) = self.include.as_mut() else {
                return Err(here(ZoneErrorKind::IncludeRefused(file_name)));
            };
            let bytes =
                resolver(&file_name).map_err(|why| here(ZoneErrorKind::IncludeFailed(file_name.clone(), why)))?;
            let saved_origin = self.origin.clone();
            if let Some(origin) = origin {
                self.origin = Name::from_text_bytes(&origin.text, Some(&self.origin))
                    .map_err(|e| here(ZoneErrorKind::Name(e)))?;
            }
            self.load(zone, &file_name, &bytes, depth + 1).map_err(|e| DirectiveError::Nested(Box::new(e)))?;
            // RFC 1035 §5.1: the included file's origin changes end with it.
            self.origin = saved_origin;
        } else {
            return Err(here(ZoneErrorKind::UnknownDirective(String::from_utf8_lossy(name).into_owned())));
        }
        Ok(())
    }

    fn name(&self, token: &Token) -> Result<Name, ZoneErrorKind> {
        if token.text == b"@" && !token.quoted {
            return Ok(self.origin.clone());
        }
        Name::from_text_bytes(&token.text, Some(&self.origin)).map_err(ZoneErrorKind::Name)
    }

    fn record(&mut self, entry: &Entry) -> Result<Record, ZoneErrorKind> {
        let mut tokens = entry.tokens.iter().peekable();
        let owner = if entry.owner_omitted {
            self.last_owner
                .clone()
                .ok_or(ZoneErrorKind::Syntax("no owner name and no earlier record to take it from"))?
        } else {
            let token = tokens.next().ok_or(ZoneErrorKind::Syntax("empty record"))?;
            self.name(token)?
        };
        let mut ttl = None;
        let mut class = None;
        for _ in 0..2 {
            let Some(token) = tokens.peek() else { break };
            if ttl.is_none() && token.text.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(parse_ttl(&token.text).ok_or(ZoneErrorKind::Syntax("bad TTL"))?);
            } else if class.is_none()
                && let Some(c) = Class::from_text(&token.text).filter(|c| *c != Class::ANY && *c != Class::NONE)
            {
                class = Some(c);
            } else {
                break;
            }
            tokens.next();
        }
        let type_token = tokens.next().ok_or(ZoneErrorKind::Syntax("no record type"))?;
        let rtype = RType::from_text(&type_token.text)
            .ok_or_else(|| ZoneErrorKind::UnknownType(String::from_utf8_lossy(&type_token.text).into_owned()))?;
        let rest: Vec<&Token> = tokens.collect();
        let data = self.rdata(rtype, &rest)?;
        let ttl = match ttl {
            Some(t) => t,
            None => self
                .default_ttl
                .or(self.last_ttl)
                .or(match &data {
                    RData::Soa(soa) => Some(soa.minimum),
                    _ => None,
                })
                .ok_or(ZoneErrorKind::NoTtl)?,
        };
        self.last_ttl = Some(ttl);
        self.last_owner = Some(owner.clone());
        Ok(Record { name: owner, class: class.unwrap_or(Class::IN), ttl, data })
    }

    fn rdata(&self, rtype: RType, tokens: &[&Token]) -> Result<RData, ZoneErrorKind> {
        let bad = |why| ZoneErrorKind::Rdata(rtype, why);
        if tokens.first().is_some_and(|t| !t.quoted && t.text == b"\\#") {
            return generic_rdata(rtype, &tokens[1..]);
        }
        let want = |n: usize| -> Result<(), ZoneErrorKind> {
            if tokens.len() == n {
                Ok(())
            } else {
                Err(bad(if tokens.len() < n { "too few fields" } else { "too many fields" }))
            }
        };
        let text = |i: usize| core::str::from_utf8(&tokens[i].text).map_err(|_| bad("not ASCII"));
        let int16 = |i: usize| parse_u16(&tokens[i].text).ok_or(bad("bad 16-bit number"));
        Ok(match rtype {
            RType::A => {
                want(1)?;
                RData::A(text(0)?.parse::<Ipv4Addr>().map_err(|_| bad("not an IPv4 address"))?)
            }
            RType::AAAA => {
                want(1)?;
                RData::Aaaa(text(0)?.parse::<Ipv6Addr>().map_err(|_| bad("not an IPv6 address"))?)
            }
            RType::NS | RType::CNAME | RType::DNAME | RType::PTR => {
                want(1)?;
                let n = self.name(tokens[0])?;
                match rtype {
                    RType::NS => RData::Ns(n),
                    RType::CNAME => RData::Cname(n),
                    RType::DNAME => RData::Dname(n),
                    _ => RData::Ptr(n),
                }
            }
            RType::SOA => {
                want(7)?;
                let num = |i: usize| parse_ttl(&tokens[i].text).ok_or(bad("bad number"));
                RData::Soa(Soa {
                    mname: self.name(tokens[0])?,
                    rname: self.name(tokens[1])?,
                    serial: parse_u32(&tokens[2].text).ok_or(bad("bad serial"))?,
                    refresh: num(3)?,
                    retry: num(4)?,
                    expire: num(5)?,
                    minimum: num(6)?,
                })
            }
            RType::MX => {
                want(2)?;
                RData::Mx { preference: int16(0)?, exchange: self.name(tokens[1])? }
            }
            RType::SRV => {
                want(4)?;
                RData::Srv { priority: int16(0)?, weight: int16(1)?, port: int16(2)?, target: self.name(tokens[3])? }
            }
            RType::TXT => {
                if tokens.is_empty() {
                    return Err(bad("no strings"));
                }
                RData::Txt(tokens.iter().map(|t| char_string(&t.text)).collect::<Result<_, _>>().map_err(bad)?)
            }
            RType::CAA => {
                want(3)?;
                let flags = parse_u16(&tokens[0].text).and_then(|v| u8::try_from(v).ok()).ok_or(bad("bad flags"))?;
                let tag = tokens[1].text.clone();
                if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad("tag must be 1-15 letters and digits"));
                }
                let value = unescape_string(&tokens[2].text).map_err(bad)?;
                RData::Caa { flags, tag, value }
            }
            RType::HINFO => {
                want(2)?;
                let mut data = Vec::new();
                for t in tokens {
                    let s = char_string(&t.text).map_err(bad)?;
                    data.push(s.len() as u8);
                    data.extend_from_slice(&s);
                }
                RData::Unknown { rtype, data }
            }
            _ => return Err(bad("no text form here; use the generic form \\# LENGTH HEX")),
        })
    }
}

enum DirectiveError {
    Here(ZoneErrorKind),
    Nested(Box<ZoneError>),
}

/// `\# LENGTH HEX…` (RFC 3597 §5). Known types are converted to their
/// typed form, and must then be valid.
fn generic_rdata(rtype: RType, tokens: &[&Token]) -> Result<RData, ZoneErrorKind> {
    let bad = |why| ZoneErrorKind::Rdata(rtype, why);
    let (len, hex) = tokens.split_first().ok_or(bad("\\# needs a length"))?;
    let len = usize::from(parse_u16(&len.text).ok_or(bad("bad \\# length"))?);
    let mut data = Vec::with_capacity(len);
    let mut digits = hex.iter().flat_map(|t| t.text.iter());
    while let Some(&hi) = digits.next() {
        let lo = *digits.next().ok_or(bad("odd number of hex digits"))?;
        let nibble = |c: u8| (c as char).to_digit(16).ok_or(bad("not a hex digit"));
        data.push((nibble(hi)? * 16 + nibble(lo)?) as u8);
    }
    if data.len() != len {
        return Err(bad("\\# length does not match the data"));
    }
    RData::from_wire_uncompressed(rtype, &data).map_err(|_| bad("\\# data not valid for the type"))
}

/// A character-string (at most 255 bytes) with escapes decoded.
fn char_string(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    let s = unescape_string(raw)?;
    if s.len() > 255 { Err("string longer than 255 bytes") } else { Ok(s) }
}

fn unescape_string(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let (b, used) = unescape(&raw[i..]).map_err(|_| "bad escape")?;
            out.push(b);
            i += used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A TTL: seconds, or BIND-style units (`1h30m`, `2w`).
pub(crate) fn parse_ttl(text: &[u8]) -> Option<u32> {
    if let Some(v) = parse_u32(text) {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut value: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            value = Some(value.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(c - b'0'))?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604800,
            _ => return None,
        };
        total = total.checked_add(value.take()?.checked_mul(unit)?)?;
    }
    if value.is_some() {
        return None;
    }
    u32::try_from(total).ok()
}

/// Splits the text into entries (logical lines): comments dropped,
/// parentheses joined, quotes kept as one token with escapes still raw.
fn tokenize(text: &[u8]) -> Result<(Vec<Entry>, usize), (usize, &'static str)> {
    let mut entries = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut current: Option<Entry> = None;
    let mut at_line_start = true;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if at_line_start && depth == 0 {
            at_line_start = false;
            current = Some(Entry { line, owner_omitted: c == b' ' || c == b'\t', tokens: Vec::new() });
        }
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    finish(&mut entries, current.take());
                    at_line_start = true;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b';' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.checked_sub(1).ok_or((line, "')' without '('"))?;
                i += 1;
            }
            b'"' => {
                let start_line = line;
                let mut s = Vec::new();
                i += 1;
                loop {
                    let Some(&c) = text.get(i) else { return Err((start_line, "unterminated quoted string")) };
                    match c {
                        b'"' => break,
                        b'\\' => {
                            s.push(c);
                            let next = *text.get(i + 1).ok_or((start_line, "unterminated quoted string"))?;
                            if next == b'\n' {
                                line += 1;
                            }
                            s.push(next);
                            i += 2;
                        }
                        _ => {
                            if c == b'\n' {
                                line += 1;
                            }
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                push_token(&mut current, line, Token { text: s, quoted: true });
            }
            _ => {
                let mut s = Vec::new();
                while i < text.len() {
                    let c = text[i];
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"') {
                        break;
                    }
                    if c == b'\\' {
                        s.push(c);
                        if let Some(&next) = text.get(i + 1) {
                            if next == b'\n' {
                                return Err((line, "escaped newline outside quotes"));
                            }
                            s.push(next);
                        }
                        i += 2;
                        continue;
                    }
                    s.push(c);
                    i += 1;
                }
                push_token(&mut current, line, Token { text: s, quoted: false });
            }
        }
    }
    if depth > 0 {
        return Err((paren_line, "'(' not closed"));
    }
    finish(&mut entries, current.take());
    Ok((entries, line.saturating_sub(usize::from(text.ends_with(b"\n"))).max(1)))
}

fn push_token(current: &mut Option<Entry>, line: usize, token: Token) {
    current.get_or_insert_with(|| Entry { line, owner_omitted: false, tokens: Vec::new() }).tokens.push(token);
}

fn finish(entries: &mut Vec<Entry>, entry: Option<Entry>) {
    if let Some(entry) = entry
        && !entry.tokens.is_empty()
    {
        entries.push(entry);
    }
}
