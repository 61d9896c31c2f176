//! A secondary's timers (RFC 1034 §4.3.5, RFC 1996): when to check the
//! primary's SOA, when to retry, when the zone expires. Time is passed
//! in as seconds on any monotonic clock; nothing here reads a clock.

use crate::rdata::Soa;
use crate::serial;

/// What the secondary should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ask the primary for its SOA.
    QuerySoa,
    /// Transfer the zone (the primary's serial is newer).
    Transfer,
    /// Nothing until the deadline.
    Wait,
}

/// The state of one secondary zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secondary {
    /// Serial of the copy we serve, if we have one.
    serial: Option<u32>,
    refresh: u64,
    retry: u64,
    expire: u64,
    /// When the next check is due.
    next_check: u64,
    /// When our copy stops being servable (None: no copy, or not counting).
    expires_at: Option<u64>,
    /// A check or transfer is under way.
    in_flight: bool,
}

/// Timers used before the first SOA is known (RFC 1912 §2.2 values).
const DEFAULT_REFRESH: u64 = 3600;
const DEFAULT_RETRY: u64 = 600;

impl Secondary {
    /// A zone we have no copy of yet: check at once.
    pub fn new(now: u64) -> Secondary {
        Secondary {
            serial: None,
            refresh: DEFAULT_REFRESH,
            retry: DEFAULT_RETRY,
            expire: 0,
            next_check: now,
            expires_at: None,
            in_flight: false,
        }
    }

    /// A zone loaded from storage, last confirmed fresh at `confirmed`.
    pub fn with_copy(soa: &Soa, confirmed: u64, now: u64) -> Secondary {
        let mut s = Secondary::new(now);
        s.adopt(soa, confirmed);
        s
    }

    fn adopt(&mut self, soa: &Soa, now: u64) {
        self.serial = Some(soa.serial);
        self.refresh = u64::from(soa.refresh.max(1));
        self.retry = u64::from(soa.retry.max(1));
        self.expire = u64::from(soa.expire);
        self.next_check = now + self.refresh;
        self.expires_at = Some(now + self.expire);
    }

    /// The serial we serve.
    pub fn serial(&self) -> Option<u32> {
        self.serial
    }

    /// True while our copy may be served (we have one and it has not
    /// expired).
    pub fn is_servable(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| now < t)
    }

    /// What to do at `now`, and the time to call again at the latest.
    pub fn poll(&mut self, now: u64) -> (Step, u64) {
        if let Some(t) = self.expires_at
            && now >= t
        {
            // Expired: keep trying, but answer nothing from the old copy.
            self.expires_at = None;
            self.serial = None;
        }
        if !self.in_flight && now >= self.next_check {
            self.in_flight = true;
            self.next_check = now + self.retry;
            return (Step::QuerySoa, self.deadline());
        }
        (Step::Wait, self.deadline())
    }

    fn deadline(&self) -> u64 {
        match self.expires_at {
            Some(t) => t.min(self.next_check),
            None => self.next_check,
        }
    }

    /// The primary answered our SOA query with this serial: transfer if
    /// it is newer (or we have nothing), else we are fresh until refresh.
    pub fn on_soa(&mut self, primary: &Soa, now: u64) -> Step {
        self.in_flight = false;
        match self.serial {
            Some(ours) if !serial::is_newer(primary.serial, ours) => {
                // Same (or older) serial: our copy is confirmed fresh.
                let keep = primary.serial == ours;
                if keep {
                    self.adopt(primary, now);
                } else {
                    self.next_check = now + self.refresh;
                }
                Step::Wait
            }
            _ => {
                self.in_flight = true;
                Step::Transfer
            }
        }
    }

    /// A transfer finished with this SOA: serve it.
    pub fn on_transfer(&mut self, soa: &Soa, now: u64) {
        self.in_flight = false;
        self.adopt(soa, now);
    }

    /// The check or transfer failed (timeout, refused, bad data): retry
    /// after the retry interval.
    pub fn on_failure(&mut self, now: u64) {
        self.in_flight = false;
        self.next_check = now + self.retry;
    }

    /// A NOTIFY arrived (RFC 1996 §4.7): check now unless the announced
    /// serial is one we already have.
    pub fn on_notify(&mut self, announced: Option<u32>, now: u64) {
        if let (Some(ours), Some(theirs)) = (self.serial, announced)
            && !serial::is_newer(theirs, ours)
        {
            return;
        }
        if !self.in_flight {
            self.next_check = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn soa(serial: u32) -> Soa {
        let n = Name::from_text("ns.example.", None).unwrap();
        Soa { mname: n.clone(), rname: n, serial, refresh: 100, retry: 10, expire: 1000, minimum: 5 }
    }

    #[test]
    fn refresh_retry_expire() {
        let mut s = Secondary::new(0);
        assert_eq!(s.poll(0), (Step::QuerySoa, 600));
        assert_eq!(s.on_soa(&soa(1), 1), Step::Transfer);
        s.on_transfer(&soa(1), 2);
        assert!(s.is_servable(2));
        assert_eq!(s.poll(50), (Step::Wait, 102));
        assert_eq!(s.poll(102), (Step::QuerySoa, 112));
        // The primary does not answer: retry every 10 s until expiry.
        s.on_failure(105);
        assert_eq!(s.poll(114).0, Step::Wait);
        assert_eq!(s.poll(115).0, Step::QuerySoa);
        s.on_failure(116);
        assert!(s.is_servable(1001));
        let (_, deadline) = s.poll(126);
        assert!(deadline <= 1002);
        s.poll(1002);
        assert!(!s.is_servable(1002));
        assert_eq!(s.serial(), None);
        // Same serial: fresh again; newer serial: transfer.
        let mut s = Secondary::with_copy(&soa(5), 0, 0);
        s.poll(100);
        assert_eq!(s.on_soa(&soa(5), 100), Step::Wait);
        assert_eq!(s.poll(150), (Step::Wait, 200));
        s.on_notify(Some(5), 150);
        assert_eq!(s.poll(151).0, Step::Wait, "a NOTIFY for our serial changes nothing");
        s.on_notify(Some(6), 152);
        assert_eq!(s.poll(152).0, Step::QuerySoa);
        assert_eq!(s.on_soa(&soa(6), 153), Step::Transfer);
    }
}
