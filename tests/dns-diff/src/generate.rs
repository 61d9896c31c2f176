//! Seeded zones and queries. The same seed gives the same zones and the
//! same queries, so a failure can be replayed.

use oasis_dns::message::{Edns, Flags, Message};
use oasis_dns::{Class, Name, Opcode, Question, RType};

use crate::client::Via;

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with `percent` % probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of the items.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A zone as master-file text, with the names worth asking about.
#[derive(Clone, Debug)]
pub struct GeneratedZone {
    /// The apex, absolute.
    pub origin: String,
    /// The zone file.
    pub text: String,
}

/// Names to ask about, by how they should be found.
#[derive(Clone, Debug, Default)]
pub struct NamePool {
    /// Names with records, empty non-terminals, and names whose children
    /// are interesting (a random label is put in front).
    pub exact: Vec<String>,
    /// Parents below which any label is a miss, a wildcard hit, a
    /// delegation or a DNAME substitution.
    pub parents: Vec<String>,
}

/// The zones for one seed, and the names to ask about.
pub fn zones(seed: u64) -> (Vec<GeneratedZone>, NamePool) {
    let mut rng = Rng::new(seed);
    let mut pool = NamePool::default();
    let e = "example.com.";
    let mut t = String::new();
    let serial = 2024000000 + rng.below(100000);
    t += &format!("$ORIGIN {e}\n$TTL 3600\n");
    t += &format!("@ IN SOA ns1 hostmaster ( {serial} 7200 3600\n  1209600 ; expire\n  300 )\n");
    t += "@ NS ns1\n@ NS ns2\n@ NS ns.other.test.\n@ MX 10 mail\n@ MX 20 mail.other.test.\n@ A 192.0.2.1\n";
    t += "@ TXT \"v=spf1 -all\"\n@ CAA 0 issue \"ca.example.net\"\n@ CAA 128 tbs \"Unknown\"\n";
    t += "ns1 A 192.0.2.53\nns1 AAAA 2001:db8::53\nns2 A 192.0.2.54\nmail A 192.0.2.25\nmail AAAA 2001:db8::25\n";
    let hosts = 10 + rng.below(30);
    for i in 0..hosts {
        let ttl = 60 + rng.below(3000);
        for _ in 0..1 + rng.below(3) {
            t += &format!("host{i} {ttl} A 192.0.2.{}\n", rng.below(256));
        }
        if rng.chance(40) {
            t += &format!("host{i} AAAA 2001:db8::{:x}\n", rng.below(65536));
        }
        if rng.chance(20) {
            t += &format!("host{i} MX {} host{}\n", rng.below(100), rng.below(hosts));
        }
        pool.exact.push(format!("host{i}.{e}"));
    }
    for i in 0..5 + rng.below(5) {
        let mut strings = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let max = if rng.chance(30) { 250 } else { 30 };
            strings.push(format!("\"{}\"", "x".repeat(rng.below(max))));
        }
        t += &format!("txt{i} TXT {}\n", strings.join(" "));
        pool.exact.push(format!("txt{i}.{e}"));
    }
    // RRsets that only fit with EDNS, or not even then over UDP.
    for _ in 0..20 + rng.below(40) {
        t += &format!("big A 192.0.2.{}\n", rng.below(256));
    }
    for i in 0..8 {
        t += &format!("bigtxt TXT \"{i}{}\"\n", "y".repeat(180));
    }
    for i in 0..12 {
        t += &format!("manymx MX {i} host{}\n", i % hosts);
    }
    t += "_sip._tcp SRV 10 60 5060 host0\n_sip._tcp SRV 20 0 5061 mail.other.test.\n";
    t += "_xmpp._tcp SRV 5 0 5222 nohost\n_glue._tcp SRV 1 1 1 ns.sub1\n";
    t += "c1 CNAME c2\nc2 CNAME c3\nc3 CNAME host0\ncloop1 CNAME cloop2\ncloop2 CNAME cloop1\ncself CNAME cself\n";
    t += "cout CNAME www.other.test.\ncext CNAME www.example.org.\ncnx CNAME nothere\ncdeleg CNAME x.sub1\n";
    t += "cwild CNAME foo.wild\ncchild CNAME www.child\ncdname CNAME x.dn\ncmx CNAME manymx\n";
    t += "*.wild A 192.0.2.80\n*.wild MX 10 mail\n*.wild TXT \"wild\"\n";
    t += "*.wc CNAME host1\nx.y.wc TXT \"under an empty non-terminal below a wildcard\"\n";
    t += "*.mxw MX 10 target.wild\na.b.c.ent TXT \"deep\"\n";
    t += "sub1 NS ns.sub1\nsub1 NS ns2.sub1\nns.sub1 A 192.0.2.201\nns2.sub1 AAAA 2001:db8::201\n";
    t += "sub2 NS ns.other.test.\nsub2 NS ns1\n";
    t += "child NS ns.child\nns.child A 192.0.2.210\n";
    t += "dn DNAME other.test.\ndn2 DNAME dn.example.com.\ndnself DNAME dnself.example.com.\n";
    t += &format!("dnlong DNAME {}.{}.other.test.\n", "a".repeat(63), "b".repeat(63));
    t += "dnext DNAME example.org.\n";
    t += "p1 PTR host0\nu1 TYPE65280 \\# 4 deadbeef\nu1 TYPE999 \\# 0\nh1 HINFO \"cpu\" \"os\"\n";
    t += "MiXeD A 192.0.2.99\ndot\\.ted A 192.0.2.98\nesc\\065pe TXT \"tab\\009 and \\\"quote\\\"\"\n";
    t += "a A \\# 4 c0000202\n";
    for name in [
        "",
        "ns1.",
        "ns2.",
        "mail.",
        "big.",
        "bigtxt.",
        "manymx.",
        "_sip._tcp.",
        "_xmpp._tcp.",
        "_glue._tcp.",
        "c1.",
        "c2.",
        "cloop1.",
        "cself.",
        "cout.",
        "cext.",
        "cnx.",
        "cdeleg.",
        "cwild.",
        "cchild.",
        "cdname.",
        "cmx.",
        "y.wc.",
        "x.y.wc.",
        "c.ent.",
        "b.c.ent.",
        "a.b.c.ent.",
        "sub1.",
        "ns.sub1.",
        "ns2.sub1.",
        "sub2.",
        "child.",
        "ns.child.",
        "dn.",
        "dn2.",
        "dnself.",
        "dnlong.",
        "dnext.",
        "p1.",
        "u1.",
        "h1.",
        "mixed.",
        "dot\\.ted.",
        "escape.",
        "a.",
        "_tcp.",
        "wild.",
        "wc.",
        "mxw.",
        "*.wild.",
        "*.wc.",
    ] {
        pool.exact.push(format!("{name}{e}"));
    }
    for parent in [
        "", "wild.", "wc.", "y.wc.", "mxw.", "ent.", "c.ent.", "sub1.", "sub2.", "child.", "dn.", "dn2.", "dnself.",
        "dnlong.", "dnext.", "host1.",
    ] {
        pool.parents.push(format!("{parent}{e}"));
    }
    let example = GeneratedZone { origin: e.into(), text: t };

    let o = "other.test.";
    let mut t = String::new();
    t += &format!("$ORIGIN {o}\n$TTL 120\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 198.51.100.53\n");
    t += "www A 198.51.100.80\nmail A 198.51.100.25\nx A 198.51.100.1\na.deep TXT \"in other\"\n";
    t += "*.wild A 198.51.100.81\ncback CNAME host0.example.com.\n";
    for name in ["", "www.", "mail.", "x.", "deep.", "a.deep.", "cback.", "ns."] {
        pool.exact.push(format!("{name}{o}"));
    }
    pool.parents.push(format!("wild.{o}"));
    pool.parents.push(o.into());
    let other = GeneratedZone { origin: o.into(), text: t };

    let c = "child.example.com.";
    let mut t = String::new();
    t += &format!("$ORIGIN {c}\n$TTL 600\n@ SOA ns.child.example.com. h 5 3600 600 86400 30\n@ NS ns\n");
    t += "ns A 192.0.2.210\nwww A 192.0.2.211\n@ MX 0 www\n";
    for name in ["", "www.", "ns."] {
        pool.exact.push(format!("{name}{c}"));
    }
    pool.parents.push(c.into());
    let child = GeneratedZone { origin: c.into(), text: t };

    for outside in ["example.org.", "www.example.org.", "com.", "."] {
        pool.exact.push(outside.into());
    }
    (vec![example, other, child], pool)
}

