//! Boot arguments on a kernel command line: how a VMM runner (`oasis
//! qemu`) passes them and how a guest booted through PVH reads them back.
//!
//! A command line is one string (QEMU's `-append`, Firecracker's
//! `boot_args`). Arguments are separated by spaces or tabs; an argument
//! that starts with `"` runs to the next `"`, and the quotes are not part
//! of it, so an argument may hold spaces or be empty. A `"` anywhere else
//! is an ordinary character. This is Linux's own rule for its command
//! line, so what VMMs append (`virtio_mmio.device=…`) reads the same way.
//!
//! Two kinds of token are the platform's, not the application's:
//! [`SEED_PREFIX`] and [`VIRTIO_MMIO_PREFIX`].

/// The prefix of the seed token: `oasis.seed=` and 64 hex digits (32
/// bytes), the entropy of a guest whose CPU has neither RDRAND nor RDSEED.
pub const SEED_PREFIX: &str = "oasis.seed=";

/// The prefix of the device tokens QEMU's `microvm` and Firecracker append
/// for each virtio-mmio device: `virtio_mmio.device=SIZE@BASE:IRQ`.
pub const VIRTIO_MMIO_PREFIX: &str = "virtio_mmio.device=";

/// Splits a command line into its arguments.
pub fn split(line: &str) -> Split<'_> {
    Split { rest: line }
}

/// The arguments of a command line, in order (see [`split`]).
#[derive(Debug, Clone)]
pub struct Split<'a> {
    rest: &'a str,
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\n'
}

fn is_space_byte(b: &u8) -> bool {
    is_space(char::from(*b))
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    // Byte positions and `get`, not `&s[..]`: the separators are ASCII, so
    // every position is a character boundary, and a guest image carries no
    // string-slicing panic (with its Unicode tables) for it.
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.rest.as_bytes();
        let Some(start) = bytes.iter().position(|b| !is_space_byte(b)) else {
            self.rest = "";
            return None;
        };
        let (from, to, next) = if bytes.get(start) == Some(&b'"') {
            // An unclosed quote runs to the end of the line.
            let to = bytes[start + 1..].iter().position(|&b| b == b'"').map_or(bytes.len(), |i| start + 1 + i);
            (start + 1, to, to + 1)
        } else {
            let to = bytes[start..].iter().position(is_space_byte).map_or(bytes.len(), |i| start + i);
            (start, to, to)
        };
        let token = self.rest.get(from..to).unwrap_or("");
        self.rest = self.rest.get(next..).unwrap_or("");
        Some(token)
    }
}

/// How an argument must be written on a command line for [`split`] to
/// give it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// As it is.
    Plain,
    /// Between double quotes.
    Quoted,
    /// Not at all: it holds a double quote and needs quoting, or a
    /// character [`split`] never returns inside a quoted argument.
    Impossible,
}

/// How `arg` must be written (see [`Quoting`]).
pub fn quoting(arg: &str) -> Quoting {
    let needs = arg.is_empty() || arg.starts_with('"') || arg.contains(is_space);
    if !needs {
        Quoting::Plain
    } else if arg.contains('"') {
        Quoting::Impossible
    } else {
        Quoting::Quoted
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn words(line: &str) -> Vec<&str> {
        split(line).collect()
    }

    #[test]
    fn splits_on_spaces_and_quotes() {
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(words("--ticks 2 \"two words\" \"\" x"), ["--ticks", "2", "two words", "", "x"]);
        assert_eq!(words("a\"b c"), ["a\"b", "c"]);
        assert_eq!(words("\"open quote"), ["open quote"]);
        assert_eq!(words("x \"\"y"), ["x", "", "y"]);
        assert_eq!(
            words("--ticks 1 virtio_mmio.device=512@0xfeb00e00:12"),
            ["--ticks", "1", "virtio_mmio.device=512@0xfeb00e00:12"]
        );
    }

    #[test]
    fn quoting_round_trips() {
        let args = ["plain", "two words", "", "mid\"dle", "tab\there", "ü"];
        let mut line = std::string::String::new();
        for a in args {
            match quoting(a) {
                Quoting::Plain => line.push_str(a),
                Quoting::Quoted => {
                    line.push('"');
                    line.push_str(a);
                    line.push('"');
                }
                Quoting::Impossible => panic!("{a:?} should be writable"),
            }
            line.push(' ');
        }
        assert_eq!(words(&line), args);
        assert_eq!(quoting("\"start"), Quoting::Impossible);
        assert_eq!(quoting("say \"hi\""), Quoting::Impossible);
        assert_eq!(quoting("mid\"dle"), Quoting::Plain);
    }
}
