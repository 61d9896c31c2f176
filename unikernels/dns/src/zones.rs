//! The compiled-in zone files: one zone per file, its origin the file
//! name (less a trailing `.zone`) unless the file begins with `$ORIGIN`.

use oasis::alloc::format;
use oasis::alloc::string::String;
use oasis::alloc::vec::Vec;
use oasis_dns::zone::{ParseOptions, Zone, parse_zone};
use oasis_dns::{Name, NameError};

/// Why the compiled-in zones cannot be served. The text names the file,
/// the line and the reason.
#[derive(Debug)]
pub struct ZoneFileError(pub String);

impl core::fmt::Display for ZoneFileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The origin a file declares with a `$ORIGIN` before its first record,
/// if it does. Later `$ORIGIN`s only change how relative names read.
pub fn declared_origin(text: &[u8]) -> Option<&str> {
    for line in text.split(|&b| b == b'\n') {
        let line = core::str::from_utf8(line).ok()?;
        let line = line.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next()? {
            w if w.eq_ignore_ascii_case("$ORIGIN") => return words.next(),
            w if w.eq_ignore_ascii_case("$TTL") => continue,
            _ => return None,
        }
    }
    None
}

/// The origin a file's key gives: its last path segment less `.zone`.
pub fn origin_from_key(key: &str) -> Result<Name, NameError> {
    let file = key.rsplit('/').next().unwrap_or(key);
    let stem = file.strip_suffix(".zone").unwrap_or(file);
    let absolute = if stem.ends_with('.') { String::from(stem) } else { format!("{stem}.") };
    Name::from_text(&absolute, None)
}

/// Parses one file into a zone.
pub fn load(key: &str, text: &[u8]) -> Result<Zone, ZoneFileError> {
    let origin = match declared_origin(text) {
        Some(o) => Name::from_text(o, None)
            .map_err(|e| ZoneFileError(format!("{key}:1: $ORIGIN {o} is not an absolute domain name: {e}")))?,
        None => origin_from_key(key).map_err(|e| {
            ZoneFileError(format!("{key}: the file name does not make a zone name ({e}); start it with $ORIGIN"))
        })?,
    };
    parse_zone(text, ParseOptions { file_name: key, origin, default_ttl: None, include: None })
        .map_err(|e| ZoneFileError(format!("{e}")))
}

/// Every zone in `entries` (key, bytes), hidden files (a segment starting
/// with `.`) left out. Two files for one zone are refused.
pub fn load_all<'a>(entries: impl Iterator<Item = (&'a str, &'a [u8])>) -> Result<Vec<Zone>, ZoneFileError> {
    let mut zones: Vec<(String, Zone)> = Vec::new();
    for (key, bytes) in entries {
        if key.split('/').any(|segment| segment.starts_with('.')) {
            continue;
        }
        let zone = load(key, bytes)?;
        if let Some((other, _)) = zones.iter().find(|(_, z)| z.origin() == zone.origin()) {
            return Err(ZoneFileError(format!("{key}: zone {} is already loaded from {other}", zone.origin())));
        }
        zones.push((String::from(key), zone));
    }
    Ok(zones.into_iter().map(|(_, z)| z).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";

    #[test]
    fn origin_from_name_or_directive() {
        assert_eq!(origin_from_key("example.com.zone").unwrap(), Name::from_text("example.com.", None).unwrap());
        assert_eq!(origin_from_key("sub/example.org").unwrap(), Name::from_text("example.org.", None).unwrap());
        assert_eq!(declared_origin(b"; c\n$TTL 5\n$ORIGIN a.b.\n@ A 1.2.3.4"), Some("a.b."));
        assert_eq!(declared_origin(b"@ A 1.2.3.4\n$ORIGIN a.b.\n"), None);
        let z = load("whatever.zone", format!("$ORIGIN x.test.\n{ZONE}").as_bytes()).unwrap();
        assert_eq!(z.origin(), &Name::from_text("x.test.", None).unwrap());
        let z = load("y.test.zone", ZONE.as_bytes()).unwrap();
        assert_eq!(z.origin(), &Name::from_text("y.test.", None).unwrap());
    }

    #[test]
    fn bad_zones_name_file_and_line() {
        let e = load("bad.zone", b"$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 300.1.1.1\n").unwrap_err();
        assert!(e.0.starts_with("bad.zone:4: "), "{e}");
        let e = load("nons.zone", b"$TTL 60\n@ SOA ns h 1 2 3 4 5\n").unwrap_err();
        assert!(e.0.starts_with("nons.zone:") && e.0.contains("NS"), "{e}");
        let e =
            load_all([("a.test", ZONE.as_bytes()), ("b", format!("$ORIGIN a.test.\n{ZONE}").as_bytes())].into_iter())
                .unwrap_err();
        assert!(e.0.contains("already loaded from a.test"), "{e}");
        let ok = load_all([(".hidden", &b"junk"[..]), ("c.test", ZONE.as_bytes())].into_iter()).unwrap();
        assert_eq!(ok.len(), 1);
    }
}
