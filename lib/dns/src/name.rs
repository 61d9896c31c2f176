//! Domain names: stored in uncompressed wire form with their case kept,
//! compared and ordered without regard to ASCII case (RFC 4343), ordered
//! canonically (RFC 4034 §6.1) so a zone's names sort as DNSSEC and zone
//! dumps expect.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

/// The longest name, in wire bytes, counting length octets and the root.
pub const MAX_NAME_LEN: usize = 255;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// Most labels a name can have (127 one-byte labels and the root).
const MAX_LABELS: usize = 128;

/// Why text or bytes are not a domain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Longer than 255 bytes in wire form.
    TooLong,
    /// A label over 63 bytes.
    LabelTooLong,
    /// Two dots in a row, or a leading dot before more labels.
    EmptyLabel,
    /// A `\` escape that is not `\X` or `\DDD` with DDD <= 255.
    BadEscape,
    /// A relative name where no origin is known.
    Relative,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::TooLong => "name longer than 255 bytes",
            NameError::LabelTooLong => "label longer than 63 bytes",
            NameError::EmptyLabel => "empty label",
            NameError::BadEscape => "bad escape (use \\X or \\DDD with DDD <= 255)",
            NameError::Relative => "relative name without an origin",
        })
    }
}

impl core::error::Error for NameError {}

/// A domain name. Equality, ordering and hashing ignore ASCII case; the
/// bytes keep the case they were given.
#[derive(Clone)]
pub struct Name {
    /// Length-prefixed labels ending in the root's zero byte.
    wire: Vec<u8>,
}

impl Name {
    /// The root, `.`.
    pub fn root() -> Name {
        Name { wire: alloc::vec![0] }
    }

    /// A name from uncompressed wire bytes (length-prefixed labels ending
    /// in 0, nothing after). Checked.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let mut at = 0;
        loop {
            let Some(&len) = wire.get(at) else { return Err(NameError::EmptyLabel) };
            let len = usize::from(len);
            if len > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            at += 1 + len;
            if at > MAX_NAME_LEN {
                return Err(NameError::TooLong);
            }
            if len == 0 {
                break;
            }
        }
        if at != wire.len() {
            return Err(NameError::EmptyLabel);
        }
        Ok(Name { wire: wire.to_vec() })
    }

    /// Built from labels already checked by a wire or text parser.
    pub(crate) fn from_checked_wire(wire: Vec<u8>) -> Name {
        debug_assert!(wire.len() <= MAX_NAME_LEN && wire.last() == Some(&0));
        Name { wire }
    }

    /// A name in presentation format (`www.example.com.`, escapes `\.`
    /// and `\DDD` allowed). A name without a trailing dot is relative and
    /// gets `origin` appended; without an origin it is an error.
    pub fn from_text(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        Name::from_text_bytes(text.as_bytes(), origin)
    }

    /// [`Name::from_text`] over bytes (zone files need not be UTF-8).
    pub fn from_text_bytes(text: &[u8], origin: Option<&Name>) -> Result<Name, NameError> {
        if text == b"." {
            return Ok(Name::root());
        }
        if text.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        let mut wire = Vec::with_capacity(text.len() + 2);
        let mut label = Vec::with_capacity(MAX_LABEL_LEN);
        let mut absolute = false;
        let mut i = 0;
        while i < text.len() {
            let c = text[i];
            match c {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel);
                    }
                    push_label(&mut wire, &label)?;
                    label.clear();
                    if i + 1 == text.len() {
                        absolute = true;
                    }
                    i += 1;
                }
                b'\\' => {
                    let (byte, used) = unescape(&text[i..])?;
                    label.push(byte);
                    i += used;
                }
                _ => {
                    label.push(c);
                    i += 1;
                }
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        if !label.is_empty() {
            push_label(&mut wire, &label)?;
        }
        if absolute {
            wire.push(0);
        } else {
            let origin = origin.ok_or(NameError::Relative)?;
            wire.extend_from_slice(&origin.wire);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        Ok(Name { wire })
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Length in wire form.
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }

    /// True for `.`.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels from the leftmost, without the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.wire, at: 0 }
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True when the first label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.wire.starts_with(b"\x01*")
    }

    /// The name with its first label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + usize::from(self.wire[0]);
        Some(Name { wire: self.wire[skip..].to_vec() })
    }

    /// `label.self`.
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if self.wire.len() + 1 + label.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        let mut wire = Vec::with_capacity(self.wire.len() + 1 + label.len());
        push_label(&mut wire, label)?;
        wire.extend_from_slice(&self.wire);
        Ok(Name { wire })
    }

    /// `*.self`.
    pub fn wildcard_child(&self) -> Result<Name, NameError> {
        self.prepend(b"*")
    }

    /// True when `self` is `other` or below it.
    pub fn ends_with(&self, other: &Name) -> bool {
        if other.wire.len() > self.wire.len() {
            return false;
        }
        let mut at = 0;
        while self.wire.len() - at > other.wire.len() {
            at += 1 + usize::from(self.wire[at]);
        }
        self.wire.len() - at == other.wire.len() && self.wire[at..].eq_ignore_ascii_case(&other.wire)
    }

    /// `self` with its suffix `from` replaced by `to` (DNAME substitution,
    /// RFC 6672 §2.2). `None` when `self` is not below `from`;
    /// `Err(TooLong)` when the result would be over 255 bytes.
    pub fn replace_suffix(&self, from: &Name, to: &Name) -> Option<Result<Name, NameError>> {
        if !self.ends_with(from) {
            return None;
        }
        let keep = self.wire.len() - from.wire.len();
        if keep + to.wire.len() > MAX_NAME_LEN {
            return Some(Err(NameError::TooLong));
        }
        let mut wire = Vec::with_capacity(keep + to.wire.len());
        wire.extend_from_slice(&self.wire[..keep]);
        wire.extend_from_slice(&to.wire);
        Some(Ok(Name { wire }))
    }

    /// A copy in ASCII lower case.
    pub fn to_lowercase(&self) -> Name {
        Name { wire: self.wire.to_ascii_lowercase() }
    }

    /// True when the bytes are equal, case included.
    pub fn eq_exact(&self, other: &Name) -> bool {
        self.wire == other.wire
    }

    /// The suffix of `self` with `n` labels (plus the root).
    pub fn suffix(&self, n: usize) -> Name {
        let total = self.label_count();
        let mut at = 0;
        for _ in 0..total.saturating_sub(n) {
            at += 1 + usize::from(self.wire[at]);
        }
        Name { wire: self.wire[at..].to_vec() }
    }

    /// A byte string whose plain byte order is the canonical DNS order
    /// (RFC 4034 §6.1): labels from the right, lower-cased, bytes 0 and 1
    /// escaped as `1 1` and `1 2`, each label ended by 0 (so a label sorts
    /// before any longer label it begins). Maps keyed by it compare with
    /// `memcmp` instead of walking labels.
    pub fn canonical_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.wire.len() + 4);
        let (offsets, n) = label_offsets(&self.wire);
        for &at in offsets[..n].iter().rev() {
            for &b in label_at(&self.wire, at) {
                match b.to_ascii_lowercase() {
                    0 => key.extend_from_slice(&[1, 1]),
                    1 => key.extend_from_slice(&[1, 2]),
                    c => key.push(c),
                }
            }
            key.push(0);
        }
        key
    }

    /// Presentation form with a trailing dot.
    pub fn to_text(&self) -> String {
        alloc::format!("{self}")
    }
}

