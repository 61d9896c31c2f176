//! oasis-dns against NSD: the same generated zones served by both, the
//! same generated queries sent to both over UDP and TCP, and every
//! response compared. Skipped, saying so, when NSD is not installed
//! (`scripts/setup` installs it).

use std::time::{Duration, Instant};

use oasis_dns::zone::{ParseOptions, parse_zone};
use oasis_dns::{Catalog, Config, Name, Responder};
use oasis_dns_diff::client::{Via, exchange};
use oasis_dns_diff::compare::{compare, known_difference, summary};
use oasis_dns_diff::generate::{queries, zones};
use oasis_dns_diff::nsd::{EDNS_SIZE, Nsd, find_nsd};
use oasis_dns_diff::shim::Shim;

const SEEDS: [u64; 3] = [1, 0xD15EA5E, 20261204];
const QUERIES_PER_SEED: usize = 2000;
/// The whole run stops after this, whatever is left.
const BUDGET: Duration = Duration::from_secs(240);

#[test]
fn answers_like_nsd() {
    let Some(nsd_binary) = find_nsd() else {
        println!("SKIPPED answers_like_nsd: nsd is not installed (apt-get install nsd, or scripts/setup)");
        return;
    };
    let started = Instant::now();
    let mut compared = 0;
    let mut known = 0;
    let mut failures = Vec::new();
    // What the queries exercised, by NSD's answers: (rcode, TC, AA) and
    // dropped queries.
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for seed in SEEDS {
        let (zone_set, pool) = zones(seed);
        let mut catalog = Catalog::new();
        for z in &zone_set {
            let origin = Name::from_text(&z.origin, None).unwrap();
            let zone = parse_zone(
                z.text.as_bytes(),
                ParseOptions { file_name: &z.origin, origin, default_ttl: None, include: None },
            )
            .unwrap_or_else(|e| panic!("seed {seed}: our parser refuses a zone NSD loads: {e}\n{}", z.text));
            catalog.insert(zone);
        }
        let config = Config { edns_udp_size: EDNS_SIZE, ..Config::default() };
        let shim = Shim::start(Responder::new(catalog, config)).unwrap();
        let dir = std::env::temp_dir().join(format!("oasis-dns-diff-{}-{seed}", std::process::id()));
        let nsd = Nsd::start(&nsd_binary, &dir, &zone_set).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mut last_error_query = Instant::now() - Duration::from_secs(1);
        for (i, probe) in queries(seed, &pool, QUERIES_PER_SEED).iter().enumerate() {
            if started.elapsed() > BUDGET {
                println!("time budget spent after {compared} queries");
                break;
            }
            if probe.error_path {
                // NSD answers at most 100 errors a second; stay under.
                let since = last_error_query.elapsed();
                if since < Duration::from_millis(15) {
                    std::thread::sleep(Duration::from_millis(15) - since);
                }
                last_error_query = Instant::now();
            }
            let wait = if probe.expect_drop { Duration::from_millis(150) } else { Duration::from_secs(2) };
            let theirs = exchange(nsd.addr, &probe.bytes, probe.via, wait).unwrap();
            let ours = exchange(shim.addr, &probe.bytes, probe.via, wait).unwrap();
            compared += 1;
            let kind = match theirs.as_deref().map(oasis_dns::message::Message::parse) {
                None => "dropped".to_string(),
                Some(Err(_)) => "unparsable".to_string(),
                Some(Ok(m)) => format!(
                    "rcode {} tc {} aa {} answers>0 {}",
                    m.rcode.0,
                    m.flags.tc,
                    m.flags.aa,
                    !m.answers.is_empty()
                ),
            };
            *tally.entry(kind).or_default() += 1;
            let verdict = match (&ours, &theirs) {
                (None, None) => Ok(()),
                (Some(_), None) => Err("we answered, NSD did not".to_string()),
                (None, Some(_)) => Err("NSD answered, we did not".to_string()),
                (Some(a), Some(b)) => compare(a, b).or_else(|why| {
                    known_difference(probe.kind, a, b).ok_or(why)?;
                    known += 1;
                    Ok(())
                }),
            };
            if let Err(why) = verdict {
                failures.push(format!(
                    "seed {seed} query {i} ({}, {:?}): {why}\n query: {:02x?}\n ours:   {}\n theirs: {}",
                    probe.kind,
                    probe.via,
                    probe.bytes,
                    ours.as_deref().map_or("none".into(), summary),
                    theirs.as_deref().map_or("none".into(), summary),
                ));
            }
        }
        if !failures.is_empty() {
            println!("NSD log:\n{}", nsd.log());
        }
        drop(nsd);
        drop(shim);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("compared {compared} responses with NSD: {} differ, {known} only in the documented ways", failures.len());
    for (kind, n) in &tally {
        println!("  {n:5}  {kind}");
    }
    for f in failures.iter().take(15) {
        println!("{f}\n");
    }
    assert!(failures.is_empty(), "{} of {compared} responses differ from NSD's", failures.len());
    assert!(compared >= 5000 || started.elapsed() > BUDGET, "only {compared} queries compared");
    let _ = Via::Udp;
}
