//! The accept loop: a task per connection on the Oasis runtime, at most
//! `max_connections` at once, each closed gracefully.

use alloc::rc::Rc;
use core::cell::Cell;
use core::time::Duration;

use oasis_net::{TcpListener, TcpStream};
use oasis_runtime::Os;

use crate::clock::with_deadline;
use crate::config::Config;
use crate::conn::nanos;
use crate::server::{Handler, serve_connection};

/// After the last response, how long the rest of the client's input is
/// read and dropped before the socket is closed (so that closing with
/// unread input does not reset the connection before the client has read
/// the response), and how much of it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// Counts a connection while it lives.
struct Slot(Rc<Cell<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// Accepts connections on `listener` forever, serving each with
/// `handler` in a task of its own. A connection beyond
/// `config.max_connections` is closed at once, unread.
pub async fn serve<L, H>(os: Os, listener: L, handler: Rc<H>, config: Config) -> !
where
    L: TcpListener,
    L::Stream: 'static,
    H: Handler + 'static,
{
    let active = Rc::new(Cell::new(0usize));
    let mut refused: u64 = 0;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("http: accept: {e}");
                // An error that repeats (out of descriptors) must not spin.
                os.sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if active.get() >= config.max_connections {
            refused += 1;
            if refused.is_power_of_two() {
                log::warn!("http: {} connections open, the limit: refused {refused} so far", active.get());
            }
            drop(stream);
            continue;
        }
        active.set(active.get() + 1);
        let slot = Slot(active.clone());
        let (os_task, handler, config) = (os.clone(), handler.clone(), config.clone());
        os.spawn(async move {
            let _slot = slot;
            let mut stream = stream;
            serve_connection(&mut stream, os_task.clone(), config, &*handler, Some(peer)).await;
            close_gracefully(&os_task, stream).await;
        });
    }
}

/// Sends FIN, then drops what the peer still sends for a while.
async fn close_gracefully<S: TcpStream>(os: &Os, mut stream: S) {
    let _ = stream.shutdown().await;
    let deadline = os.now().as_nanos().saturating_add(nanos(LINGER));
    let mut buf = [0u8; 2048];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        match with_deadline(os, deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => dropped += n,
            _ => break,
        }
    }
}
