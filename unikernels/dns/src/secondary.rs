//! The secondary: per zone, oasis-dns's refresh/retry/expire timers; an
//! SOA query to the primary when they say so (or a NOTIFY came), an AXFR
//! when the primary's serial is newer, the result stored on the block
//! device and served; a copy past its expiry is withdrawn.

use core::net::SocketAddr;

use oasis::Duration;
use oasis::alloc::format;
use oasis::alloc::rc::Rc;
use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::net::io::Write as _;
use oasis::net::{Stack, TcpStream, UdpSocket};
use oasis_dns::message::Message;
use oasis_dns::rdata::Soa;
use oasis_dns::secondary::{Secondary, Step};
use oasis_dns::transfer::{AxfrConsumer, Progress, build_request};
use oasis_dns::tsig::{self, StreamVerifier};
use oasis_dns::zone::Zone;
use oasis_dns::{Name, RData, Rcode};

use crate::config::Role;
use crate::server::{Server, push_frame, soa_query};

/// A secondary zone.
#[derive(Debug)]
pub struct ZoneState {
    /// oasis-dns's timers.
    pub timers: Secondary,
}

/// Most records a transfer may bring (a bound on memory).
const MAX_RECORDS: usize = 5_000_000;
/// Wait for one SOA answer, per try.
const SOA_WAIT: Duration = Duration::from_secs(2);
const SOA_TRIES: u32 = 3;
/// Wait for a TCP connection, and between messages of a transfer.
const TCP_WAIT: Duration = Duration::from_secs(30);

impl<N: Stack + 'static, D: BlockDevice + 'static> Server<N, D> {
    /// Keeps the secondary zones fresh, for ever.
    pub async fn run_secondary(self: Rc<Self>) {
        let Role::Secondary { primary, zones } = self.config.role.clone() else { return };
        loop {
            let now = self.now();
            let mut next = now + 3600;
            for origin in &zones {
                let (step, deadline, servable) = {
                    let mut states = self.secondary.borrow_mut();
                    let Some(state) = states.get_mut(origin) else { continue };
                    let (step, deadline) = state.timers.poll(now);
                    (step, deadline, state.timers.is_servable(now))
                };
                if !servable && self.responder.borrow().catalog().zone(origin).is_some() {
                    oasis::log::warn!("{origin}: expired (no answer from the primary {primary}); no longer served");
                    self.responder.borrow_mut().catalog_mut().remove(origin);
                }
                if step == Step::QuerySoa {
                    self.refresh(origin, primary).await;
                }
                next = next.min(deadline);
            }
            let now = self.now();
            if next > now {
                // Until the next timer, or until a NOTIFY wakes us.
                let _ = self.os.timeout(Duration::from_secs(next - now), self.secondary_wake.wait()).await;
            }
        }
    }

    /// One check of the primary: SOA, and a transfer when it is newer.
    async fn refresh(self: &Rc<Self>, origin: &Name, primary: SocketAddr) {
        let soa = match self.query_soa(origin, primary).await {
            Ok(soa) => soa,
            Err(e) => {
                oasis::log::warn!("{origin}: SOA query to {primary}: {e}");
                self.failed(origin);
                return;
            }
        };
        let now = self.now();
        let step = match self.secondary.borrow_mut().get_mut(origin) {
            Some(state) => state.timers.on_soa(&soa, now),
            None => return,
        };
        if step != Step::Transfer {
            oasis::log::debug!("{origin}: serial {} is current", soa.serial);
            let mut storage = self.storage.lock().await;
            if let Some(storage) = storage.as_mut()
                && let Err(e) = storage.confirm(origin, now).await
            {
                oasis::log::warn!("{origin}: recording the check: {e}");
            }
            return;
        }
        let zone = match self.axfr(origin, primary).await {
            Ok(zone) => zone,
            Err(e) => {
                oasis::log::warn!("{origin}: transfer from {primary}: {e}");
                self.failed(origin);
                return;
            }
        };
        let Some((soa, _)) = zone.soa() else { return };
        let soa = soa.clone();
        let records = zone.record_count();
        {
            let mut storage = self.storage.lock().await;
            if let Some(storage) = storage.as_mut()
                && let Err(e) = storage.save(&zone, self.now()).await
            {
                // Served all the same; a restart transfers again.
                oasis::log::error!("{origin}: storing the transferred zone: {e}");
            }
        }
        self.serve_zone(zone);
        if let Some(state) = self.secondary.borrow_mut().get_mut(origin) {
            state.timers.on_transfer(&soa, self.now());
        }
        oasis::log::info!("{origin}: transferred serial {} ({records} records) from {primary}", soa.serial);
        self.notify_secondaries(origin);
    }

