//! Counting hypercalls and VM exits, for `--stats`.

use std::fmt;

use oasis_abi::nr;

/// Counts by hypercall number, plus tender-specific exit kinds.
#[derive(Clone, Debug)]
pub struct Stats {
    calls: [u64; nr::COUNT as usize],
    /// Other exits by name (hvt: `hlt`, `mmio`, `intr` …), in first-seen order.
    other: Vec<(&'static str, u64)>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats { calls: [0; nr::COUNT as usize], other: Vec::new() }
    }
}

impl Stats {
    /// Counts one hypercall.
    pub fn call(&mut self, number: u64) {
        if let Some(c) = self.calls.get_mut(number as usize) {
            *c += 1;
        }
    }

    /// Counts one exit of another kind. Allocates only the first time a
    /// kind is seen, so call it before the sandbox for kinds that may occur
    /// under it (see `prepare`).
    pub fn other(&mut self, kind: &'static str) {
        match self.other.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.other.push((kind, 1)),
        }
    }

    /// Makes room for `kinds` so counting them later does not allocate.
    pub fn prepare(&mut self, kinds: &[&'static str]) {
        for k in kinds {
            if !self.other.iter().any(|(o, _)| o == k) {
                self.other.push((k, 0));
            }
        }
    }

    /// Hypercalls made of number `n`.
    pub fn calls(&self, n: u64) -> u64 {
        self.calls.get(n as usize).copied().unwrap_or(0)
    }

    /// Every counted event.
    pub fn total(&self) -> u64 {
        self.calls.iter().sum::<u64>() + self.other.iter().map(|(_, n)| n).sum::<u64>()
    }
}

/// The report: one line per kind, then `{label}: TOTAL`.
pub struct Report<'a> {
    /// The counts.
    pub stats: &'a Stats,
    /// What the total counts (`vm-exits`, `hypercalls`).
    pub label: &'static str,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, count) in self.stats.calls.iter().enumerate() {
            if *count > 0 {
                writeln!(f, "  {:<16} {count}", nr::name(n as u64).unwrap_or("?"))?;
            }
        }
        for (kind, count) in &self.stats.other {
            if *count > 0 {
                writeln!(f, "  {kind:<16} {count}")?;
            }
        }
        writeln!(f, "{}: {}", self.label, self.stats.total())
    }
}
