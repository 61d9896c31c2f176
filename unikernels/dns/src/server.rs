//! The server's shared state and what it does with one message, whatever
//! carried it: plain queries go to oasis-dns's `Responder` (its fast
//! path); transfers, NOTIFY, updates and signed messages get the access
//! checks and TSIG handling here.

use core::cell::{Cell, RefCell};
use core::net::SocketAddr;

use oasis::Os;
use oasis::alloc::collections::BTreeMap;
use oasis::alloc::rc::Rc;
use oasis::alloc::vec::Vec;
use oasis::block::BlockDevice;
use oasis::net::Stack;
use oasis::sync::Mutex;
use oasis_dns::message::{Flags, Message};
use oasis_dns::notify::{build_notify_response, parse_notify};
use oasis_dns::record::{Question, Record};
use oasis_dns::responder::error_reply;
use oasis_dns::transfer::{TransferRequest, parse_request};
use oasis_dns::tsig::{self, Key, StreamSigner, TsigError};
use oasis_dns::update::{build_response, parse_update};
use oasis_dns::zone::Zone;
use oasis_dns::{Action, Class, Name, Opcode, Pass, RData, RType, Rcode, Responder, Transport};

use crate::config::{Config, Role};
use crate::secondary::ZoneState;
use crate::signal::Signal;
use crate::storage::Storage;

/// What to do after a message was handled.
pub enum Handled {
    /// Send `out`.
    Reply,
    /// Send nothing; over TCP, close the connection.
    Drop,
    /// Over TCP: stream this zone to the peer.
    Transfer(Outgoing),
}

/// An AXFR to send.
pub struct Outgoing {
    /// The zone as it was when the request came (a copy: updates may
    /// land while it streams).
    pub zone: Zone,
    /// What was asked.
    pub request: TransferRequest,
    /// Signs each message when the request was signed.
    pub signer: Option<StreamSigner>,
}

/// The server.
pub struct Server<N: Stack, D: BlockDevice> {
    pub os: Os,
    pub net: N,
    pub config: Config,
    pub responder: RefCell<Responder>,
    /// The zone store; its lock also puts changes to zones (updates,
    /// transfers in) one after another.
    pub storage: Mutex<Option<Storage<D>>>,
    /// A secondary's zones and their timers.
    pub secondary: RefCell<BTreeMap<Name, ZoneState>>,
    /// Wakes the secondary's task (a NOTIFY came).
    pub secondary_wake: Signal,
    /// Per zone, bumped on every change: a NOTIFY sender gives up once a
    /// newer change has its own senders.
    pub notify_generation: RefCell<BTreeMap<Name, u64>>,
    /// Open TCP connections.
    pub tcp_open: Cell<usize>,
    /// The wall clock at monotonic time zero, so reading the time costs
    /// no hypercall (a VM exit on hvt).
    pub wall_origin_ns: u64,
}

impl<N: Stack + 'static, D: BlockDevice + 'static> Server<N, D> {
    /// Wall-clock seconds (Unix time), for TSIG and the secondary's
    /// timers; never goes back while the server runs.
    pub fn now(&self) -> u64 {
        self.wall_origin_ns.saturating_add(self.os.now().as_nanos()) / 1_000_000_000
    }

    /// A random 16-bit message ID.
    pub fn random_id(&self) -> u16 {
        self.os.random_u64() as u16
    }

