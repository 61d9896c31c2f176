//! One relayed TCP connection: the client's socket on 127.0.0.1 and the
//! guest's in the run's namespace, with a flow each way that splices
//! through a pipe (the bytes never enter this process).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use oasis_sys::Pipe;

/// Pipes not in use, kept for the next flow that has data: a pipe is two
/// descriptors, so idle connections hold none.
#[derive(Debug, Default)]
pub struct PipePool {
    idle: Vec<Pipe>,
}

/// How many idle pipes are kept.
pub const POOL: usize = 64;
/// A pipe's capacity (the kernel's default): the most a flow holds.
pub const PIPE_BYTES: usize = 64 * 1024;

impl PipePool {
    fn take(&mut self) -> io::Result<Pipe> {
        match self.idle.pop() {
            Some(p) => Ok(p),
            None => Pipe::new(),
        }
    }

    fn give(&mut self, pipe: Pipe) {
        if self.idle.len() < POOL {
            self.idle.push(pipe);
        }
    }
}

/// One direction of a connection.
///
/// Bytes are first read into the proxy's shared buffer and written on at
/// once: for the small messages of request and reply traffic, two system
/// calls, and a read shorter than the buffer proves the socket drained
/// (edge-triggered, the next data brings a new event). A read that fills
/// the buffer is a bulk transfer, whose rest goes by `splice` through a
/// pipe without entering this process. Whatever the destination cannot
/// take yet is held (at most one buffer's worth, or a pipe's) and nothing
/// more is read until it is out, so a slow reader slows its writer down.
#[derive(Debug, Default)]
pub struct Flow {
    /// Bytes read and not yet written (copied).
    held: Vec<u8>,
    /// Bytes read and not yet written (spliced); `None` while empty.
    pipe: Option<Pipe>,
    /// Bytes in the pipe.
    queued: usize,
    /// The source's peer has closed its side: its end of input waits to
    /// be read after the data, so a short read no longer proves the source
    /// drained (the event that said so has been taken).
    pub source_closed: bool,
    /// The source has ended.
    eof: bool,
    /// The end was passed on (the destination's write side shut).
    shut: bool,
}