/// One query to send to both servers.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The message bytes.
    pub bytes: Vec<u8>,
    /// UDP or TCP.
    pub via: Via,
    /// What it exercises, for reports.
    pub kind: &'static str,
    /// Servers may rate-limit error responses (NSD: 100/s): pace these.
    pub error_path: bool,
    /// No response is expected (QR set).
    pub expect_drop: bool,
}

const QTYPES: &[u16] = &[1, 1, 1, 28, 28, 2, 6, 15, 16, 5, 33, 257, 39, 255, 43, 12, 13, 48, 65280, 999];

fn vary_case(rng: &mut Rng, name: &str) -> String {
    if !rng.chance(40) {
        return name.into();
    }
    name.chars().map(|c| if rng.chance(50) { c.to_ascii_uppercase() } else { c }).collect()
}

fn pick_name(rng: &mut Rng, pool: &NamePool) -> String {
    if rng.chance(5) {
        // The RRsets that need truncation or EDNS.
        format!("{}.example.com.", rng.pick(&["big", "bigtxt", "manymx", "mxw", "x.mxw"]))
    } else if rng.chance(65) {
        rng.pick(&pool.exact).clone()
    } else {
        let parent = rng.pick(&pool.parents).clone();
        let long = "l".repeat(63);
        let label = *rng.pick(&["x", "foo", "nothere", "www", "a-b", "host1", "zz9", "*", long.as_str()]);
        let deeper = match rng.below(8) {
            0 | 1 => "q.".to_string(),
            2 => format!("{}.{}.", "m".repeat(63), "n".repeat(40)),
            _ => String::new(),
        };
        format!("{deeper}{label}.{parent}")
    }
}

