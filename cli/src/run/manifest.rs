//! What a unikernel package says about how it is run, in its own
//! `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.oasis]
//! publish = ["8080:80"]            # the ports `oasis run` publishes when
//!                                  # no -p is given (same syntax as -p)
//! ```
//!
//! Read with `toml_edit` straight from the file (no `cargo metadata`
//! round trip): the key is ours, and a plain string array needs no
//! workspace inheritance.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use super::publish::{self, Publish};

/// The ports the package at `dir` publishes by default: its
/// `[package.metadata.oasis] publish`, empty when it has none.
pub fn default_publish(dir: &Path) -> Result<Vec<Publish>> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_publish(&text).map_err(|why| anyhow!("{}: [package.metadata.oasis] {why}", path.display()))
}

/// The `publish` list of a manifest's text.
fn parse_publish(text: &str) -> Result<Vec<Publish>, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        // The parser's message spans lines; its first says what is wrong.
        e.message().lines().next().unwrap_or("not valid TOML").to_string()
    })?;
    let Some(item) =
        doc.get("package").and_then(|p| p.get("metadata")).and_then(|m| m.get("oasis")).and_then(|o| o.get("publish"))
    else {
        return Ok(Vec::new());
    };
    let array = item.as_array().ok_or("publish: expected an array of strings, e.g. [\"8080:80\"]")?;
    let list = array
        .iter()
        .map(|v| {
            let s = v.as_str().ok_or("publish: expected an array of strings, e.g. [\"8080:80\"]")?;
            s.parse::<Publish>().map_err(|why| format!("publish \"{s}\": {why}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    publish::check_unique(&list).map_err(|why| format!("publish: {}", why.trim_start_matches("-p: ")))?;
    Ok(list)
}

/// Where the ports a run publishes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishFrom {
    /// `-p` on the command line.
    Flags,
    /// The package's `[package.metadata.oasis] publish`.
    Manifest,
}

/// The ports to publish: `-p`s when there are any (they replace the
/// package's defaults), else the package's.
/// A built image run as it is has no package, so no defaults.
pub fn effective(flags: &[Publish], dir: Option<&Path>) -> Result<(Vec<Publish>, PublishFrom)> {
    if !flags.is_empty() {
        return Ok((flags.to_vec(), PublishFrom::Flags));
    }
    match dir {
        Some(dir) => Ok((default_publish(dir)?, PublishFrom::Manifest)),
        None => Ok((Vec::new(), PublishFrom::Manifest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::publish::Proto;

    #[test]
    fn reads_the_list_and_nothing_when_absent() {
        let text = "[package]\nname = \"www\"\n\n[package.metadata.oasis]\npublish = [\"8080:80\"]\n";
        let ip = std::net::Ipv4Addr::LOCALHOST;
        assert_eq!(parse_publish(text), Ok(vec![Publish { ip, host: 8080, guest: 80, proto: Proto::Tcp }]));
        let dns = "[package.metadata.oasis]\npublish = [\"5353:53/udp\", \"5353:53/tcp\"]\n";
        assert_eq!(
            parse_publish(dns),
            Ok(vec![
                Publish { ip, host: 5353, guest: 53, proto: Proto::Udp },
                Publish { ip, host: 5353, guest: 53, proto: Proto::Tcp }
            ])
        );
        assert_eq!(parse_publish("[package]\nname = \"hello\"\n"), Ok(vec![]));
        assert_eq!(parse_publish("[package.metadata.other]\nx = 1\n"), Ok(vec![]));
    }

    #[test]
    fn bad_entries_are_refused_naming_them() {
        let e = parse_publish("[package.metadata.oasis]\npublish = \"8080:80\"\n").unwrap_err();
        assert!(e.contains("expected an array of strings"), "{e}");
        let e = parse_publish("[package.metadata.oasis]\npublish = [8080]\n").unwrap_err();
        assert!(e.contains("expected an array of strings"), "{e}");
        let e = parse_publish("[package.metadata.oasis]\npublish = [\"8080:80/sctp\"]\n").unwrap_err();
        assert!(e.contains("\"8080:80/sctp\"") && e.contains("'sctp'"), "{e}");
        let e = parse_publish("[package.metadata.oasis]\npublish = [\"1:2\", \"1:3\"]\n").unwrap_err();
        assert!(e.contains("127.0.0.1:1/tcp is published twice"), "{e}");
        assert!(parse_publish("[package\n").is_err());
    }
}
