//! The async loop of one connection: the thin I/O around the sans-I/O
//! [`Connection`], generic over any `embedded_io_async` stream and any
//! [`Clock`]. Requests are answered one at a time, in order (pipelined
//! requests wait in the input buffer, and their responses leave together);
//! a handler reads the body and writes the response through an
//! [`Exchange`].

use alloc::vec::Vec;
use core::net::SocketAddr;

use embedded_io_async::{Read, Write};

use crate::chunked::{CHUNK_END, LAST_CHUNK, encode_chunk_start};
use crate::clock::{Clock, with_deadline};
use crate::config::Config;
use crate::conn::{BodyNext, Connection, Next, nanos};
use crate::date::{IMF_FIXDATE_LEN, format_imf_fixdate};
use crate::error::RequestError;
use crate::method::Method;
use crate::request::{Request, Version};
use crate::response::{Response, push_decimal, push_status_line};
use crate::status::forbids_body;

/// Output is sent once this much is buffered.
const FLUSH_AT: usize = 16 * 1024;
/// Content at least this large is written from where it lies, not copied.
const WRITE_DIRECT: usize = 8 * 1024;

/// An application: answers each request through its [`Exchange`].
#[allow(async_fn_in_trait)]
pub trait Handler {
    /// Answers one request. The only way to get a [`Sent`] is to send a
    /// response ([`Exchange::respond`], or [`Exchange::start`] and
    /// [`BodyWriter::finish`]), so every request gets one.
    async fn handle<C: Read + Write, K: Clock>(&self, exchange: Exchange<'_, C, K>) -> Sent;
}

/// Proof that a response was sent.
#[derive(Debug)]
#[must_use]
pub struct Sent(());

/// Why a response body could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The peer is gone, or did not take the data in time.
    Io,
    /// More content than the `Content-Length` announced.
    TooLong,
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            WriteError::Io => "the connection failed",
            WriteError::TooLong => "more content than the announced length",
        })
    }
}

impl core::error::Error for WriteError {}

/// How the body of the response in progress is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No body is sent (HEAD, 204, 304): writes are dropped.
    Discard,
    /// `Content-Length`, with this much still to send.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (HTTP/1.0 with an unknown length).
    UntilClose,
}

/// `Date` text, formatted once a second.
struct DateCache {
    text: [u8; IMF_FIXDATE_LEN],
    valid_until: u64,
}

impl DateCache {
    fn get<K: Clock>(&mut self, clock: &K) -> &[u8; IMF_FIXDATE_LEN] {
        let now = clock.now_ns();
        if now >= self.valid_until {
            let wall = clock.wall_ns();
            self.text = format_imf_fixdate(wall / 1_000_000_000);
            self.valid_until = now.saturating_add(1_000_000_000 - wall % 1_000_000_000);
        }
        &self.text
    }
}

/// Per-exchange bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
struct ExchangeState {
    started: u64,
    status: u16,
    body_bytes: u64,
    head_sent: bool,
    keep: bool,
    continue_sent: bool,
    body_error: Option<RequestError>,
}

/// One connection's I/O state (private; handlers see [`Exchange`]).
pub struct Conn<C, K> {
    io: C,
    clock: K,
    core: Connection,
    out: Vec<u8>,
    date: DateCache,
    peer: Option<SocketAddr>,
    broken: bool,
    exchange: ExchangeState,
}

/// What a connection did, for the caller's accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionSummary {
    /// Requests answered (refused ones included).
    pub requests: u64,
}

/// Serves requests on `io` until the peer leaves, a timeout passes, or a
/// request is refused. Returns once the last response is written; the
/// caller closes the stream (gracefully: see `accept::serve`).
pub async fn serve_connection<C, K, H>(
    io: C,
    clock: K,
    config: Config,
    handler: &H,
    peer: Option<SocketAddr>,
) -> ConnectionSummary
where
    C: Read + Write,
    K: Clock,
    H: Handler,
{
    let now = clock.now_ns();
    let mut conn = Conn {
        io,
        core: Connection::new(config, now),
        clock,
        out: Vec::with_capacity(FLUSH_AT),
        date: DateCache { text: [0; IMF_FIXDATE_LEN], valid_until: 0 },
        peer,
        broken: false,
        exchange: ExchangeState::default(),
    };
    let mut summary = ConnectionSummary::default();
    loop {
        let now = conn.clock.now_ns();
        match conn.core.poll_request(now) {
            Next::Request => {
                summary.requests += 1;
                conn.exchange = ExchangeState { started: now, ..ExchangeState::default() };
                let exchange = Exchange { conn: &mut conn };
                let _sent = match exchange.request().method() {
                    Method::Other | Method::Connect => exchange.respond(Response::plain(501)).await,
                    _ => handler.handle(exchange).await,
                };
                conn.end_exchange();
                if conn.broken {
                    break;
                }
            }
            Next::NeedInput { deadline } => {
                if !conn.flush().await {
                    break;
                }
                conn.fill(deadline).await;
            }
            Next::Reject(e) => {
                summary.requests += 1;
                conn.refuse(e, now).await;
                break;
            }
            Next::Close => break,
        }
    }
    conn.flush().await;
    summary
}

