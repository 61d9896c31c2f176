//! Telling secondaries that a zone changed (RFC 1996): a NOTIFY over UDP
//! to each, retried with growing waits until it is acknowledged or a
//! newer change takes over.

use core::net::SocketAddr;

use oasis::Duration;
use oasis::alloc::rc::Rc;
use oasis::block::BlockDevice;
use oasis::net::{Stack, UdpSocket};
use oasis_dns::Name;
use oasis_dns::notify::{build_notify, is_notify_ack};
use oasis_dns::tsig;

use crate::server::Server;

/// Sends before giving up (RFC 1996 §4.3 leaves it to us; BIND tries 5).
const TRIES: u32 = 5;
/// The first wait for an acknowledgement; it doubles with each try.
const FIRST_WAIT: Duration = Duration::from_secs(1);

impl<N: Stack + 'static, D: BlockDevice + 'static> Server<N, D> {
    /// NOTIFYs `origin` to every secondary, each in a task of its own.
    pub fn notify_secondaries(self: &Rc<Self>, origin: &Name) {
        if self.config.secondaries.is_empty() {
            return;
        }
        let generation = {
            let mut gens = self.notify_generation.borrow_mut();
            let g = gens.entry(origin.clone()).or_insert(0);
            *g += 1;
            *g
        };
        for &to in &self.config.secondaries {
            let server = self.clone();
            let origin = origin.clone();
            self.os.spawn(async move { server.notify_one(origin, to, generation).await });
        }
    }

    fn current_generation(&self, origin: &Name) -> u64 {
        self.notify_generation.borrow().get(origin).copied().unwrap_or(0)
    }

    async fn notify_one(self: Rc<Self>, origin: Name, to: SocketAddr, generation: u64) {
        let socket = match self.net.udp_bind(0).await {
            Ok(s) => s,
            Err(e) => {
                oasis::log::warn!("NOTIFY {origin} to {to}: no socket: {e}");
                return;
            }
        };
        let mut buf = oasis::alloc::vec![0u8; 4096];
        let mut wait = FIRST_WAIT;
        for attempt in 1..=TRIES {
            if self.current_generation(&origin) != generation {
                return;
            }
            // The SOA as it is now: the hint secondaries may use.
            let Some(mut msg) = ({
                let responder = self.responder.borrow();
                let id = self.random_id();
                responder
                    .catalog()
                    .zone(&origin)
                    .and_then(|z| z.soa())
                    .map(|(soa, ttl)| (id, build_notify(id, &origin, Some((soa, ttl)))))
            }) else {
                return;
            };
            if let Some(key) = self.config.keys.first() {
                tsig::sign(&mut msg.1, key, self.now(), None, 0);
            }
            if let Err(e) = socket.send_to(&msg.1, to).await {
                oasis::log::warn!("NOTIFY {origin} to {to}: {e}");
            }
            let deadline = self.os.now().saturating_add(wait);
            loop {
                let left = deadline.saturating_duration_since(self.os.now());
                if left.is_zero() {
                    break;
                }
                match self.os.timeout(left, socket.recv_from(&mut buf)).await {
                    Ok(Ok((n, from))) if from.ip() == to.ip() && is_notify_ack(&buf[..n], msg.0, &origin) => {
                        oasis::log::info!("NOTIFY {origin} to {to}: acknowledged (try {attempt})");
                        return;
                    }
                    Ok(Ok(_)) => continue,
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            wait = wait.saturating_mul(2);
        }
        oasis::log::warn!("NOTIFY {origin} to {to}: no acknowledgement after {TRIES} tries");
    }
}
