//! The sans-I/O core of one connection: bytes in, requests and body data
//! out, time passed in. It owns the input buffer and decides, from the
//! time it is told, when a request head or the next request is overdue.
//! It never reads a clock and never blocks; the async loop in
//! `server.rs` does the I/O around it.

use alloc::vec;
use alloc::vec::Vec;

use crate::body::BodyDecoder;
use crate::config::Config;
use crate::error::RequestError;
use crate::parse::{Head, parse_head};
use crate::request::{Framing, Request};

/// What the connection needs next, between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A request head was parsed: see [`Connection::request`]; its body
    /// is read through [`Connection::poll_body`].
    Request,
    /// More input is needed by `deadline` (monotonic nanoseconds); past
    /// it, ask again and the connection gives up.
    NeedInput {
        /// When to give up waiting.
        deadline: u64,
    },
    /// The request is refused: answer with the error's status, then close.
    Reject(RequestError),
    /// Close the connection (the peer is done, or was idle too long).
    Close,
}

/// What the connection has of the current request's body.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyNext<'a> {
    /// Some body data.
    Data(&'a [u8]),
    /// More input is needed by `deadline`.
    NeedInput {
        /// When to give up waiting.
        deadline: u64,
    },
    /// The body is complete.
    End,
    /// The body is malformed, too large, late or cut short: answer with
    /// the error's status (if nothing was sent yet), then close.
    Reject(RequestError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for, or reading, a request head.
    Head,
    /// A request is being served; its body is read on demand.
    Body,
    /// Discarding the unread rest of the last body, at most `budget` more.
    Draining { budget: u64 },
    /// Nothing more is read: after an error the rest of the input cannot
    /// be trusted to start a request.
    Closed,
}

/// The input buffer's size between requests (most request heads fit).
pub const INPUT_START: usize = 2048;

/// One connection's protocol state.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    state: State,
    request: Request,
    body: BodyDecoder,
    /// When the connection last became idle (accepted, or a response done).
    idle_since: u64,
    /// When the first byte of the current head arrived.
    head_since: Option<u64>,
    /// When the body last made progress.
    body_since: u64,
}