/// Iterator over a name's labels, leftmost first.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    wire: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.get(self.at)?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.at + 1..self.at + 1 + len)?;
        self.at += 1 + len;
        Some(label)
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), NameError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    if wire.len() + 1 + label.len() >= MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    Ok(())
}

/// Decodes `\X` or `\DDD` at the start of `text`: the byte and how many
/// input bytes it took.
pub(crate) fn unescape(text: &[u8]) -> Result<(u8, usize), NameError> {
    match text.get(1) {
        None => Err(NameError::BadEscape),
        Some(d) if d.is_ascii_digit() => {
            let digits = text.get(1..4).ok_or(NameError::BadEscape)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(NameError::BadEscape);
            }
            let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            let byte = u8::try_from(value).map_err(|_| NameError::BadEscape)?;
            Ok((byte, 4))
        }
        Some(&c) => Ok((c, 2)),
    }
}

/// Offsets of each label's length byte, leftmost first, and their count.
fn label_offsets(wire: &[u8]) -> ([u8; MAX_LABELS], usize) {
    let mut offsets = [0u8; MAX_LABELS];
    let mut n = 0;
    let mut at = 0;
    while at < wire.len() && wire[at] != 0 && n < MAX_LABELS {
        offsets[n] = at as u8;
        n += 1;
        at += 1 + usize::from(wire[at]);
    }
    (offsets, n)
}

/// Canonical DNS order (RFC 4034 §6.1): by labels from the right, each
/// compared as lower-cased bytes.
fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (ao, an) = label_offsets(a);
    let (bo, bn) = label_offsets(b);
    for k in 1..=an.min(bn) {
        let la = label_at(a, ao[an - k]);
        let lb = label_at(b, bo[bn - k]);
        let ord = la.iter().map(u8::to_ascii_lowercase).cmp(lb.iter().map(u8::to_ascii_lowercase));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    an.cmp(&bn)
}