    /// Handles one message that arrived over `transport` from `peer`;
    /// the response, if any, is left in `out`.
    pub async fn handle(
        self: &Rc<Self>,
        msg: &[u8],
        transport: Transport,
        peer: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Handled {
        let action = self.responder.borrow_mut().respond(msg, transport, out);
        match action {
            Action::Reply => Handled::Reply,
            Action::Drop => Handled::Drop,
            Action::Pass(pass) => self.pass(pass, msg, transport, peer, out).await,
        }
    }

    async fn pass(
        self: &Rc<Self>,
        pass: Pass,
        msg: &[u8],
        transport: Transport,
        peer: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Handled {
        match pass {
            Pass::Signed => self.signed_query(msg, transport, peer, out),
            Pass::Transfer => self.transfer(msg, transport, peer, None, out),
            Pass::Notify => self.incoming_notify(msg, peer, out),
            Pass::Update => self.update(msg, peer, out).await,
        }
    }

    /// A query carrying TSIG: verified, answered as if unsigned, and the
    /// answer signed.
    fn signed_query(&self, msg: &[u8], transport: Transport, peer: SocketAddr, out: &mut Vec<u8>) -> Handled {
        let now = self.now();
        let (key, mac) = match self.verify(msg, now) {
            Ok(k) => k,
            Err(e) => return self.tsig_refused(msg, &e, peer, out),
        };
        let Ok(Some(plain)) = tsig::without_tsig(msg) else { return reply_error(msg, Rcode::FORMERR, out) };
        let action = self.responder.borrow_mut().respond(&plain, transport, out);
        match action {
            Action::Reply => {
                tsig::sign(out, &key, now, Some(&mac), 0);
                Handled::Reply
            }
            Action::Drop => Handled::Drop,
            Action::Pass(Pass::Transfer) => self.transfer(&plain, transport, peer, Some((key, mac)), out),
            // The responder sends NOTIFY and UPDATE to us before looking
            // for TSIG, so these cannot come back here.
            Action::Pass(_) => reply_error(&plain, Rcode::NOTIMP, out),
        }
    }

    /// Checks the TSIG that ends `msg` against our keys.
    fn verify(&self, msg: &[u8], now: u64) -> Result<(Key, Vec<u8>), TsigError> {
        let v = tsig::verify(msg, &self.config.keys, now, None)?;
        let key = self.config.keys.iter().find(|k| k.name == v.key).cloned().ok_or(TsigError::BadKey)?;
        Ok((key, v.mac))
    }

    /// The answer to a message whose TSIG did not verify: FORMERR for a
    /// malformed one, REFUSED for an unsigned one where a key is needed,
    /// NOTAUTH otherwise (RFC 8945 §5.2), logged.
    fn tsig_refused(&self, msg: &[u8], e: &TsigError, peer: SocketAddr, out: &mut Vec<u8>) -> Handled {
        oasis::log::warn!("{peer}: {e}");
        let rcode = match e {
            TsigError::Malformed(_) => Rcode::FORMERR,
            TsigError::Unsigned => Rcode::REFUSED,
            _ => Rcode::NOTAUTH,
        };
        reply_error(msg, rcode, out)
    }

    /// AXFR (TCP) or IXFR (answered AXFR-style over TCP; over UDP with
    /// our SOA, which tells the client to come back over TCP, RFC 1995
    /// §2). Only for our secondaries, and signed when keys are set.
    fn transfer(
        &self,
        msg: &[u8],
        transport: Transport,
        peer: SocketAddr,
        signed: Option<(Key, Vec<u8>)>,
        out: &mut Vec<u8>,
    ) -> Handled {
        if !self.config.may_transfer(peer.ip()) {
            oasis::log::info!("{peer}: transfer refused (not a configured secondary)");
            return reply_error(msg, Rcode::REFUSED, out);
        }
        if signed.is_none() && !self.config.keys.is_empty() {
            oasis::log::info!("{peer}: transfer refused (not signed with a TSIG key)");
            return reply_error(msg, Rcode::REFUSED, out);
        }
        let Ok(request) = parse_request(msg) else { return reply_error(msg, Rcode::FORMERR, out) };
        let Some(zone) = self.responder.borrow().catalog().zone(&request.zone).cloned() else {
            return reply_error(msg, Rcode::NOTAUTH, out);
        };
        oasis::log::info!(
            "{peer}: {} of {} (serial {}, {} records)",
            request.qtype,
            zone.origin(),
            zone.serial().unwrap_or(0),
            zone.record_count()
        );
        if let Transport::Udp { .. } = transport {
            let Some((soa, ttl)) = zone.soa() else { return reply_error(msg, Rcode::SERVFAIL, out) };
            let mut m = Message::new(request.id, Opcode::QUERY);
            m.flags = Flags { qr: true, aa: true, ..Flags::default() };
            m.questions.push(Question { name: request.zone.clone(), qtype: request.qtype, qclass: Class::IN });
            m.answers.push(Record {
                name: zone.origin().clone(),
                class: Class::IN,
                ttl,
                data: RData::Soa(soa.clone()),
            });
            out.clear();
            if m.emit(out).is_err() {
                return reply_error(msg, Rcode::SERVFAIL, out);
            }
            if let Some((key, mac)) = signed {
                tsig::sign(out, &key, self.now(), Some(&mac), 0);
            }
            return Handled::Reply;
        }
        let signer = signed.map(|(key, mac)| StreamSigner::new(key, mac));
        Handled::Transfer(Outgoing { zone, request, signer })
    }

    /// A NOTIFY: a secondary takes it from its primary for its zones and
    /// checks the primary at once; a primary refuses it.
    fn incoming_notify(&self, msg: &[u8], peer: SocketAddr, out: &mut Vec<u8>) -> Handled {
        let Role::Secondary { primary, .. } = &self.config.role else {
            return reply_error(msg, Rcode::REFUSED, out);
        };
        if peer.ip() != primary.ip() {
            oasis::log::info!("{peer}: NOTIFY refused (not from the primary {primary})");
            return reply_error(msg, Rcode::REFUSED, out);
        }
        let now = self.now();
        let (plain, signed) = if self.config.keys.is_empty() {
            (msg.to_vec(), None)
        } else {
            match self.verify(msg, now) {
                Ok(k) => match tsig::without_tsig(msg) {
                    Ok(Some(plain)) => (plain, Some(k)),
                    _ => return reply_error(msg, Rcode::FORMERR, out),
                },
                Err(e) => return self.tsig_refused(msg, &e, peer, out),
            }
        };
        let notify = match parse_notify(&plain) {
            Ok(n) => n,
            Err(e) => {
                oasis::log::info!("{peer}: {e}");
                return reply_error(msg, Rcode::FORMERR, out);
            }
        };
        let known = match self.secondary.borrow_mut().get_mut(&notify.zone) {
            Some(state) => {
                state.timers.on_notify(notify.serial, now);
                true
            }
            None => false,
        };
        let rcode = if known { Rcode::NOERROR } else { Rcode::NOTAUTH };
        oasis::log::info!("{peer}: NOTIFY for {} (serial {:?}): {}", notify.zone, notify.serial, rcode_name(rcode));
        if known {
            self.secondary_wake.raise();
        }
        *out = build_notify_response(&notify, rcode);
        if let Some((key, mac)) = signed {
            tsig::sign(out, &key, now, Some(&mac), 0);
        }
        Handled::Reply
    }

    /// A dynamic update (RFC 2136): signed with one of our keys, for a
    /// zone we are the primary of; applied, stored, then acknowledged.
    async fn update(self: &Rc<Self>, msg: &[u8], peer: SocketAddr, out: &mut Vec<u8>) -> Handled {
        if self.config.keys.is_empty() {
            // Updates are turned off without keys: NOTIMP, as NSD (which
            // has no updates) answers.
            oasis::log::info!("{peer}: update refused (no TSIG keys configured)");
            return reply_error(msg, Rcode::NOTIMP, out);
        }
        let now = self.now();
        let (key, mac) = match self.verify(msg, now) {
            Ok(k) => k,
            Err(e) => return self.tsig_refused(msg, &e, peer, out),
        };
        let signed_error = |rcode: Rcode, out: &mut Vec<u8>| {
            if error_reply(msg, rcode, out) {
                tsig::sign(out, &key, now, Some(&mac), 0);
                Handled::Reply
            } else {
                Handled::Drop
            }
        };
        let Ok(Some(plain)) = tsig::without_tsig(msg) else { return signed_error(Rcode::FORMERR, out) };
        let update = match parse_update(&plain) {
            Ok(u) => u,
            Err(e) => return signed_error(e.0, out),
        };
        let rcode = if let Role::Secondary { .. } = self.config.role {
            Rcode::NOTAUTH
        } else {
            self.apply_update(&update, peer).await
        };
        *out = build_response(&update, rcode);
        tsig::sign(out, &key, self.now(), Some(&mac), 0);
        Handled::Reply
    }

    async fn apply_update(self: &Rc<Self>, update: &oasis_dns::update::Update, peer: SocketAddr) -> Rcode {
        let mut storage = self.storage.lock().await;
        let Some(mut zone) = self.responder.borrow().catalog().zone(&update.zone).cloned() else {
            return Rcode::NOTAUTH;
        };
        let changes = match oasis_dns::update::apply(&mut zone, update) {
            Ok(c) => c,
            Err(e) => {
                oasis::log::info!("{peer}: update of {} refused: {e}", update.zone);
                return e.0;
            }
        };
        if changes.is_empty() {
            return Rcode::NOERROR;
        }
        // Durable before it is served or acknowledged.
        if let Some(storage) = storage.as_mut()
            && let Err(e) = storage.record_update(&zone, &changes).await
        {
            oasis::log::error!("update of {} not applied: {e}", update.zone);
            return Rcode::SERVFAIL;
        }
        let origin = zone.origin().clone();
        let serial = zone.serial().unwrap_or(0);
        self.responder.borrow_mut().catalog_mut().insert(zone);
        drop(storage);
        oasis::log::info!("{peer}: updated {origin}: {} changes, serial {serial}", changes.len());
        self.notify_secondaries(&origin);
        Rcode::NOERROR
    }

    /// Puts a zone in service (or replaces it).
    pub fn serve_zone(&self, zone: Zone) {
        self.responder.borrow_mut().catalog_mut().insert(zone);
    }
}

/// The bare error response to `msg` (its ID, opcode and flags), or
/// nothing when `msg` is no query.
pub fn reply_error(msg: &[u8], rcode: Rcode, out: &mut Vec<u8>) -> Handled {
    if error_reply(msg, rcode, out) { Handled::Reply } else { Handled::Drop }
}

/// An rcode's mnemonic, for logs.
pub fn rcode_name(rcode: Rcode) -> &'static str {
    match rcode {
        Rcode::NOERROR => "NOERROR",
        Rcode::FORMERR => "FORMERR",
        Rcode::SERVFAIL => "SERVFAIL",
        Rcode::NXDOMAIN => "NXDOMAIN",
        Rcode::NOTIMP => "NOTIMP",
        Rcode::REFUSED => "REFUSED",
        Rcode::NOTAUTH => "NOTAUTH",
        _ => "error",
    }
}

/// The length a TCP message's two-byte prefix announces, when the prefix
/// is there.
pub fn frame_len(input: &[u8]) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([*input.first()?, *input.get(1)?])))
}

/// Appends `msg` with its TCP length prefix.
pub fn push_frame(out: &mut Vec<u8>, msg: &[u8]) {
    out.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    out.extend_from_slice(msg);
}

/// An SOA query for `zone`.
pub fn soa_query(id: u16, zone: &Name) -> Vec<u8> {
    let mut m = Message::new(id, Opcode::QUERY);
    m.questions.push(Question { name: zone.clone(), qtype: RType::SOA, qclass: Class::IN });
    let mut out = Vec::new();
    // One question: always encodable.
    let _ = m.emit(&mut out);
    out
}