impl<C: Read + Write, K: Clock> Conn<C, K> {
    async fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, RequestError> {
        if let Some(e) = self.exchange.body_error {
            return Err(e);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.core.request().expects_continue() && !self.exchange.continue_sent && !self.exchange.head_sent {
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            self.exchange.continue_sent = true;
        }
        loop {
            let now = self.clock.now_ns();
            match self.core.poll_body(now, buf.len()) {
                BodyNext::Data(data) => {
                    buf[..data.len()].copy_from_slice(data);
                    return Ok(data.len());
                }
                BodyNext::End => return Ok(0),
                BodyNext::Reject(e) => {
                    self.exchange.body_error = Some(e);
                    self.exchange.keep = false;
                    return Err(e);
                }
                BodyNext::NeedInput { deadline } => {
                    if !self.flush().await {
                        let e = RequestError::Malformed("the connection failed");
                        self.exchange.body_error = Some(e);
                        return Err(e);
                    }
                    self.fill(deadline).await;
                }
            }
        }
    }

    /// Reads what arrives before `deadline` into the core.
    async fn fill(&mut self, deadline: u64) {
        let space = self.core.input_space();
        if space.is_empty() {
            self.core.close();
            return;
        }
        match with_deadline(&self.clock, deadline, self.io.read(space)).await {
            Ok(Ok(n)) => self.core.received(n, self.clock.now_ns()),
            Ok(Err(_)) => {
                self.broken = true;
                self.core.close();
            }
            // The core sees the deadline passed when next asked.
            Err(_) => {}
        }
    }

    /// Writes `bytes` within the idle timeout; false (and the connection
    /// broken) when that fails.
    async fn write_all(&mut self, bytes: &[u8]) -> bool {
        if self.broken {
            return false;
        }
        let deadline = self.clock.now_ns().saturating_add(nanos(self.core.config().idle_timeout));
        match with_deadline(&self.clock, deadline, self.io.write_all(bytes)).await {
            Ok(Ok(())) => true,
            _ => {
                self.broken = true;
                self.core.close();
                false
            }
        }
    }

    /// Sends buffered output.
    async fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return !self.broken;
        }
        let out = core::mem::take(&mut self.out);
        let ok = self.write_all(&out).await;
        self.out = out;
        self.out.clear();
        // Not the stream's own `flush`: on a TCP stream that waits until
        // the peer has acknowledged everything, a round trip per response
        // for nothing (the stack sends what it is given).
        ok
    }

    /// Sends buffered output unless more pipelined requests wait and will
    /// add to it.
    async fn flush_unless_pipelined(&mut self) {
        if !(self.exchange.keep && self.core.has_buffered_input() && self.out.len() < FLUSH_AT) {
            self.flush().await;
        }
    }

    /// Appends `data` to the output, writing large pieces in place.
    async fn push_content(&mut self, data: &[u8]) -> bool {
        if data.len() >= WRITE_DIRECT {
            return self.flush().await && self.write_all(data).await;
        }
        self.out.extend_from_slice(data);
        self.out.len() < FLUSH_AT || self.flush().await
    }

    /// Appends the response head and settles whether the connection stays.
    fn push_head(&mut self, status: u16, fields: &[u8], prepared: Option<&[u8]>, framing: Framing, length: u64) {
        let request = self.core.request();
        let http10 = request.version() == Version::Http10;
        let awaiting_continue = request.expects_continue() && !self.exchange.continue_sent;
        let keep = self.exchange.body_error.is_none()
            && framing != Framing::UntilClose
            && self.core.can_continue(!awaiting_continue);
        match prepared {
            Some(head) => self.out.extend_from_slice(head),
            None => {
                push_status_line(&mut self.out, status);
                self.out.extend_from_slice(fields);
                match framing {
                    Framing::Length(_) | Framing::Discard if !forbids_body(status) => {
                        self.out.extend_from_slice(b"Content-Length: ");
                        push_decimal(&mut self.out, length);
                        self.out.extend_from_slice(b"\r\n");
                    }
                    Framing::Chunked => self.out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
                    _ => {}
                }
            }
        }
        self.out.extend_from_slice(b"Date: ");
        let date = *self.date.get(&self.clock);
        self.out.extend_from_slice(&date);
        self.out.extend_from_slice(b"\r\n");
        let server = self.core.config().server;
        if !server.is_empty() {
            self.out.extend_from_slice(b"Server: ");
            self.out.extend_from_slice(server.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        if !keep {
            self.out.extend_from_slice(b"Connection: close\r\n");
        } else if http10 {
            self.out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.exchange.status = status;
        self.exchange.keep = keep;
        self.exchange.head_sent = true;
    }

    /// Ends an exchange: logs it and tells the core whether to go on.
    fn end_exchange(&mut self) {
        let now = self.clock.now_ns();
        let request = self.core.request();
        log_access(self.peer, Some(request), &self.exchange, now);
        let keep = self.exchange.keep && !self.broken;
        self.core.finish_exchange(keep, now);
    }

    /// Answers a refused request and closes.
    async fn refuse(&mut self, e: RequestError, started: u64) {
        log::debug!("{}: refused: {e}", Peer(self.peer));
        let response = Response::plain(e.status());
        self.exchange = ExchangeState { started, status: e.status(), ..ExchangeState::default() };
        push_status_line(&mut self.out, e.status());
        self.out.extend_from_slice(&response.fields);
        self.out.extend_from_slice(b"Content-Length: ");
        push_decimal(&mut self.out, response.body.as_bytes().len() as u64);
        self.out.extend_from_slice(b"\r\nDate: ");
        let date = *self.date.get(&self.clock);
        self.out.extend_from_slice(&date);
        self.out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        self.out.extend_from_slice(response.body.as_bytes());
        self.exchange.body_bytes = response.body.as_bytes().len() as u64;
        self.flush().await;
        log_access(self.peer, None, &self.exchange, self.clock.now_ns());
    }
}

struct Peer(Option<SocketAddr>);

impl core::fmt::Display for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{}", addr.ip()),
            None => f.write_str("-"),
        }
    }
}