fn label_at(wire: &[u8], at: u8) -> &[u8] {
    let at = usize::from(at);
    let len = usize::from(wire[at]);
    &wire[at + 1..at + 1 + len]
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        canonical_cmp(&self.wire, &other.wire)
    }
}

impl core::hash::Hash for Name {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        for b in &self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

/// Writes one label in presentation form with the escapes zone files need.
pub(crate) fn write_label(f: &mut impl fmt::Write, label: &[u8]) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                f.write_char('\\')?;
                f.write_char(char::from(b))?;
            }
            0x21..=0x7e => f.write_char(char::from(b))?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            write_label(f, label)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn text_round_trip_with_escapes() {
        let name = n("a\\.b.c\\032d.\\\\.example.");
        assert_eq!(name.label_count(), 4);
        assert_eq!(name.labels().next().unwrap(), b"a.b");
        assert_eq!(name.to_text(), "a\\.b.c\\032d.\\\\.example.");
        assert_eq!(Name::from_text(&name.to_text(), None).unwrap(), name);
    }

    #[test]
    fn relative_names_take_the_origin() {
        let origin = n("example.com.");
        assert_eq!(Name::from_text("www", Some(&origin)).unwrap(), n("www.example.com."));
        assert_eq!(Name::from_text("www", None), Err(NameError::Relative));
    }

    #[test]
    fn limits_are_enforced() {
        let long_label = "a".repeat(64);
        assert_eq!(Name::from_text(&alloc::format!("{long_label}."), None), Err(NameError::LabelTooLong));
        let label = "a".repeat(63);
        let too_long = alloc::format!("{label}.{label}.{label}.{label}.");
        assert_eq!(Name::from_text(&too_long, None), Err(NameError::TooLong));
        let just_fits = alloc::format!("{label}.{label}.{label}.{}.", "a".repeat(61));
        assert_eq!(Name::from_text(&just_fits, None).unwrap().wire_len(), 255);
        assert_eq!(Name::from_text("a..b.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_text("\\256.", None), Err(NameError::BadEscape));
    }

    #[test]
    fn case_is_kept_but_ignored_in_comparisons() {
        let a = n("WwW.Example.COM.");
        let b = n("www.example.com.");
        assert_eq!(a, b);
        assert!(!a.eq_exact(&b));
        assert_eq!(a.to_text(), "WwW.Example.COM.");
        assert!(a.ends_with(&n("example.com.")));
        assert!(!n("xample.com.").ends_with(&n("example.com.")));
    }

    #[test]
    fn canonical_order_matches_rfc4034() {
        // The example list of RFC 4034 §6.1, in order.
        let sorted = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        for pair in sorted.windows(2) {
            assert!(n(pair[0]) < n(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    fn arbitrary_name() -> impl proptest::strategy::Strategy<Value = Name> {
        use proptest::prelude::*;
        let byte = prop_oneof![Just(0u8), Just(1), Just(2), Just(b'a'), Just(b'B'), Just(b'b'), Just(255)];
        proptest::collection::vec(proptest::collection::vec(byte, 1..4), 0..4).prop_map(|labels| {
            let mut wire = Vec::new();
            for l in labels {
                wire.push(l.len() as u8);
                wire.extend_from_slice(&l);
            }
            wire.push(0);
            Name::from_wire(&wire).unwrap()
        })
    }

    proptest::proptest! {
        #[test]
        fn canonical_key_orders_as_names_do(x in arbitrary_name(), y in arbitrary_name()) {
            proptest::prop_assert_eq!(x.cmp(&y), x.canonical_key().cmp(&y.canonical_key()));
        }
    }

    #[test]
    fn dname_substitution() {
        let q = n("a.b.old.example.");
        let got = q.replace_suffix(&n("old.example."), &n("new.test.")).unwrap().unwrap();
        assert_eq!(got, n("a.b.new.test."));
        assert!(q.replace_suffix(&n("other."), &n("x.")).is_none());
        let long = n(&alloc::format!("{}.{}.old.", "a".repeat(63), "b".repeat(63)));
        let target = n(&alloc::format!("{}.{}.", "c".repeat(63), "d".repeat(63)));
        assert_eq!(long.replace_suffix(&n("old."), &target), Some(Err(NameError::TooLong)));
    }

    #[test]
    fn from_wire_checks() {
        assert!(Name::from_wire(b"\x03www\x00").is_ok());
        assert!(Name::from_wire(b"\x03ww").is_err());
        assert!(Name::from_wire(b"\x03www\x00\x00").is_err());
        assert!(Name::from_wire(b"\x40").is_err());
    }
}
