//! A simulated connection: a scripted peer, a fake clock that jumps to
//! the next deadline whenever everything waits, and a one-future
//! executor. Deterministic, and timeouts take no real time.

#![allow(dead_code, clippy::unwrap_used)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use oasis_http::{Clock, Config, ConnectionSummary, Exchange, Handler, Response, Sent, serve_connection};

/// Unix time the fake wall clock starts at: Sun, 06 Nov 1994 08:49:37 GMT.
pub const WALL_START_SECS: u64 = 784_111_777;
pub const SECOND: u64 = 1_000_000_000;

#[derive(Default)]
struct ClockInner {
    now: Cell<u64>,
    next: Cell<Option<u64>>,
}

/// Monotonic time from 0; wall time from [`WALL_START_SECS`].
#[derive(Clone, Default)]
pub struct FakeClock(Rc<ClockInner>);

impl FakeClock {
    fn wake_at(&self, t: u64) {
        let next = self.0.next.get().map_or(t, |n: u64| n.min(t));
        self.0.next.set(Some(next));
    }

    pub fn now(&self) -> u64 {
        self.0.now.get()
    }
}

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.0.now.get()
    }

    fn wall_ns(&self) -> u64 {
        WALL_START_SECS * SECOND + self.0.now.get()
    }

    async fn sleep_until_ns(&self, deadline: u64) {
        poll_fn(|_| {
            if self.now_ns() >= deadline {
                Poll::Ready(())
            } else {
                self.wake_at(deadline);
                Poll::Pending
            }
        })
        .await
    }
}

/// Runs `future`, moving the clock to the next deadline when it waits.
pub fn run<F: Future>(clock: &FakeClock, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        let next = clock.0.next.take().expect("the connection waits for nothing: it would hang");
        clock.0.now.set(clock.now().max(next));
    }
    panic!("the connection did not finish");
}

/// What the peer does.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends bytes.
    Send(Vec<u8>),
    /// Sends nothing until this time (monotonic ns).
    Until(u64),
    /// Sends nothing more, and never closes.
    Hang,
}

/// A scripted peer; what the server writes is kept, with the time.
pub struct FakeIo {
    clock: FakeClock,
    script: VecDeque<Step>,
    pub output: Rc<RefCell<Vec<u8>>>,
    /// How much the server had written when each read started.
    pub reads: Rc<RefCell<Vec<usize>>>,
}

impl FakeIo {
    pub fn new(clock: &FakeClock, script: Vec<Step>) -> FakeIo {
        FakeIo { clock: clock.clone(), script: script.into(), output: Rc::default(), reads: Rc::default() }
    }
}

impl ErrorType for FakeIo {
    type Error = ErrorKind;
}

impl Read for FakeIo {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.reads.borrow_mut().push(self.output.borrow().len());
        poll_fn(|_| {
            loop {
                match self.script.front_mut() {
                    None => return Poll::Ready(Ok(0)),
                    Some(Step::Hang) => return Poll::Pending,
                    Some(Step::Until(t)) => {
                        if self.clock.now() >= *t {
                            self.script.pop_front();
                        } else {
                            self.clock.wake_at(*t);
                            return Poll::Pending;
                        }
                    }
                    Some(Step::Send(bytes)) => {
                        let n = bytes.len().min(buf.len());
                        buf[..n].copy_from_slice(&bytes[..n]);
                        bytes.drain(..n);
                        if bytes.is_empty() {
                            self.script.pop_front();
                        }
                        if n > 0 {
                            return Poll::Ready(Ok(n));
                        }
                    }
                }
            }
        })
        .await
    }
}

impl Write for FakeIo {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.output.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A handler for protocol tests:
/// - `/echo`: streams the request body back (chunked, or close-delimited
///   for HTTP/1.0), as it arrives;
/// - `/len`: reads the body, answers its length;
/// - `/big`: 100,000 bytes of `x`;
/// - anything else: `METHOD PATH` as text.
pub struct TestHandler;

impl Handler for TestHandler {
    async fn handle<C: Read + Write, K: Clock>(&self, mut exchange: Exchange<'_, C, K>) -> Sent {
        match exchange.request().path() {
            "/echo" => {
                let mut buf = [0u8; 7];
                // The first read tells a client waiting on 100-continue to go on.
                let mut n = match exchange.read_body(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => return exchange.respond(Response::plain(e.status())).await,
                };
                let mut writer =
                    exchange.start(Response::new(200).header("Content-Type", "application/octet-stream"), None).await;
                while n > 0 {
                    if writer.write(&buf[..n]).await.is_err() {
                        break;
                    }
                    n = match writer.read_body(&mut buf).await {
                        Ok(n) => n,
                        Err(_) => break,
                    };
                }
                writer.finish().await
            }
            "/len" => match exchange.read_body_to_vec(1 << 20).await {
                Ok(body) => {
                    let text = format!("{}", body.len());
                    exchange.respond(Response::new(200).owned_body(text.into_bytes())).await
                }
                Err(e) => exchange.respond(Response::plain(e.status())).await,
            },
            "/big" => exchange.respond(Response::new(200).owned_body(vec![b'x'; 100_000])).await,
            _ => {
                let text = format!("{} {}", exchange.request().method_token(), exchange.request().path());
                exchange
                    .respond(Response::new(200).header("Content-Type", "text/plain").owned_body(text.into_bytes()))
                    .await
            }
        }
    }
}

/// Serves `script` with `handler` and `config`; returns what was written.
pub fn serve_script<H: Handler>(
    handler: &H,
    config: Config,
    script: Vec<Step>,
) -> (String, ConnectionSummary, FakeClock) {
    let clock = FakeClock::default();
    let mut io = FakeIo::new(&clock, script);
    let output = io.output.clone();
    let summary = run(&clock, serve_connection(&mut io, clock.clone(), config, handler, None));
    let text = String::from_utf8_lossy(&output.borrow()).into_owned();
    (text, summary, clock)
}

/// Serves `bytes` sent at once, then the peer closes.
pub fn serve_bytes(bytes: &[u8]) -> String {
    serve_script(&TestHandler, Config::default(), vec![Step::Send(bytes.to_vec())]).0
}

/// The responses in `output`, split at each status line: (status, head, body).
pub fn responses(output: &str) -> Vec<(u16, String, String)> {
    responses_head_only(output, &[])
}

/// [`responses`], where the responses at `head_only` (answers to HEAD)
/// have no content whatever their length says.
pub fn responses_head_only(output: &str, head_only: &[usize]) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    let mut rest = output;
    while let Some(start) = rest.find("HTTP/1.1 ") {
        rest = &rest[start..];
        let head_end = rest.find("\r\n\r\n").map_or(rest.len(), |i| i + 4);
        let head = rest[..head_end].to_string();
        let status = head[9..12].parse().unwrap_or(0);
        rest = &rest[head_end..];
        let body_len = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok());
        let body = match body_len {
            _ if head_only.contains(&out.len()) => String::new(),
            Some(n) if status != 304 && status != 100 && status != 204 => {
                let b = rest[..n.min(rest.len())].to_string();
                rest = &rest[n.min(rest.len())..];
                b
            }
            _ => {
                let end = rest.find("HTTP/1.1 ").unwrap_or(rest.len());
                let b = rest[..end].to_string();
                rest = &rest[end..];
                b
            }
        };
        out.push((status, head, body));
    }
    out
}

/// A header's value in a head (case-insensitive name).
pub fn header(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}
