//! Choosing a content coding from `Accept-Encoding` (RFC 9110 §12.5.3).

use crate::parse::list_items;

/// A coding a file may be stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coding {
    /// As it is.
    Identity,
    /// gzip (`KEY.gz` in the store).
    Gzip,
    /// Brotli (`KEY.br` in the store).
    Brotli,
}

impl Coding {
    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// A q-value in thousandths (0..=1000), or `None` when malformed.
fn qvalue(text: &[u8]) -> Option<u16> {
    match text {
        [b'1'] => Some(1000),
        [b'1', b'.', zeros @ ..] if zeros.len() <= 3 && zeros.iter().all(|&b| b == b'0') => Some(1000),
        [b'0'] => Some(0),
        [b'0', b'.', digits @ ..] if digits.len() <= 3 && digits.iter().all(u8::is_ascii_digit) => {
            let mut q = 0u16;
            for i in 0..3 {
                q = q * 10 + digits.get(i).map_or(0, |d| u16::from(d - b'0'));
            }
            Some(q)
        }
        _ => None,
    }
}

/// The q-value the header gives each of identity, gzip and brotli.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    identity: u16,
    gzip: u16,
    brotli: u16,
}

impl Accepted {
    /// Reads `Accept-Encoding` (`None`: the header is absent, and only
    /// identity is sent, though RFC 9110 would allow any).
    pub fn parse(header: Option<&[u8]>) -> Accepted {
        let Some(header) = header else {
            return Accepted { identity: 1000, gzip: 0, brotli: 0 };
        };
        let (mut identity, mut gzip, mut brotli, mut star) = (None, None, None, None);
        for item in list_items(header) {
            let mut parts = item.split(|&b| b == b';');
            let coding = parts.next().unwrap_or_default().trim_ascii();
            let mut q = Some(1000);
            for param in parts {
                let param = param.trim_ascii();
                if param.len() >= 2 && param[..2].eq_ignore_ascii_case(b"q=") {
                    q = qvalue(param[2..].trim_ascii());
                }
            }
            // A malformed q-value makes the item meaningless: skip it.
            let Some(q) = q else { continue };
            let slot = if coding.eq_ignore_ascii_case(b"identity") {
                &mut identity
            } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                &mut gzip
            } else if coding.eq_ignore_ascii_case(b"br") {
                &mut brotli
            } else if coding == b"*" {
                &mut star
            } else {
                continue;
            };
            // The most preferred mention counts if a coding is repeated.
            *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
        }
        Accepted {
            // Identity is acceptable unless excluded by name or by `*;q=0`;
            // unnamed, it comes after any coding the client lists.
            identity: identity.or(star).unwrap_or(1),
            gzip: gzip.or(star).unwrap_or(0),
            brotli: brotli.or(star).unwrap_or(0),
        }
    }

    /// The q-value of `coding`.
    pub fn q(&self, coding: Coding) -> u16 {
        match coding {
            Coding::Identity => self.identity,
            Coding::Gzip => self.gzip,
            Coding::Brotli => self.brotli,
        }
    }

    /// The best of the available codings (identity is always available):
    /// highest q-value, ties going to the smaller encoding (brotli, then
    /// gzip). `None` when none is acceptable (406).
    pub fn choose(&self, gzip: bool, brotli: bool) -> Option<Coding> {
        let candidates = [(Coding::Brotli, brotli), (Coding::Gzip, gzip), (Coding::Identity, true)];
        let mut best: Option<(Coding, u16)> = None;
        for (coding, available) in candidates {
            let q = self.q(coding);
            if available && q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((coding, q));
            }
        }
        best.map(|(coding, _)| coding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(header: Option<&str>) -> Option<Coding> {
        Accepted::parse(header.map(str::as_bytes)).choose(true, true)
    }

    #[test]
    fn negotiation() {
        assert_eq!(choose(None), Some(Coding::Identity));
        assert_eq!(choose(Some("")), Some(Coding::Identity));
        assert_eq!(choose(Some("gzip, deflate, br")), Some(Coding::Brotli));
        assert_eq!(choose(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(choose(Some("gzip;q=1.0, br;q=0.5")), Some(Coding::Gzip));
        assert_eq!(choose(Some("br;q=0, gzip;q=0")), Some(Coding::Identity));
        assert_eq!(choose(Some("*")), Some(Coding::Brotli));
        assert_eq!(choose(Some("identity;q=0")), None);
        assert_eq!(choose(Some("identity;q=0, gzip")), Some(Coding::Gzip));
        assert_eq!(choose(Some("*;q=0")), None);
        assert_eq!(choose(Some("*;q=0, identity")), Some(Coding::Identity));
        assert_eq!(choose(Some("gzip;q=0.001, identity;q=0.5")), Some(Coding::Identity));
        assert_eq!(choose(Some("gzip;q=bad")), Some(Coding::Identity));
        assert_eq!(choose(Some("GZIP ; Q=1.0")), Some(Coding::Gzip));
        assert_eq!(Accepted::parse(Some(b"identity;q=0")).choose(false, false), None);
        assert_eq!(Accepted::parse(Some(b"br")).choose(true, false), Some(Coding::Identity));
    }
}
