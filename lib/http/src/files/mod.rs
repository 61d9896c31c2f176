//! A web site from a read-only key-value store: [`StaticFiles`], a
//! [`Handler`] that serves any [`KvRo`].
//!
//! - `GET` and `HEAD` of `/a/b.html` serve key `a/b.html`, with a type
//!   from the extension, a strong `ETag` from the store's digest, and
//!   `Last-Modified` from the store's time (Unix seconds; 0 means unknown).
//! - `/dir/` serves `dir/index.html`; `/dir`, where `dir` is a
//!   dictionary, is answered 301 to `/dir/`. There are no listings.
//! - `If-Match`, `If-Unmodified-Since`, `If-None-Match` (304) and
//!   `If-Modified-Since`, evaluated in RFC 9110's order; one byte range
//!   (206 or 416, with `If-Range`).
//! - Precompressed variants: `KEY.br` and `KEY.gz` beside `KEY` (as
//!   `oasis-kv-build` makes them) are sent with `Content-Encoding` when
//!   `Accept-Encoding` prefers them, with `Vary: Accept-Encoding`.
//!   `identity;q=0` with no acceptable variant gets 406.
//! - A missing key gets the store's `404.html` if it has one.
//! - `OPTIONS` gets the allowed methods; other methods get 405.
//!
//! Paths are resolved by [`path::resolve`], which refuses (400) anything
//! that is not plainly a key inside the store.
//!
//! The hot path is a lookup: the first request for a key builds each
//! variant's whole `200` head (type, length, validators) once, and later
//! ones copy it, with the date added by the server, and send the value
//! as the store lends it (`&'static [u8]` from a `StaticKv`, no copy).
//! The cache assumes the store does not change while served.

mod conditional;
pub mod encoding;
pub mod mime;
pub mod path;
pub mod range;

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::Write as _;

use embedded_io_async::{Read, Write};
use oasis_kv::{EntryKind, KvRo};

use crate::clock::Clock;
use crate::date::format_imf_fixdate;
use crate::method::Method;
use crate::response::{Response, VecWriter, push_decimal, push_status_line};
use crate::server::{Exchange, Handler, Sent};
pub use conditional::{Precondition, evaluate};
use encoding::{Accepted, Coding};
use range::{RangeRequest, parse_range};

/// The methods a static site allows.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// One stored form of a file.
#[derive(Debug)]
struct Variant {
    coding: Coding,
    key: String,
    len: u64,
    etag: String,
    /// The `200` head: status line and fields, `Content-Length` included.
    head: Vec<u8>,
}

/// What is known about one file.
#[derive(Debug)]
struct File {
    content_type: &'static str,
    last_modified: Option<u64>,
    /// Identity first, then any precompressed forms.
    variants: Vec<Variant>,
}

impl File {
    fn variant(&self, coding: Coding) -> Option<&Variant> {
        self.variants.iter().find(|v| v.coding == coding)
    }

    fn negotiated(&self) -> bool {
        self.variants.len() > 1
    }
}

/// Serves a read-only store as a web site. See the module documentation.
#[derive(Debug)]
pub struct StaticFiles<S> {
    store: S,
    files: RefCell<BTreeMap<String, Rc<File>>>,
    index: &'static str,
    not_found: Option<&'static str>,
}

/// Where a path led.
enum Found {
    File(Rc<File>),
    /// A dictionary asked for without its trailing slash.
    Redirect,
    Missing,
}

impl<S: KvRo> StaticFiles<S> {
    /// Serves `store`, with `index.html` for directories and `404.html`
    /// for what is missing.
    pub fn new(store: S) -> StaticFiles<S> {
        StaticFiles { store, files: RefCell::new(BTreeMap::new()), index: "index.html", not_found: Some("404.html") }
    }

    /// The store served.
    pub fn store(&self) -> &S {
        &self.store
    }

    async fn is_value(&self, key: &str) -> bool {
        matches!(self.store.exists(key).await, Ok(Some(EntryKind::Value)))
    }