fn log_access(peer: Option<SocketAddr>, request: Option<&Request>, exchange: &ExchangeState, now: u64) {
    let micros = now.saturating_sub(exchange.started) / 1000;
    match request {
        Some(r) => log::info!(
            target: "access",
            "{} \"{} {} {}\" {} {} {}us",
            Peer(peer),
            r.method_token(),
            r.target(),
            r.version().as_str(),
            exchange.status,
            exchange.body_bytes,
            micros
        ),
        None => log::info!(
            target: "access",
            "{} \"-\" {} {} {}us",
            Peer(peer),
            exchange.status,
            exchange.body_bytes,
            micros
        ),
    }
}

/// One request and the means to answer it.
pub struct Exchange<'x, C, K> {
    conn: &'x mut Conn<C, K>,
}

impl<'x, C: Read + Write, K: Clock> Exchange<'x, C, K> {
    /// The request head.
    pub fn request(&self) -> &Request {
        self.conn.core.request()
    }

    /// The peer's address, when known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.conn.peer
    }

    /// The clock the connection runs on.
    pub fn clock(&self) -> &K {
        &self.conn.clock
    }

    /// Reads request body into `buf`; 0 at its end. A client that sent
    /// `Expect: 100-continue` is told to go on at the first read. After an
    /// error (malformed chunks, a body over the limit, a timeout) the
    /// response the handler then sends is replaced by the error's status
    /// and the connection closes.
    pub async fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, RequestError> {
        self.conn.read_body(buf).await
    }

    /// Reads the whole body, refusing it (413) past `limit` bytes.
    pub async fn read_body_to_vec(&mut self, limit: usize) -> Result<Vec<u8>, RequestError> {
        let mut body = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let n = self.read_body(&mut buf).await?;
            if n == 0 {
                return Ok(body);
            }
            if body.len() + n > limit {
                self.conn.exchange.body_error = Some(RequestError::BodyTooLarge);
                return Err(RequestError::BodyTooLarge);
            }
            body.extend_from_slice(&buf[..n]);
        }
    }

    /// Sends `response` whole. For HEAD, and statuses without content,
    /// only the head goes out (with the length a GET would have had).
    pub async fn respond(self, response: Response<'_>) -> Sent {
        let conn = self.conn;
        let response = match conn.exchange.body_error {
            Some(e) => Response::plain(e.status()),
            None => response,
        };
        let status = response.status;
        let head_only = conn.core.request().method() == Method::Head || forbids_body(status);
        let body = response.body.as_bytes();
        let framing = if head_only { Framing::Discard } else { Framing::Length(body.len() as u64) };
        conn.push_head(status, &response.fields, response.prepared, framing, body.len() as u64);
        if !head_only && conn.push_content(body).await {
            conn.exchange.body_bytes = body.len() as u64;
        }
        conn.flush_unless_pipelined().await;
        Sent(())
    }

    /// Sends `response`'s head and returns a writer for its content:
    /// `length` bytes exactly, or when unknown chunked (HTTP/1.1) or
    /// delimited by closing the connection (HTTP/1.0). The response's own
    /// body is ignored.
    pub async fn start(self, response: Response<'_>, length: Option<u64>) -> BodyWriter<'x, C, K> {
        let conn = self.conn;
        let response = match conn.exchange.body_error {
            Some(e) => Response::plain(e.status()),
            None => response,
        };
        let status = response.status;
        let framing = if conn.core.request().method() == Method::Head || forbids_body(status) {
            Framing::Discard
        } else {
            match length {
                Some(n) => Framing::Length(n),
                None if conn.core.request().version() == Version::Http11 => Framing::Chunked,
                None => Framing::UntilClose,
            }
        };
        conn.push_head(status, &response.fields, None, framing, length.unwrap_or(0));
        BodyWriter { conn, framing, failed: false }
    }
}

