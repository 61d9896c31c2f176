//! HTTP requests are hostile: whatever bytes a client sends, in whatever
//! pieces, the server never panics, never hangs, answers only with
//! well-formed status lines, and after refusing a request reads nothing
//! more (so no request is smuggled behind a malformed one).
#![no_main]

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use libfuzzer_sys::fuzz_target;
use oasis_http::{Clock, Config, Exchange, Handler, Head, Request, Response, Sent, parse_head, serve_connection};

#[derive(Clone, Default)]
struct FakeClock(Rc<(Cell<u64>, Cell<Option<u64>>)>);

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.0.0.get()
    }
    fn wall_ns(&self) -> u64 {
        1_700_000_000_000_000_000 + self.0.0.get()
    }
    async fn sleep_until_ns(&self, deadline: u64) {
        poll_fn(|_| {
            if self.now_ns() >= deadline {
                return Poll::Ready(());
            }
            let next = self.0.1.get().map_or(deadline, |n| n.min(deadline));
            self.0.1.set(Some(next));
            Poll::Pending
        })
        .await
    }
}

/// Hands the input over in pieces whose sizes come from the input; a
/// zero-sized piece means "the client pauses a second".
struct Peer {
    clock: FakeClock,
    pieces: Vec<Vec<u8>>,
    output: Rc<RefCell<Vec<u8>>>,
}

impl ErrorType for Peer {
    type Error = ErrorKind;
}

impl Read for Peer {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        while self.pieces.first().is_some_and(Vec::is_empty) {
            self.pieces.remove(0);
            let until = self.clock.now_ns() + 1_000_000_000;
            self.clock.sleep_until_ns(until).await;
        }
        let Some(piece) = self.pieces.first_mut() else { return Ok(0) };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        piece.drain(..n);
        if piece.is_empty() {
            self.pieces.remove(0);
        }
        Ok(n)
    }
}

impl Write for Peer {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.output.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Reads bodies in odd sizes and streams them back; answers the rest.
struct Fuzzed;

impl Handler for Fuzzed {
    async fn handle<C: Read + Write, K: Clock>(&self, mut exchange: Exchange<'_, C, K>) -> Sent {
        let path = exchange.request().path().to_string();
        if path.starts_with("/s") {
            let mut buf = [0u8; 3];
            let n = exchange.read_body(&mut buf).await.unwrap_or(0);
            let mut w = exchange.start(Response::new(200), None).await;
            let _ = w.write(&buf[..n]).await;
            while let Ok(n @ 1..) = w.read_body(&mut buf).await {
                let _ = w.write(&buf[..n]).await;
            }
            return w.finish().await;
        }
        if path.starts_with("/r") {
            let _ = exchange.read_body_to_vec(4096).await;
        }
        exchange.respond(Response::new(200).header("X-Path", path.as_bytes()).body(b"ok")).await
    }
}

fn run<F: Future>(clock: &FakeClock, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        let next = clock.0.1.take().expect("the server waits on nothing");
        clock.0.0.set(clock.now_ns().max(next));
    }
    panic!("the server did not finish");
}

fuzz_target!(|data: &[u8]| {
    let config = Config { max_body: 4096, max_head: 2048, max_request_line: 512, max_headers: 16, ..Config::default() };
    let mut request = Request::default();
    if let Ok(Head::Complete(n)) = parse_head(data, &config, &mut request) {
        assert!(n <= data.len());
        let _ = (request.path(), request.query(), request.headers().count(), request.framing());
    }

    // The first byte sets how the rest is cut into pieces.
    let Some((&cut, rest)) = data.split_first() else { return };
    let step = usize::from(cut % 32) + 1;
    let mut pieces: Vec<Vec<u8>> = rest.chunks(step).map(<[u8]>::to_vec).collect();
    if cut & 0x80 != 0 && pieces.len() > 1 {
        pieces.insert(1, Vec::new());
    }
    let clock = FakeClock::default();
    let output = Rc::new(RefCell::new(Vec::new()));
    let peer = Peer { clock: clock.clone(), pieces, output: output.clone() };
    let mut peer = peer;
    run(&clock, serve_connection(&mut peer, clock.clone(), config, &Fuzzed, None));
    let output = output.borrow();
    if !output.is_empty() {
        assert!(output.starts_with(b"HTTP/1.1 "), "{:?}", String::from_utf8_lossy(&output));
    }
});