    /// The file at `key`, described once and then from the cache.
    async fn file(&self, key: &str) -> Option<Rc<File>> {
        if let Some(file) = self.files.borrow().get(key) {
            return Some(file.clone());
        }
        if !self.is_value(key).await {
            return None;
        }
        let content_type = mime::content_type(key);
        let last_modified = match self.store.last_modified(key).await {
            Ok(0) | Err(_) => None,
            Ok(secs) => Some(secs),
        };
        let mut file = File { content_type, last_modified, variants: Vec::new() };
        for (coding, suffix) in [(Coding::Identity, ""), (Coding::Brotli, ".br"), (Coding::Gzip, ".gz")] {
            let mut variant_key = String::from(key);
            variant_key.push_str(suffix);
            if coding != Coding::Identity && !self.is_value(&variant_key).await {
                continue;
            }
            let (Ok(len), Ok(digest)) = (self.store.size(&variant_key).await, self.store.digest(&variant_key).await)
            else {
                continue;
            };
            let mut etag = String::from("\"");
            for b in &digest[..16] {
                let _ = write!(etag, "{b:02x}");
            }
            etag.push('"');
            file.variants.push(Variant { coding, key: variant_key, len, etag, head: Vec::new() });
        }
        if file.variants.first().is_none_or(|v| v.coding != Coding::Identity) {
            return None;
        }
        let negotiated = file.negotiated();
        for variant in &mut file.variants {
            variant.head = head(200, content_type, variant, last_modified, negotiated, None);
        }
        let file = Rc::new(file);
        self.files.borrow_mut().insert(String::from(key), file.clone());
        Some(file)
    }

    async fn find(&self, resolved: &path::Resolved) -> Found {
        if resolved.directory {
            let mut key = resolved.key.clone();
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(self.index);
            return match self.file(&key).await {
                Some(file) => Found::File(file),
                None => Found::Missing,
            };
        }
        if let Some(file) = self.file(&resolved.key).await {
            return Found::File(file);
        }
        match self.store.exists(&resolved.key).await {
            Ok(Some(EntryKind::Dictionary)) => Found::Redirect,
            _ => Found::Missing,
        }
    }

    async fn not_found<C: Read + Write, K: Clock>(&self, exchange: Exchange<'_, C, K>) -> Sent {
        if let Some(page) = self.not_found
            && let Some(file) = self.file(page).await
            && let Some(variant) = file.variant(Coding::Identity)
            && let Ok(body) = self.store.get(&variant.key).await
        {
            let response = Response::new(404).header("Content-Type", file.content_type).body(body.as_ref());
            return exchange.respond(response).await;
        }
        exchange.respond(Response::plain(404)).await
    }
}