    fn failed(&self, origin: &Name) {
        let now = self.now();
        if let Some(state) = self.secondary.borrow_mut().get_mut(origin) {
            state.timers.on_failure(now);
        }
    }

    /// The primary's SOA for `origin`, over UDP, a few tries.
    async fn query_soa(&self, origin: &Name, primary: SocketAddr) -> Result<Soa, String> {
        let socket = self.net.udp_bind(0).await.map_err(|e| format!("no socket: {e}"))?;
        let mut buf = oasis::alloc::vec![0u8; 4096];
        for _ in 0..SOA_TRIES {
            let id = self.random_id();
            let query = soa_query(id, origin);
            socket.send_to(&query, primary).await.map_err(|e| format!("{e}"))?;
            let deadline = self.os.now().saturating_add(SOA_WAIT);
            loop {
                let left = deadline.saturating_duration_since(self.os.now());
                if left.is_zero() {
                    break;
                }
                let Ok(Ok((n, from))) = self.os.timeout(left, socket.recv_from(&mut buf)).await else { break };
                if from.ip() != primary.ip() {
                    continue;
                }
                let Ok(m) = Message::parse(&buf[..n]) else { continue };
                if m.id != id || !m.flags.qr {
                    continue;
                }
                if m.rcode != Rcode::NOERROR {
                    return Err(format!("answered rcode {}", m.rcode.0));
                }
                return m
                    .answers
                    .into_iter()
                    .find_map(|r| match r.data {
                        RData::Soa(soa) if r.name == *origin => Some(soa),
                        _ => None,
                    })
                    .ok_or_else(|| String::from("no SOA in the answer"));
            }
        }
        Err(format!("no answer after {SOA_TRIES} tries"))
    }

    /// An AXFR of `origin` from `primary` over TCP, signed with our first
    /// key when we have keys (and then every message checked).
    async fn axfr(&self, origin: &Name, primary: SocketAddr) -> Result<Zone, String> {
        let mut conn = match self.os.timeout(TCP_WAIT, self.net.tcp_connect(primary)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("connecting: {e}")),
            Err(_) => return Err(String::from("connecting: timed out")),
        };
        let id = self.random_id();
        let mut request = build_request(id, origin, None);
        let mut verifier = self.config.keys.first().map(|key| {
            let mac = tsig::sign(&mut request, key, self.now(), None, 0);
            StreamVerifier::new(key.clone(), mac)
        });
        let mut framed = Vec::new();
        push_frame(&mut framed, &request);
        conn.write_all(&framed).await.map_err(|e| format!("sending the request: {e}"))?;
        let mut consumer = AxfrConsumer::new(id, origin.clone(), MAX_RECORDS, None);
        let mut msg = Vec::new();
        loop {
            let mut len = [0u8; 2];
            read_exact(self, &mut conn, &mut len).await?;
            msg.resize(usize::from(u16::from_be_bytes(len)), 0);
            read_exact(self, &mut conn, &mut msg).await?;
            if let Some(v) = verifier.as_mut() {
                v.verify(&msg, self.now()).map_err(|e| format!("{e}"))?;
            }
            // TSIG is carried opaquely to the consumer, which reads only
            // the answer section.
            match consumer.feed(&msg).map_err(|e| format!("{e}"))? {
                Progress::More => {}
                Progress::Done(zone) => {
                    if let Some(v) = &verifier {
                        v.finish().map_err(|e| format!("{e}"))?;
                    }
                    let _ = conn.shutdown().await;
                    return Ok(zone);
                }
                Progress::UpToDate => return Err(String::from("the primary answered an AXFR as up to date")),
            }
        }
    }
}

async fn read_exact<N: Stack + 'static, D: BlockDevice + 'static, S: TcpStream>(
    server: &Server<N, D>,
    conn: &mut S,
    buf: &mut [u8],
) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        match server.os.timeout(TCP_WAIT, conn.read(&mut buf[at..])).await {
            Ok(Ok(0)) => return Err(String::from("the primary closed the connection mid-transfer")),
            Ok(Ok(n)) => at += n,
            Ok(Err(e)) => return Err(format!("reading: {e}")),
            Err(_) => return Err(String::from("timed out mid-transfer")),
        }
    }
    Ok(())
}
