//! One relayed TCP connection: the client's socket on 127.0.0.1 and the
//! guest's in the run's namespace, with a flow each way that splices
//! through a pipe (the bytes never enter this process).

use std::io;
use std::net::{Shutdown, TcpStream};

use oasis_sys::Pipe;

/// Pipes not in use, kept for the next flow that has data: a pipe is two
/// descriptors, so idle connections hold none.
#[derive(Debug, Default)]
pub struct PipePool {
    idle: Vec<Pipe>,
}

/// How many idle pipes are kept.
const POOL: usize = 256;
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
#[derive(Debug, Default)]
pub struct Flow {
    /// Holds the bytes read and not yet written; `None` while empty.
    pipe: Option<Pipe>,
    /// Bytes in the pipe.
    queued: usize,
    /// The source has ended.
    eof: bool,
    /// The end was passed on (the destination's write side shut).
    shut: bool,
}

impl Flow {
    /// Whether this direction is over: its end read and passed on.
    pub fn done(&self) -> bool {
        self.shut
    }

    /// Moves what it can from `from` to `to` until neither can go on
    /// without waiting, then passes an end of input on as a half-close.
    /// An error means the connection is broken.
    pub fn pump(&mut self, from: &TcpStream, to: &TcpStream, pool: &mut PipePool) -> io::Result<()> {
        loop {
            let mut progress = false;
            if let Some(pipe) = &self.pipe
                && self.queued > 0
            {
                match pipe.drain_to(to, self.queued) {
                    Ok(n) => {
                        self.queued -= n;
                        progress = n > 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if !self.eof && self.queued < PIPE_BYTES {
                let pipe = match &mut self.pipe {
                    Some(p) => p,
                    None => self.pipe.insert(pool.take()?),
                };
                match pipe.fill_from(from, PIPE_BYTES - self.queued) {
                    Ok(0) => {
                        self.eof = true;
                        progress = true;
                    }
                    Ok(n) => {
                        self.queued += n;
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if !progress {
                break;
            }
        }
        if self.queued == 0
            && let Some(pipe) = self.pipe.take()
        {
            pool.give(pipe);
        }
        if self.eof && self.queued == 0 && !self.shut {
            self.shut = true;
            to.shutdown(Shutdown::Write)?;
        }
        Ok(())
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
    /// Moves what can move both ways; `Ok(true)` when the connection is
    /// over (both directions ended).
    pub fn pump(&mut self, pool: &mut PipePool) -> io::Result<bool> {
        if !self.connected {
            return Ok(false);
        }
        self.up.pump(&self.client, &self.guest, pool)?;
        self.down.pump(&self.guest, &self.client, pool)?;
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
        for _ in 0..2000 {
            flow.pump(from, to, pool).unwrap();
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
        // The pipe went back to the pool once empty.
        assert!(flow.pipe.is_none() && pool.idle.len() == 1);
    }
}