fn message(name: &str, qtype: u16, rd: bool, id: u16, edns: Option<Edns>) -> Message {
    let mut m = Message::new(id, Opcode::QUERY);
    m.flags = Flags { rd, cd: false, ..Flags::default() };
    let name = Name::from_text(name, None).unwrap_or_else(|_| Name::root());
    m.questions.push(Question { name, qtype: RType(qtype), qclass: Class::IN });
    m.edns = edns;
    m
}

fn emit(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    // Every generated message is small and well within limits.
    if m.emit(&mut out).is_err() {
        out.clear();
    }
    out
}

/// `count` queries against the zones of [`zones`].
pub fn queries(seed: u64, pool: &NamePool, count: usize) -> Vec<Probe> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut probes = Vec::with_capacity(count);
    for i in 0..count {
        let id = (i as u16).wrapping_mul(7919).wrapping_add(1);
        let via = if rng.chance(25) { Via::Tcp } else { Via::Udp };
        let picked = pick_name(&mut rng, pool);
        let name = vary_case(&mut rng, &picked);
        let qtype = *rng.pick(QTYPES);
        let edns = if rng.chance(35) {
            None
        } else {
            let mut e = Edns::new(*rng.pick(&[0u16, 512, 600, 1000, 1232, 1400, 4096, 65535]), rng.chance(40));
            if rng.chance(15) {
                let len = rng.below(9);
                e.options.push((65001, vec![0xAB; len]));
            }
            Some(e)
        };
        let rd = rng.chance(50);
        let mut m = message(&name, qtype, rd, id, edns);
        let mut probe = Probe { bytes: Vec::new(), via, kind: "query", error_path: false, expect_drop: false };
        if rng.chance(8) {
            special(&mut rng, &mut m, &mut probe);
        } else {
            probe.bytes = emit(&m);
        }
        probes.push(probe);
    }
    probes
}

/// Malformed or unusual messages.
fn special(rng: &mut Rng, m: &mut Message, probe: &mut Probe) {
    probe.error_path = true;
    match rng.below(13) {
        0 if rng.chance(30) => {
            probe.kind = "QR set";
            m.flags.qr = true;
            probe.expect_drop = true;
            probe.bytes = emit(m);
        }
        0 | 1 => {
            probe.kind = "unknown opcode";
            m.opcode = Opcode(*rng.pick(&[1u8, 2, 3, 5, 6, 15]));
            probe.bytes = emit(m);
        }
        2 => {
            probe.kind = "rcode set in query";
            m.rcode = oasis_dns::Rcode(u16::from(*rng.pick(&[1u8, 3, 5])));
            probe.bytes = emit(m);
        }
        3 => {
            probe.kind = "no question";
            m.questions.clear();
            probe.bytes = emit(m);
        }
        4 => {
            probe.kind = "two questions";
            let q = m.questions[0].clone();
            m.questions.push(q);
            probe.bytes = emit(m);
        }
        5 => {
            probe.kind = "record in answer section";
            m.answers.push(oasis_dns::Record {
                name: Name::root(),
                class: Class::IN,
                ttl: 0,
                data: oasis_dns::RData::A([192, 0, 2, 1].into()),
            });
            probe.bytes = emit(m);
        }
        6 => {
            probe.kind = "EDNS version 1";
            let mut e = Edns::new(1232, rng.chance(50));
            e.version = 1;
            m.edns = Some(e);
            probe.bytes = emit(m);
        }
        7 => {
            probe.kind = "two OPT records";
            m.edns = Some(Edns::new(1232, false));
            let mut bytes = emit(m);
            Edns::new(4096, true).emit(&mut bytes);
            bytes[11] += 1;
            probe.bytes = bytes;
        }
        8 => {
            probe.kind = "OPT options overrun";
            m.edns = Some(Edns::new(1232, false));
            let mut bytes = emit(m);
            let n = bytes.len();
            bytes[n - 2..].copy_from_slice(&[0, 3]);
            bytes.extend_from_slice(&[0, 9, 0]);
            probe.bytes = bytes;
        }
        9 => {
            probe.kind = "class not served";
            m.questions[0].qclass = Class(*rng.pick(&[4u16, 254, 2]));
            probe.bytes = emit(m);
        }
        10 => {
            probe.kind = "trailing bytes";
            probe.error_path = false;
            let mut bytes = emit(m);
            bytes.extend_from_slice(&[0xde, 0xad]);
            probe.bytes = bytes;
        }
        11 => {
            probe.kind = "AXFR over UDP";
            probe.via = Via::Udp;
            m.questions[0].qtype = RType::AXFR;
            probe.bytes = emit(m);
        }
        _ => {
            probe.kind = "header only";
            probe.bytes = emit(m);
            probe.bytes.truncate(12);
        }
    }
}