/// What a pump found.
enum Step {
    /// Go on reading.
    More,
    /// Wait for an event.
    Wait,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Flow {
    /// Whether this direction is over: its end read and passed on.
    pub fn done(&self) -> bool {
        self.shut
    }

    /// Writes what is held; `Wait` while some remains.
    fn flush(&mut self, mut to: &TcpStream, pool: &mut PipePool) -> io::Result<Step> {
        while !self.held.is_empty() {
            match to.write(&self.held) {
                Ok(n) => {
                    self.held.drain(..n);
                }
                Err(e) if would_block(&e) => return Ok(Step::Wait),
                Err(e) => return Err(e),
            }
        }
        // Not shrunk: a flow that held once is a slow one, likely again.
        while self.queued > 0 {
            let Some(pipe) = &self.pipe else { break };
            match pipe.drain_to(to, self.queued) {
                Ok(n) => self.queued -= n,
                Err(e) if would_block(&e) => return Ok(Step::Wait),
                Err(e) => return Err(e),
            }
        }
        if let Some(pipe) = self.pipe.take() {
            pool.give(pipe);
        }
        Ok(Step::More)
    }

    /// Moves what it can from `from` to `to` until it must wait for
    /// either, then passes an end of input on as a half-close. `scratch`
    /// is the proxy's shared buffer. An error means the connection is
    /// broken.
    pub fn pump(
        &mut self,
        mut from: &TcpStream,
        mut to: &TcpStream,
        pool: &mut PipePool,
        scratch: &mut [u8],
    ) -> io::Result<()> {
        if let Step::Wait = self.flush(to, pool)? {
            return Ok(());
        }
        while !self.eof {
            let n = match from.read(scratch) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let written = match to.write(&scratch[..n]) {
                Ok(m) => m,
                Err(e) if would_block(&e) => 0,
                Err(e) => return Err(e),
            };
            if written < n {
                self.held.extend_from_slice(&scratch[written..n]);
                return Ok(());
            }
            if n < scratch.len() && !self.source_closed {
                // Drained: the next bytes (or the end) bring the next event.
                return Ok(());
            }
            if let Step::Wait = self.splice(from, to, pool)? {
                return Ok(());
            }
            // Without a pipe (out of descriptors) the bulk is copied.
        }
        if !self.shut {
            self.shut = true;
            to.shutdown(Shutdown::Write)?;
        }
        Ok(())
    }

    /// The rest of a bulk transfer, through a pipe: until the source is
    /// drained (`More`, to read on and see its end) or the destination is
    /// full (`Wait`).
    fn splice(&mut self, from: &TcpStream, to: &TcpStream, pool: &mut PipePool) -> io::Result<Step> {
        let pipe = match &mut self.pipe {
            Some(p) => p,
            None => match pool.take() {
                Ok(p) => self.pipe.insert(p),
                // The caller copies instead.
                Err(_) => return Ok(Step::More),
            },
        };
        loop {
            match pipe.fill_from(from, PIPE_BYTES - self.queued) {
                // The end: seen by the caller's next read.
                Ok(0) => break,
                Ok(n) => self.queued += n,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
            while self.queued > 0 {
                match pipe.drain_to(to, self.queued) {
                    Ok(n) => self.queued -= n,
                    Err(e) if would_block(&e) => return Ok(Step::Wait),
                    Err(e) => return Err(e),
                }
            }
        }
        if self.queued == 0
            && let Some(pipe) = self.pipe.take()
        {
            pool.give(pipe);
        }
        Ok(Step::More)
    }
}

/// A relayed connection.
#[derive(Debug)]
pub struct Relay {
    pub client: TcpStream,
    pub guest: TcpStream,
    /// The connection to the guest is made (until then nothing flows).
    pub connected: bool,
    /// Client to guest.
    pub up: Flow,
    /// Guest to client.
    pub down: Flow,
    /// Told apart from a later relay in the same slot (timers hold it).
    pub serial: u64,
}

impl Relay {
    /// Moves what can move in the directions named; `Ok(true)` when the
    /// connection is over (both directions ended).
    pub fn pump(&mut self, up: bool, down: bool, pool: &mut PipePool, scratch: &mut [u8]) -> io::Result<bool> {
        if !self.connected {
            return Ok(false);
        }
        if up {
            self.up.pump(&self.client, &self.guest, pool, scratch)?;
        }
        if down {
            self.down.pump(&self.guest, &self.client, pool, scratch)?;
        }
        Ok(self.up.done() && self.down.done())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    /// Pumps until `done` or a bounded number of rounds.
    fn pump_until(
        flow: &mut Flow,
        from: &TcpStream,
        to: &TcpStream,
        pool: &mut PipePool,
        done: impl Fn(&Flow) -> bool,
    ) {
        let mut scratch = vec![0u8; 65536];
        for _ in 0..20_000 {
            flow.pump(from, to, pool, &mut scratch).unwrap();
            if done(flow) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the flow did not finish");
    }

    #[test]
    fn a_flow_carries_bytes_then_the_half_close() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut client, from) = pair(&l);
        let (to, mut server) = pair(&l);
        from.set_nonblocking(true).unwrap();
        to.set_nonblocking(true).unwrap();
        let mut pool = PipePool::default();
        let mut flow = Flow::default();
        let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let sent = payload.clone();
        let writer = std::thread::spawn(move || {
            client.write_all(&sent).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            client
        });
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            got
        });
        pump_until(&mut flow, &from, &to, &mut pool, Flow::done);
        assert_eq!(reader.join().unwrap(), payload);
        drop(writer.join().unwrap());
        // The bulk went by splice, and the pipe back to the pool once empty.
        assert!(flow.pipe.is_none() && pool.idle.len() == 1);
        assert!(flow.held.is_empty());
    }
}
