//! Writing a zone back out in master-file form.

use alloc::string::String;
use core::fmt::Write;

use super::Zone;

/// One record per line with absolute owner names, the SOA first: what
/// [`super::parse_zone`] and NSD read back to the same zone.
pub(crate) fn zone_to_text(zone: &Zone) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "$ORIGIN {}", zone.origin());
    for record in zone.records() {
        let _ = writeln!(out, "{record}");
    }
    out
}
