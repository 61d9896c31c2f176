//! NOTIFY (RFC 1996): a primary telling secondaries that a zone changed.

use alloc::vec::Vec;
use core::fmt;

use crate::message::{Flags, Message};
use crate::name::Name;
use crate::rdata::{RData, Soa};
use crate::record::{Question, Record};
use crate::types::{Class, Opcode, RType, Rcode};
use crate::wire::WireError;

/// A NOTIFY for `zone`, optionally carrying the new SOA in the answer
/// section (RFC 1996 §3.7: a hint, which secondaries may use).
pub fn build_notify(id: u16, zone: &Name, soa: Option<(&Soa, u32)>) -> Vec<u8> {
    let mut m = Message::new(id, Opcode::NOTIFY);
    m.flags = Flags { aa: true, ..Flags::default() };
    m.questions.push(Question { name: zone.clone(), qtype: RType::SOA, qclass: Class::IN });
    if let Some((soa, ttl)) = soa {
        m.answers.push(Record { name: zone.clone(), class: Class::IN, ttl, data: RData::Soa(soa.clone()) });
    }
    let mut out = Vec::new();
    // One question and at most one small record: always encodable.
    let _ = m.emit(&mut out);
    out
}

/// A NOTIFY received by a secondary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// To echo in the acknowledgement.
    pub id: u16,
    /// The zone that changed.
    pub zone: Name,
    /// The new serial, when the primary sent the SOA.
    pub serial: Option<u32>,
}

/// Why a message is not a usable NOTIFY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyError {
    /// Not a DNS message.
    Wire(WireError),
    /// Opcode is not NOTIFY, or it is a response.
    NotANotify,
    /// Not exactly one question of type SOA, class IN.
    BadQuestion,
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Wire(e) => write!(f, "malformed NOTIFY: {e}"),
            NotifyError::NotANotify => f.write_str("not a NOTIFY request"),
            NotifyError::BadQuestion => f.write_str("NOTIFY without exactly one SOA question"),
        }
    }
}

impl core::error::Error for NotifyError {}

/// Parses a NOTIFY request.
pub fn parse_notify(bytes: &[u8]) -> Result<Notify, NotifyError> {
    let m = Message::parse(bytes).map_err(NotifyError::Wire)?;
    if m.opcode != Opcode::NOTIFY || m.flags.qr {
        return Err(NotifyError::NotANotify);
    }
    let [q] = m.questions.as_slice() else { return Err(NotifyError::BadQuestion) };
    if q.qtype != RType::SOA || q.qclass != Class::IN {
        return Err(NotifyError::BadQuestion);
    }
    let serial = m.answers.iter().find_map(|r| match &r.data {
        RData::Soa(soa) if r.name == q.name => Some(soa.serial),
        _ => None,
    });
    Ok(Notify { id: m.id, zone: q.name.clone(), serial })
}

/// The acknowledgement a secondary sends: the question echoed, QR and
/// AA set, with `rcode` (NOERROR, or NOTAUTH/REFUSED for zones it does
/// not serve).
pub fn build_notify_response(notify: &Notify, rcode: Rcode) -> Vec<u8> {
    let mut m = Message::new(notify.id, Opcode::NOTIFY);
    m.flags = Flags { qr: true, aa: true, ..Flags::default() };
    m.rcode = rcode;
    m.questions.push(Question { name: notify.zone.clone(), qtype: RType::SOA, qclass: Class::IN });
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

/// True when `response` acknowledges the NOTIFY with this ID for `zone`.
pub fn is_notify_ack(response: &[u8], id: u16, zone: &Name) -> bool {
    Message::parse(response).is_ok_and(|m| {
        m.flags.qr
            && m.id == id
            && m.opcode == Opcode::NOTIFY
            && m.rcode == Rcode::NOERROR
            && m.questions.first().is_some_and(|q| q.name == *zone)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_round_trip() {
        let zone = Name::from_text("example.com.", None).unwrap();
        let soa = Soa {
            mname: Name::from_text("ns.example.com.", None).unwrap(),
            rname: Name::from_text("h.example.com.", None).unwrap(),
            serial: 42,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        };
        let bytes = build_notify(9, &zone, Some((&soa, 300)));
        let n = parse_notify(&bytes).unwrap();
        assert_eq!((n.id, n.serial), (9, Some(42)));
        assert_eq!(n.zone, zone);
        let ack = build_notify_response(&n, Rcode::NOERROR);
        assert!(is_notify_ack(&ack, 9, &zone));
        assert!(!is_notify_ack(&ack, 10, &zone));
        assert_eq!(parse_notify(&ack), Err(NotifyError::NotANotify));
        assert!(matches!(parse_notify(&bytes[..5]), Err(NotifyError::Wire(_))));
    }
}
