//! Prints the responder's cost per query on a 100,000-record zone, for the
//! fast path (answers served from precomputed templates) and the slow
//! path (answer computed, no cache). Not a test: no timing is asserted.
//!
//!     cargo run --release -p oasis-dns --example bench

use std::hint::black_box;
use std::time::Instant;

use oasis_dns::message::Message;
use oasis_dns::zone::{ParseOptions, parse_zone};
use oasis_dns::{Catalog, Class, Config, Edns, Name, Opcode, Question, RType, Responder, Transport};

const RECORDS: usize = 100_000;
const DISTINCT_QUERIES: usize = 20_000;
const ROUNDS: usize = 30;

fn main() {
    let mut text = String::from("$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n");
    text += "ns1 A 192.0.2.1\nns2 A 192.0.2.2\n@ MX 10 mail\nmail A 192.0.2.3\n*.wild A 192.0.2.4\n";
    let mut n = 8;
    let mut i = 0;
    while n < RECORDS {
        text += &format!("host{i} A 10.{}.{}.{}\n", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        n += 1;
        if i % 4 == 0 && n < RECORDS {
            text += &format!("host{i} AAAA 2001:db8::{:x}:{:x}\n", i >> 16, i & 0xffff);
            n += 1;
        }
        if i % 10 == 0 && n < RECORDS {
            text += &format!("alias{i} CNAME host{i}\n");
            n += 1;
        }
        i += 1;
    }
    let origin = Name::from_text("example.com.", None).expect("origin");
    let started = Instant::now();
    let zone =
        parse_zone(text.as_bytes(), ParseOptions { file_name: "bench", origin, default_ttl: None, include: None })
            .expect("zone loads");
    println!("zone: {} records, parsed in {:.0} ms", zone.record_count(), started.elapsed().as_secs_f64() * 1e3);
    let mut catalog = Catalog::new();
    catalog.insert(zone);

    // A mix like a real load: mostly hits, some misses, varied case, EDNS.
    let mut queries = Vec::with_capacity(DISTINCT_QUERIES);
    let mut seed = 0x1234_5678_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for q in 0..DISTINCT_QUERIES {
        let r = next();
        let host = (r >> 8) as usize % i;
        let (name, qtype) = match r % 10 {
            0 => (format!("alias{}.example.com.", host / 10 * 10), RType::A),
            1 => (format!("nothere{host}.example.com."), RType::A),
            2 => (format!("host{host}.example.com."), RType::AAAA),
            3 => (format!("x{host}.wild.example.com."), RType::A),
            4 => (format!("HoSt{host}.ExAmple.com."), RType::A),
            _ => (format!("host{host}.example.com."), RType::A),
        };
        let mut m = Message::new(q as u16, Opcode::QUERY);
        m.flags.rd = r & 1 == 0;
        m.questions.push(Question { name: Name::from_text(&name, None).expect("name"), qtype, qclass: Class::IN });
        if r % 3 != 0 {
            m.edns = Some(Edns::new(1232, r % 7 == 0));
        }
        let mut bytes = Vec::new();
        m.emit(&mut bytes).expect("query");
        queries.push(bytes);
    }
    let transport = Transport::Udp { max: 1232 };
    let mut out = Vec::with_capacity(1500);

    let mut slow = Responder::new(catalog.clone(), Config { cache_bytes: 0, ..Config::default() });
    let started = Instant::now();
    for q in &queries {
        black_box(slow.respond(black_box(q), transport, &mut out));
    }
    let slow_ns = started.elapsed().as_nanos() as f64 / queries.len() as f64;

    let mut fast = Responder::new(catalog, Config::default());
    for q in &queries {
        fast.respond(q, transport, &mut out);
    }
    // The machine is shared: report the best and the median round.
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for q in &queries {
            black_box(fast.respond(black_box(q), transport, &mut out));
        }
        rounds.push(started.elapsed().as_nanos() as f64 / queries.len() as f64);
    }
    rounds.sort_by(f64::total_cmp);
    let (fast_ns, median_ns) = (rounds[0], rounds[ROUNDS / 2]);
    let (entries, bytes) = fast.cache_stats();
    println!("slow path (answer computed): {slow_ns:.0} ns/query");
    println!(
        "fast path (template patched): {fast_ns:.0} ns/query best, {median_ns:.0} median = {:.2} M queries/s on one core ({entries} templates, {} KiB)",
        1e3 / fast_ns,
        bytes / 1024
    );
}