impl Connection {
    /// A connection accepted at `now` (monotonic nanoseconds).
    pub fn new(config: Config, now: u64) -> Connection {
        Connection {
            config,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            state: State::Head,
            request: Request::default(),
            body: BodyDecoder::Length(0),
            idle_since: now,
            head_since: None,
            body_since: now,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current request (valid after [`Next::Request`]).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Whether input is buffered that has not been used yet (pipelined
    /// requests): the caller can hold its output until it needs input.
    pub fn has_buffered_input(&self) -> bool {
        self.start < self.end
    }

    /// Free space to read into; report what was read with [`received`].
    ///
    /// [`received`]: Connection::received
    ///
    /// The buffer starts small and doubles, up to the largest head allowed
    /// plus room for a body's chunk, only while a request needs it; once
    /// all input is used it shrinks back. So an idle connection holds
    /// 2 KiB (`INPUT_START`), not the most a request may take: ten thousand
    /// keep-alive connections fit in a small unikernel. Empty only when
    /// the buffer is at its largest and full.
    pub fn input_space(&mut self) -> &mut [u8] {
        let most = self.config.max_head.max(self.config.max_request_line) + 4096;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() != INPUT_START.min(most) {
                self.buf = vec![0; INPUT_START.min(most)];
            }
        } else if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() && self.buf.len() < most {
            let grown = (self.buf.len() * 2).clamp(INPUT_START, most);
            self.buf.resize(grown, 0);
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`Connection::input_space`] at `now`; 0
    /// means the peer closed its side.
    pub fn received(&mut self, n: usize, now: u64) {
        if n == 0 {
            self.eof = true;
            return;
        }
        self.end = (self.end + n).min(self.buf.len());
        match self.state {
            State::Head if self.head_since.is_none() => self.head_since = Some(now),
            State::Body | State::Draining { .. } => self.body_since = now,
            _ => {}
        }
    }

    /// The next step between requests, at `now`.
    pub fn poll_request(&mut self, now: u64) -> Next {
        loop {
            match self.state {
                State::Closed => return Next::Close,
                State::Body => {
                    // The caller finished without `finish_exchange`: treat
                    // the exchange as failed.
                    self.state = State::Closed;
                    return Next::Close;
                }
                State::Draining { budget } => match self.drain(budget, now) {
                    Some(next) => return next,
                    None => continue,
                },
                State::Head => return self.poll_head(now),
            }
        }
    }

    fn poll_head(&mut self, now: u64) -> Next {
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        while self.start < self.end && matches!(self.buf[self.start], b'\r' | b'\n') {
            self.start += 1;
        }
        if self.start == self.end {
            self.head_since = None;
            if self.eof {
                self.state = State::Closed;
                return Next::Close;
            }
            let deadline = self.idle_since.saturating_add(nanos(self.config.idle_timeout));
            if now >= deadline {
                self.state = State::Closed;
                return Next::Close;
            }
            return Next::NeedInput { deadline };
        }
        match parse_head(&self.buf[self.start..self.end], &self.config, &mut self.request) {
            Ok(Head::Partial) => {
                let since = *self.head_since.get_or_insert(now);
                let deadline = since.saturating_add(nanos(self.config.header_timeout));
                if self.eof {
                    self.state = State::Closed;
                    Next::Close
                } else if now >= deadline {
                    self.reject(RequestError::HeaderTimeout)
                } else {
                    Next::NeedInput { deadline }
                }
            }
            Ok(Head::Complete(len)) => {
                self.start += len;
                self.head_since = None;
                if let Framing::Length(n) = self.request.framing
                    && n > self.config.max_body
                {
                    return self.reject(RequestError::BodyTooLarge);
                }
                self.body = BodyDecoder::new(self.request.framing);
                self.body_since = now;
                self.state = State::Body;
                Next::Request
            }
            Err(e) => self.reject(e),
        }
    }

    fn reject(&mut self, e: RequestError) -> Next {
        self.state = State::Closed;
        Next::Reject(e)
    }

    /// Discards body bytes; `None` when the body is done (go on to the
    /// next head).
    fn drain(&mut self, mut budget: u64, now: u64) -> Option<Next> {
        loop {
            if self.body.is_done() {
                self.state = State::Head;
                self.idle_since = now;
                return None;
            }
            if self.start == self.end {
                self.state = State::Draining { budget };
                if self.eof {
                    self.state = State::Closed;
                    return Some(Next::Close);
                }
                let deadline = self.body_since.saturating_add(nanos(self.config.idle_timeout));
                if now >= deadline {
                    self.state = State::Closed;
                    return Some(Next::Close);
                }
                return Some(Next::NeedInput { deadline });
            }
            match self.body.decode(&self.buf[self.start..self.end], usize::MAX, u64::MAX) {
                Ok(step) => {
                    self.start += step.consumed;
                    budget = match budget.checked_sub(step.consumed as u64) {
                        Some(left) => left,
                        None => {
                            self.state = State::Closed;
                            return Some(Next::Close);
                        }
                    };
                }
                Err(_) => {
                    self.state = State::Closed;
                    return Some(Next::Close);
                }
            }
        }
    }

    /// The next piece (at most `max` bytes) of the current request's
    /// body, at `now`.
    pub fn poll_body(&mut self, now: u64, max: usize) -> BodyNext<'_> {
        if self.state != State::Body {
            return BodyNext::End;
        }
        if max == 0 {
            return BodyNext::Data(&[]);
        }
        loop {
            if self.body.is_done() {
                return BodyNext::End;
            }
            if self.start == self.end {
                if self.eof {
                    self.state = State::Closed;
                    return BodyNext::Reject(RequestError::Malformed("connection closed inside the body"));
                }
                let deadline = self.body_since.saturating_add(nanos(self.config.idle_timeout));
                if now >= deadline {
                    self.state = State::Closed;
                    return BodyNext::Reject(RequestError::Malformed("the body did not arrive in time"));
                }
                return BodyNext::NeedInput { deadline };
            }
            match self.body.decode(&self.buf[self.start..self.end], max, self.config.max_body) {
                Ok(step) => {
                    let data = self.start + step.data.start..self.start + step.data.end;
                    self.start += step.consumed;
                    if !data.is_empty() {
                        return BodyNext::Data(&self.buf[data]);
                    }
                }
                Err(e) => {
                    self.state = State::Closed;
                    return BodyNext::Reject(e);
                }
            }
        }
    }

    /// Whether the connection could carry another request once this
    /// exchange is answered: the client wants it, nothing went wrong, and
    /// what is left of the body is done or small enough to discard.
    /// `body_may_follow` is false when a client waiting for `100 Continue`
    /// never got it (whether its body comes is then unknown).
    pub fn can_continue(&self, body_may_follow: bool) -> bool {
        if self.state != State::Body || !self.request.keep_alive {
            return false;
        }
        if self.body.is_done() {
            return true;
        }
        body_may_follow && self.body.remaining().is_none_or(|left| left <= self.config.max_drain)
    }

    /// The response to the current request has been sent at `now`; `keep`
    /// says whether the connection stays open (it must have been promised
    /// in the response).
    pub fn finish_exchange(&mut self, keep: bool, now: u64) {
        if !keep || self.state != State::Body {
            self.state = State::Closed;
            return;
        }
        self.body_since = now;
        self.idle_since = now;
        self.state = if self.body.is_done() { State::Head } else { State::Draining { budget: self.config.max_drain } };
    }

    /// Stops reading for good (after a failed write, or when told to).
    pub fn close(&mut self) {
        self.state = State::Closed;
    }
}

pub(crate) fn nanos(d: core::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
