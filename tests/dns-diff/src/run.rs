//! One differential run: every probe sent to both servers, every pair of
//! responses compared, within a time budget.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::client::exchange;
use crate::compare::{compare, known_difference, summary};
use crate::generate::Probe;

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Probes sent to both.
    pub compared: usize,
    /// Differences of the documented kinds (see [`known_difference`]).
    pub known: usize,
    /// Every other difference, described with the query and both answers.
    pub failures: Vec<String>,
    /// What the probes exercised, by the reference server's answers.
    pub tally: BTreeMap<String, usize>,
    /// The budget ran out before every probe was sent.
    pub out_of_time: bool,
    /// Probes ours missed once and answered when asked again, with what
    /// the first exchange said: a loaded machine (CI on two cores) can
    /// starve a guest past the wait. Shown, and failed when many.
    pub retried: Vec<String>,
}

/// At most one probe in this many may need a second try.
const RETRY_ALLOWANCE: usize = 200;

impl Report {
    /// A summary for test output: counts, the tally, the first failures.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "compared {} responses: {} differ, {} only in the documented ways{}\n",
            self.compared,
            self.failures.len(),
            self.known,
            if self.out_of_time { " (time budget spent)" } else { "" }
        );
        for (kind, n) in &self.tally {
            s += &format!("  {n:5}  {kind}\n");
        }
        if !self.retried.is_empty() {
            s += &format!("  {} probes answered only when sent again:\n", self.retried.len());
            for r in self.retried.iter().take(5) {
                s += &format!("    {r}\n");
            }
        }
        for f in self.failures.iter().take(10) {
            s += &format!("{f}\n\n");
        }
        s
    }
}

/// Sends every probe to `ours` and `theirs` (the reference) and compares
/// the responses. Error-path probes are paced under 100 a second (NSD's
/// error rate limit); the run stops when `budget` is spent.
pub fn run(ours: SocketAddr, theirs: SocketAddr, probes: &[Probe], budget: Duration) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    let mut last_error_query = Instant::now() - Duration::from_secs(1);
    for (i, probe) in probes.iter().enumerate() {
        if started.elapsed() > budget {
            report.out_of_time = true;
            break;
        }
        if probe.error_path {
            let since = last_error_query.elapsed();
            if since < Duration::from_millis(15) {
                std::thread::sleep(Duration::from_millis(15) - since);
            }
            last_error_query = Instant::now();
        }
        let wait = if probe.expect_drop { Duration::from_millis(150) } else { Duration::from_secs(2) };
        let theirs_answer = exchange(theirs, &probe.bytes, probe.via, wait).ok().flatten();
        let mut ours_answer = exchange(ours, &probe.bytes, probe.via, wait);
        if theirs_answer.is_some() && !matches!(ours_answer, Ok(Some(_))) {
            let first = match &ours_answer {
                Ok(_) => format!("no answer in {wait:?}"),
                Err(e) => e.to_string(),
            };
            std::thread::sleep(Duration::from_millis(100));
            ours_answer = exchange(ours, &probe.bytes, probe.via, wait);
            if matches!(ours_answer, Ok(Some(_))) {
                report.retried.push(format!("query {i} ({}, {:?}): {first}", probe.kind, probe.via));
            }
        }
        let ours_answer = ours_answer.ok().flatten();
        report.compared += 1;
        let kind = match theirs_answer.as_deref().map(oasis_dns::message::Message::parse) {
            None => "dropped".to_string(),
            Some(Err(_)) => "unparsable".to_string(),
            Some(Ok(m)) => {
                format!("rcode {} tc {} aa {} answers>0 {}", m.rcode.0, m.flags.tc, m.flags.aa, !m.answers.is_empty())
            }
        };
        *report.tally.entry(kind).or_default() += 1;
        let verdict = match (&ours_answer, &theirs_answer) {
            (None, None) => Ok(()),
            (Some(_), None) => Err("we answered, the reference did not".to_string()),
            (None, Some(_)) => Err("the reference answered, we did not".to_string()),
            (Some(a), Some(b)) => compare(a, b).or_else(|why| {
                known_difference(probe.kind, a, b).ok_or(why)?;
                report.known += 1;
                Ok(())
            }),
        };
        if let Err(why) = verdict {
            report.failures.push(format!(
                "query {i} ({}, {:?}): {why}\n query: {:02x?}\n ours:   {}\n theirs: {}",
                probe.kind,
                probe.via,
                probe.bytes,
                ours_answer.as_deref().map_or("none".into(), summary),
                theirs_answer.as_deref().map_or("none".into(), summary),
            ));
        }
    }
    if report.retried.len() > 1 + report.compared / RETRY_ALLOWANCE {
        report.failures.push(format!(
            "{} of {} probes were answered only when sent again (allowed: 1 in {RETRY_ALLOWANCE})",
            report.retried.len(),
            report.compared
        ));
    }
    report
}