/// The head of a response for `variant`: the status line and every field
/// but those the server adds; `range` is `(first, last + 1)` for a 206.
fn head(
    status: u16,
    content_type: &str,
    variant: &Variant,
    last_modified: Option<u64>,
    negotiated: bool,
    range: Option<(u64, u64)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_status_line(&mut out, status);
    validators(&mut out, variant, last_modified, negotiated);
    if status == 304 {
        return out;
    }
    out.extend_from_slice(b"Content-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\nAccept-Ranges: bytes\r\n");
    if variant.coding != Coding::Identity {
        out.extend_from_slice(b"Content-Encoding: ");
        out.extend_from_slice(variant.coding.token().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let length = match range {
        Some((first, end)) => {
            let _ = write!(VecWriter(&mut out), "Content-Range: bytes {first}-{}/{}\r\n", end - 1, variant.len);
            end - first
        }
        None => variant.len,
    };
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(&mut out, length);
    out.extend_from_slice(b"\r\n");
    out
}

fn validators(out: &mut Vec<u8>, variant: &Variant, last_modified: Option<u64>, negotiated: bool) {
    out.extend_from_slice(b"ETag: ");
    out.extend_from_slice(variant.etag.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(secs) = last_modified {
        out.extend_from_slice(b"Last-Modified: ");
        out.extend_from_slice(&format_imf_fixdate(secs));
        out.extend_from_slice(b"\r\n");
    }
    if negotiated {
        out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
}

impl<S: KvRo> Handler for StaticFiles<S> {
    async fn handle<C: Read + Write, K: Clock>(&self, exchange: Exchange<'_, C, K>) -> Sent {
        let request = exchange.request();
        let method = request.method();
        match method {
            Method::Get | Method::Head => {}
            Method::Options => return exchange.respond(Response::new(204).header("Allow", ALLOW)).await,
            _ => return exchange.respond(Response::method_not_allowed(ALLOW)).await,
        }
        let resolved = match path::resolve(request.path()) {
            Ok(resolved) => resolved,
            Err(e) => {
                log::debug!("http: refused path {:?}: {e}", request.path());
                return exchange.respond(Response::plain(400)).await;
            }
        };
        let file = match self.find(&resolved).await {
            Found::File(file) => file,
            Found::Redirect => {
                let mut location = String::from("/");
                path::encode(&resolved.key, &mut location);
                location.push('/');
                if let Some(query) = request.query() {
                    location.push('?');
                    location.push_str(query);
                }
                return exchange.respond(Response::plain(301).header("Location", location)).await;
            }
            Found::Missing => return self.not_found(exchange).await,
        };
        let accepted = Accepted::parse(request.header("accept-encoding"));
        let Some(coding) =
            accepted.choose(file.variant(Coding::Gzip).is_some(), file.variant(Coding::Brotli).is_some())
        else {
            let mut response = Response::plain(406);
            if file.negotiated() {
                response = response.header("Vary", "Accept-Encoding");
            }
            return exchange.respond(response).await;
        };
        let Some(variant) = file.variant(coding) else {
            return exchange.respond(Response::plain(500)).await;
        };
        let range_allowed = match evaluate(request, &variant.etag, file.last_modified) {
            Precondition::NotModified => {
                let mut response = Response::new(304);
                response.fields = head(304, file.content_type, variant, file.last_modified, file.negotiated(), None);
                // The status line is the server's to write.
                let line = response.fields.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                response.fields.drain(..line);
                return exchange.respond(response).await;
            }
            Precondition::Failed => return exchange.respond(Response::plain(412)).await,
            Precondition::Proceed { range_allowed } => range_allowed,
        };
        let range = if method == Method::Get && range_allowed {
            parse_range(request.header("range"), variant.len)
        } else {
            RangeRequest::Full
        };
        match range {
            RangeRequest::Full if method == Method::Head => {
                exchange.respond(Response::prepared(200, &variant.head, &[])).await
            }
            RangeRequest::Full => match self.store.get(&variant.key).await {
                Ok(body) if body.as_ref().len() as u64 == variant.len => {
                    exchange.respond(Response::prepared(200, &variant.head, body.as_ref())).await
                }
                _ => exchange.respond(Response::plain(500)).await,
            },
            RangeRequest::Partial(bytes) => {
                let len = usize::try_from(bytes.end - bytes.start).unwrap_or(usize::MAX);
                match self.store.get_partial(&variant.key, bytes.start, len).await {
                    Ok(body) if body.as_ref().len() == len => {
                        let head = head(
                            206,
                            file.content_type,
                            variant,
                            file.last_modified,
                            file.negotiated(),
                            Some((bytes.start, bytes.end)),
                        );
                        exchange.respond(Response::prepared(206, &head, body.as_ref())).await
                    }
                    _ => exchange.respond(Response::plain(500)).await,
                }
            }
            RangeRequest::Unsatisfiable => {
                let mut response = Response::plain(416);
                let mut range = String::from("bytes */");
                let _ = write!(range, "{}", variant.len);
                response.add_header("Content-Range", range.as_bytes());
                exchange.respond(response).await
            }
        }
    }
}