/// Writes a response's content after [`Exchange::start`].
pub struct BodyWriter<'x, C, K> {
    conn: &'x mut Conn<C, K>,
    framing: Framing,
    failed: bool,
}

impl<C: Read + Write, K: Clock> BodyWriter<'_, C, K> {
    /// Reads more of the request body, as [`Exchange::read_body`] does:
    /// a handler can answer while the request is still arriving (an
    /// echo, a transformation). An error here ends the connection after
    /// the response, which is cut short.
    pub async fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, RequestError> {
        self.conn.read_body(buf).await
    }

    /// Sends `data` (buffered; large pieces go out at once).
    pub async fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        if self.failed || self.conn.broken {
            return Err(WriteError::Io);
        }
        let ok = match &mut self.framing {
            Framing::Discard => true,
            _ if data.is_empty() => true,
            Framing::Length(remaining) => {
                if data.len() as u64 > *remaining {
                    self.failed = true;
                    self.conn.exchange.keep = false;
                    return Err(WriteError::TooLong);
                }
                *remaining -= data.len() as u64;
                self.conn.push_content(data).await
            }
            Framing::Chunked => {
                encode_chunk_start(data.len(), &mut self.conn.out);
                self.conn.push_content(data).await && {
                    self.conn.out.extend_from_slice(CHUNK_END);
                    true
                }
            }
            Framing::UntilClose => self.conn.push_content(data).await,
        };
        if !ok {
            self.failed = true;
            return Err(WriteError::Io);
        }
        if self.framing != Framing::Discard {
            self.conn.exchange.body_bytes += data.len() as u64;
        }
        Ok(())
    }

    /// Sends what is buffered now (for content produced slowly).
    pub async fn flush(&mut self) -> Result<(), WriteError> {
        if self.conn.flush().await { Ok(()) } else { Err(WriteError::Io) }
    }

    /// Ends the content. A body shorter than its announced length, or one
    /// that failed, ends the connection (the client sees it cut short).
    pub async fn finish(self) -> Sent {
        match self.framing {
            Framing::Chunked if !self.failed && self.conn.exchange.body_error.is_none() => {
                self.conn.out.extend_from_slice(LAST_CHUNK)
            }
            Framing::Length(remaining) if remaining > 0 => self.conn.exchange.keep = false,
            _ => {}
        }
        if self.failed || self.conn.exchange.body_error.is_some() {
            self.conn.exchange.keep = false;
        }
        self.conn.flush_unless_pipelined().await;
        Sent(())
    }
}
