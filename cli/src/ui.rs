//! How the CLI talks: quiet unless `-v`, colour only on a terminal (and
//! not with `NO_COLOR`), a progress line that only a terminal sees, and
//! notes said once rather than on every run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Sets `-v/--verbose` for the whole command.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether `-v/--verbose` was given: cargo's own output is then shown.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Whether stderr is a terminal (the progress line is for people only).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether to colour a stream that is a terminal or not: a terminal, and
/// `NO_COLOR` unset (no-color.org).
fn colour_for(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether to colour stderr.
pub fn colour() -> bool {
    colour_for(stderr_is_terminal())
}

/// `text` in ANSI colour `code` when stderr is coloured.
pub fn paint(text: &str, code: &str) -> String {
    painted(text, code, colour())
}

/// `text` in ANSI colour `code` when stdout is coloured.
pub fn paint_stdout(text: &str, code: &str) -> String {
    painted(text, code, colour_for(std::io::stdout().is_terminal()))
}

fn painted(text: &str, code: &str, on: bool) -> String {
    if on { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

/// Red, for "error:".
pub const RED: &str = "1;31";
/// Green, for "ok".
pub const GREEN: &str = "32";
/// Yellow, for notes.
pub const YELLOW: &str = "33";

/// Prints `oasis: error: MESSAGE` on stderr.
pub fn error(message: &str) {
    eprintln!("oasis: {} {message}", paint("error:", RED));
}

/// A line on stderr rewritten in place while something runs; only shown on
/// a terminal, and erased when dropped so the output that follows starts
/// on a clean line.
#[derive(Debug)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Starts one (shown only when stderr is a terminal).
    pub fn new() -> Progress {
        Progress { shown: stderr_is_terminal() }
    }

    /// Replaces the line with `text`, cut to a terminal's width so it never wraps.
    pub fn set(&self, text: &str) {
        if self.shown {
            let cut: String = text.chars().take(78).collect();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K{cut}");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// Where `oasis` keeps its data: `$XDG_DATA_HOME/oasis`, else
/// `~/.local/share/oasis`.
pub fn data_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("XDG_DATA_HOME").map(|d| d.join("oasis")).or_else(|| var("HOME").map(|h| h.join(".local/share/oasis")))
}

/// Whether the note `key` is still to be said, recording that it has been:
/// a note that holds for the machine (software-emulated KVM) is news once,
/// noise on every run after. When the record cannot be kept the note is
/// said every time rather than never.
pub fn first_time(key: &str) -> bool {
    let Some(dir) = data_dir().map(|d| d.join("notes")) else { return true };
    let file = dir.join(key);
    if file.exists() {
        return false;
    }
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, b""));
    true
}
