//! The dns unikernel driven by real tools. On the unix target it serves
//! on loopback through the host's sockets; on spt (and hvt, with a tiny
//! workload) on a TAP in a namespace of the test's own, where the clients
//! run too. Checked here:
//!
//! - `dig` for every kind of answer (positive, CNAME chains, NXDOMAIN,
//!   NODATA, wildcards, referrals with glue, DNAME, truncation and TCP,
//!   refusals), TCP pipelining, the idle timeout and the connection limit;
//! - every response to thousands of generated queries, UDP and TCP,
//!   against NSD serving the same zones (`tests/dns-diff`);
//! - dynamic updates from `nsupdate` (TSIG-signed, prerequisites, refusals)
//!   that survive a SIGKILL, and signed AXFR only for secondaries;
//! - NSD and Knot as secondaries of our primary (after our NOTIFY), and
//!   our secondary of an NSD primary (NOTIFY, AXFR, a restart without the
//!   primary);
//! - malformed queries (garbage, truncations, pointer loops, counts past
//!   the end) answered FORMERR or dropped, never a crash;
//! - a zone that does not load, and wrong arguments, stop the server with
//!   a message naming them;
//! - SIGKILL of the spt tender mid-update, many times: every acknowledged
//!   update is there after the restart and the zone transfers whole.
//!
//! Tests whose tools are missing say `SKIPPED name: reason` (run
//! scripts/setup). Tests that need a namespace on spt run their clients
//! in it by running one of this binary's ignored tests there
//! (`in_namespace`), with what to do in the environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oasis_dns::message::Message;
use oasis_dns::{Name, RType, Rcode};
use oasis_dns_diff::client::{Via, exchange};
use oasis_dns_diff::generate::{GeneratedZone, NamePool, Rng, queries, zones};
use oasis_dns_diff::nsd::{Nsd, find_nsd, free_port};
use oasis_testkit::{
    Invocation, Need, NetNs, Running, Target, kvm_is_emulated, netns_available, run, skip, workspace_root,
};

const BOOT_LIMIT: Duration = Duration::from_secs(120);
const LIMIT: Duration = Duration::from_secs(120);
/// The zones of `tests/dns-diff`'s generator for this seed are the test
/// image's zones.
const SEED: u64 = 1;
const SECRET: &str = "c2VjcmV0IGZvciB0aGUgZG5zIHVuaWtlcm5lbCB0ZXN0cw==";
const GUEST: &str = "10.0.0.2";
const HOST_SIDE: &str = "10.0.0.1";

// ---------------------------------------------------------------- images

/// Which zones an image has compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Zones {
    /// The generator's zones for [`SEED`].
    Test,
    /// A set with a broken file.
    Bad,
}

fn test_zones() -> (Vec<GeneratedZone>, NamePool) {
    zones(SEED)
}

fn zone_dir(zones: Zones) -> PathBuf {
    let dir = workspace_root().join(format!("target/oasis/dns-zones-{zones:?}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    match zones {
        Zones::Test => {
            for z in test_zones().0 {
                std::fs::write(dir.join(format!("{}zone", z.origin)), &z.text).unwrap();
            }
        }
        Zones::Bad => {
            std::fs::write(dir.join("good.test.zone"), "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n")
                .unwrap();
            std::fs::write(
                dir.join("broken.test.zone"),
                "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.300\n",
            )
            .unwrap();
        }
    }
    dir
}

/// The dns image with `zones` compiled in, for the guest targets or the
/// unix one; built once per test process (the builds share one target
/// directory, so they take turns and the results are copied out).
fn image(zones: Zones, guest: bool) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(Zones, bool), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(&(zones, guest)) {
        return p.clone();
    }
    let root = workspace_root();
    let dir = zone_dir(zones);
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(&root)
        .env("CARGO_TARGET_DIR", root.join("target/oasis"))
        .env("OASIS_KV_ZONES", &dir)
        .args(["build", "--quiet", "-p", "dns"]);
    let out = if guest {
        c.args(["--profile", "guest", "--target", "x86_64-unknown-none"]);
        root.join("target/oasis/x86_64-unknown-none/guest/dns")
    } else {
        c.arg("--release");
        root.join("target/oasis/release/dns")
    };
    let status = c.status().expect("running cargo");
    assert!(status.success(), "building dns failed: {c:?}");
    let copy = root.join(format!("target/oasis/dns-images/{zones:?}-{}", if guest { "guest" } else { "unix" }));
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&out, &copy).unwrap();
    built.insert((zones, guest), copy.clone());
    copy
}

fn oasis() -> PathBuf {
    oasis_testkit::oasis_binary()
}

fn disk(name: &str, size: u64) -> PathBuf {
    let dir = workspace_root().join("target/oasis/dns-test-disks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    path
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oasis-dns-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------- servers

/// The targets a test runs on: unix always; the tenders where namespaces
/// can be made; hvt only when `tiny` (its KVM is emulated here).
fn targets(test: &str, tiny_ok: bool) -> Vec<&'static Target> {
    let netns = netns_available();
    oasis_testkit::targets(test)
        .into_iter()
        .filter(|t| {
            if !t.is_tender() {
                return true;
            }
            if let Err(why) = &netns {
                skip(&format!("{test} on {}", t.name), why);
                return false;
            }
            if t.needs.contains(&Need::Kvm) && !tiny_ok {
                return false;
            }
            true
        })
        .collect()
}

fn tiny(target: &Target) -> bool {
    target.needs.contains(&Need::Kvm) && kvm_is_emulated()
}

/// A running dns server and where to reach it.
struct Dns {
    guest: Running,
    ns: Option<NetNs>,
    addr: SocketAddr,
    target: &'static Target,
    image: PathBuf,
    disk: PathBuf,
    args: Vec<String>,
}

fn command(target: &Target, ns: Option<&NetNs>, image: &Path, disk: &Path, port: u16, args: &[String]) -> Command {
    let oasis = oasis();
    let mut run = Invocation::new(&oasis, image);
    run.blocks = vec![("storage".into(), disk.to_path_buf())];
    let mut guest_args: Vec<String> = vec!["--port".into(), port.to_string()];
    guest_args.extend(args.iter().cloned());
    if let Some(ns) = ns {
        run.mem = Some("64M");
        run.nets = vec![("service".into(), "tap0".into())];
        guest_args.splice(0..0, ["--ipv4".to_string(), format!("{GUEST}/24")]);
        run.args = guest_args.into_iter().map(Into::into).collect();
        return ns.command_argv(&target.command(&run));
    }
    run.args = guest_args.into_iter().map(Into::into).collect();
    oasis_testkit::argv_command(&target.command(&run))
}

fn image_for(target: &Target, zones: Zones) -> PathBuf {
    image(zones, target.is_tender())
}

/// Boots the test image on `target` with `disk` and `args`; on unix at
/// `port` (0: a free one).
fn boot_on(target: &'static Target, disk: &Path, port: u16, args: &[&str]) -> Dns {
    let image = image_for(target, Zones::Test);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (ns, addr) = if target.is_tender() {
        let ns = NetNs::create().unwrap();
        ns.add_tap("tap0", &[&format!("{HOST_SIDE}/24")]).unwrap();
        (Some(ns), SocketAddr::new(GUEST.parse().unwrap(), 53))
    } else {
        let port = if port == 0 { free_port().unwrap() } else { port };
        (None, SocketAddr::from(([127, 0, 0, 1], port)))
    };
    let mut guest = Running::spawn(&mut command(target, ns.as_ref(), &image, disk, addr.port(), &args));
    guest.wait_for("serving ", BOOT_LIMIT);
    Dns { guest, ns, addr, target, image, disk: disk.to_path_buf(), args }
}

fn boot(target: &'static Target, disk: &Path, args: &[&str]) -> Dns {
    boot_on(target, disk, 0, args)
}

impl Dns {
    /// SIGKILLs it and boots it again on the same disk, network and port.
    fn restart(self) -> Dns {
        let Dns { guest, ns, addr, target, image, disk, args } = self;
        guest.stop();
        let mut guest = Running::spawn(&mut command(target, ns.as_ref(), &image, &disk, addr.port(), &args));
        guest.wait_for("serving ", BOOT_LIMIT);
        Dns { guest, ns, addr, target, image, disk, args }
    }

    fn tool(&self, program: &str) -> Command {
        match &self.ns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    /// `dig @server ARGS` (two tries of two seconds), its output.
    fn dig(&self, args: &[&str]) -> String {
        let mut c = self.tool("dig");
        c.arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.addr.port().to_string(), "+time=2", "+tries=2"])
            .args(args);
        let out = run(&mut c, LIMIT);
        assert!(!out.timed_out, "dig {args:?} timed out\n{}", self.guest.output());
        out.stdout
    }

    fn short(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["+short"];
        a.extend_from_slice(args);
        self.dig(&a).lines().map(str::to_string).collect()
    }

    /// `nsupdate` with `script` (server and port put first), signed with
    /// `key` (`hmac-sha256:NAME:SECRET`) when given: (succeeded, output).
    fn nsupdate(&self, key: Option<&str>, script: &str) -> (bool, String) {
        // One file per call: tests run in parallel, and a script shared
        // between them would send one test's update to another's server.
        static SCRIPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SCRIPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("oasis-dns-test-{}-nsupdate-{n}", std::process::id()));
        std::fs::write(&path, format!("server {} {}\n{script}\nsend\n", self.addr.ip(), self.addr.port())).unwrap();
        let mut c = self.tool("nsupdate");
        c.args(["-t", "5"]);
        if let Some(k) = key {
            c.args(["-y", k]);
        }
        c.arg(&path);
        let out = run(&mut c, LIMIT);
        let _ = std::fs::remove_file(&path);
        (out.status == Some(0), format!("{}{}", out.stdout, out.stderr))
    }
}

fn status(dig_output: &str) -> String {
    dig_output.split("status: ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("none").to_string()
}

fn flags(dig_output: &str) -> String {
    dig_output.split("flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or_default().to_string()
}

/// Polls `check` every 100 ms for at most `limit`.
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {limit:?}");
}

/// Runs this binary's `in_namespace` test inside `ns`, with `role` and
/// `vars` in its environment; panics with its output unless it passed.
fn in_ns(ns: &NetNs, role: &str, vars: &[(&str, String)], server: &Dns) {
    let exe = std::env::current_exe().unwrap();
    let mut c = ns.command_argv(&[
        exe.into(),
        "in_namespace".into(),
        "--exact".into(),
        "--include-ignored".into(),
        "--nocapture".into(),
    ]);
    c.env("DNS_TEST_ROLE", role).env("DNS_TEST_SERVER", server.addr.to_string());
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = run(&mut c, Duration::from_secs(900));
    println!("{}", out.stdout);
    assert!(
        out.status == Some(0) && out.stdout.contains("in_namespace: done"),
        "{role} in the namespace failed:\n{}{}\n--- server ---\n{}",
        out.stdout,
        out.stderr,
        server.guest.output()
    );
}

/// What a test asks of a process run inside its namespace.
#[test]
#[ignore = "run by other tests inside their namespaces"]
fn in_namespace() {
    let Ok(role) = std::env::var("DNS_TEST_ROLE") else { return };
    let server: SocketAddr = std::env::var("DNS_TEST_SERVER").unwrap().parse().unwrap();
    match role.as_str() {
        "diff" => differential(server),
        "malformed" => malformed(server),
        other => panic!("unknown role {other}"),
    }
    println!("in_namespace: done");
}

// ---------------------------------------------------------------- dig

#[test]
fn dig_sees_every_kind_of_answer() {
    for target in targets("dig_sees_every_kind_of_answer", true) {
        let disk = disk(&format!("dig-{}.img", target.name), 16 << 20);
        let dns = boot(target, &disk, &[]);
        let soa = dns.short(&["example.com", "SOA"]);
        assert!(soa.len() == 1 && soa[0].starts_with("ns1.example.com. hostmaster.example.com. "), "{soa:?}");
        assert_eq!(dns.short(&["+tcp", "www.other.test", "A"]), ["198.51.100.80"]);
        if tiny(target) {
            continue;
        }
        assert_eq!(dns.short(&["ns1.example.com", "A"]), ["192.0.2.53"]);
        // A CNAME chain, followed inside the zone.
        let chain = dns.short(&["c1.example.com", "A"]);
        assert_eq!(chain[..3], ["c2.example.com.", "c3.example.com.", "host0.example.com."], "{chain:?}");
        assert!(chain.len() > 3, "{chain:?}");
        // NXDOMAIN and NODATA carry the SOA, authoritatively.
        let nx = dns.dig(&["nothere.example.com", "A"]);
        assert_eq!(status(&nx), "NXDOMAIN", "{nx}");
        assert!(flags(&nx).contains("aa") && nx.contains("IN\tSOA\tns1.example.com."), "{nx}");
        let nodata = dns.dig(&["ns1.example.com", "MX"]);
        assert_eq!(status(&nodata), "NOERROR");
        assert!(nodata.contains("ANSWER: 0") && nodata.contains("IN\tSOA"), "{nodata}");
        // Wildcards, a referral with glue, DNAME, a child zone.
        assert_eq!(dns.short(&["anything.wild.example.com", "A"]), ["192.0.2.80"]);
        let referral = dns.dig(&["+norec", "x.sub1.example.com", "A"]);
        assert_eq!(status(&referral), "NOERROR");
        assert!(!flags(&referral).contains("aa"), "{referral}");
        assert!(referral.contains("IN\tNS\tns.sub1.example.com.") && referral.contains("192.0.2.201"), "{referral}");
        let dname = dns.short(&["www.dn.example.com", "A"]);
        assert!(
            dname.contains(&"other.test.".to_string()) && dname.contains(&"198.51.100.80".to_string()),
            "{dname:?}"
        );
        let child = dns.dig(&["www.child.example.com", "A"]);
        assert!(flags(&child).contains("aa") && child.contains("192.0.2.211"), "{child}");
        // Outside our zones: REFUSED.
        assert_eq!(status(&dns.dig(&["example.org", "A"])), "REFUSED");
        // A large RRset: truncated over UDP without EDNS, whole over TCP.
        let truncated = dns.dig(&["+noedns", "+ignore", "big.example.com", "A"]);
        assert!(flags(&truncated).contains("tc"), "{truncated}");
        assert!(dns.short(&["+tcp", "big.example.com", "A"]).len() >= 20);
        // The question comes back as asked.
        assert!(dns.dig(&["MiXeD.ExAmPlE.cOm", "A"]).contains(";MiXeD.ExAmPlE.cOm."));
        // Transfers are for configured secondaries only.
        assert!(dns.dig(&["example.com", "AXFR"]).contains("Transfer failed"));
        // Updates need keys; without any configured they are not implemented.
        let (ok, out) = dns.nsupdate(None, "zone example.com\nupdate add u.example.com 60 A 192.0.2.9");
        assert!(!ok && out.contains("NOTIMP"), "{out}");
    }
}

// ---------------------------------------------------------------- NSD diff

/// Queries from the generator, for the test zones.
fn probes(count: usize) -> Vec<oasis_dns_diff::generate::Probe> {
    let (_, pool) = test_zones();
    queries(SEED, &pool, count)
}

/// The probes to compare where the two servers differ by design: UPDATEs
/// left out when ours takes them (with keys: unsigned ones are REFUSED,
/// where NSD, which has no updates, says NOTIMP), and ANY left out
/// against an NSD secondary (which of the RRsets NSD answers ANY with
/// follows the order it stored them in, which for a transferred zone is
/// not the zone file's).
fn comparable(count: usize, updates: bool, any: bool) -> Vec<oasis_dns_diff::generate::Probe> {
    probes(count)
        .into_iter()
        .filter(|p| updates || p.bytes.get(2).is_none_or(|b| (b >> 3) & 0x0F != 5))
        .filter(|p| {
            any || !(p.kind == "query"
                && Message::parse(&p.bytes).is_ok_and(|m| m.questions.first().is_some_and(|q| q.qtype == RType::ANY)))
        })
        .collect()
}

/// Starts NSD with the test zones on 127.0.0.1 (in whatever namespace
/// this process is in) and compares every generated query's response.
fn differential(ours: SocketAddr) {
    let nsd_binary = find_nsd().expect("nsd");
    let dir = tmp_dir("diff-nsd");
    let (zone_set, _) = test_zones();
    let nsd = Nsd::start(&nsd_binary, &dir, &zone_set).unwrap();
    let probes = probes(6000);
    let report = oasis_dns_diff::run::run(ours, nsd.addr, &probes, Duration::from_secs(400));
    println!("{}", report.describe());
    assert!(report.failures.is_empty(), "{} responses differ from NSD's", report.failures.len());
    assert!(report.compared >= 5000, "only {} compared", report.compared);
    let tcp = probes.iter().take(report.compared).filter(|p| p.via == Via::Tcp).count();
    println!("{tcp} of them over TCP");
}

#[test]
fn answers_like_nsd() {
    if find_nsd().is_none() {
        skip("answers_like_nsd", "nsd is not installed (scripts/setup installs it)");
        return;
    }
    for target in targets("answers_like_nsd", false) {
        let disk = disk(&format!("diff-{}.img", target.name), 16 << 20);
        let dns = boot(target, &disk, &[]);
        match &dns.ns {
            None => differential(dns.addr),
            Some(ns) => in_ns(ns, "diff", &[], &dns),
        }
        assert!(dns.guest.output().contains("serving "), "still running");
        println!("answers_like_nsd on {}: passed", target.name);
    }
}

// ---------------------------------------------------------------- updates

fn key_arg(name: &str) -> String {
    format!("{name}:hmac-sha256:{SECRET}")
}

fn dig_key(name: &str) -> String {
    format!("hmac-sha256:{name}:{SECRET}")
}

fn serial(dns: &Dns, zone: &str) -> u32 {
    let soa = dns.short(&[zone, "SOA"]);
    soa.first().and_then(|s| s.split_whitespace().nth(2)).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn signed_updates_are_stored_and_survive_a_kill() {
    for target in targets("signed_updates_are_stored_and_survive_a_kill", false) {
        let disk = disk(&format!("update-{}.img", target.name), 32 << 20);
        let transfer_from = if target.is_tender() { HOST_SIDE } else { "127.0.0.1" };
        let key = key_arg("upd.");
        let dns = boot(target, &disk, &["--key", &key, "--secondary", transfer_from]);
        let k = dig_key("upd.");
        let before = serial(&dns, "example.com");
        let (ok, out) = dns.nsupdate(
            Some(&k),
            "zone example.com\nupdate add new.example.com 300 A 192.0.2.77\nupdate add new.example.com 300 TXT \"hi\"",
        );
        assert!(ok, "{out}\n{}", dns.guest.output());
        assert_eq!(dns.short(&["new.example.com", "A"]), ["192.0.2.77"]);
        assert_eq!(dns.short(&["new.example.com", "TXT"]), ["\"hi\""]);
        assert_eq!(serial(&dns, "example.com"), before.wrapping_add(1));
        // Unsigned, and signed with a wrong secret: refused.
        let (ok, out) = dns.nsupdate(None, "zone example.com\nupdate add bad.example.com 60 A 192.0.2.1");
        assert!(!ok && out.contains("REFUSED"), "{out}");
        let wrong = "hmac-sha256:upd.:d3JvbmcgZG5zIHRlc3Qgc2VjcmV0IGJ5dGVz";
        let (ok, out) = dns.nsupdate(Some(wrong), "zone example.com\nupdate add bad.example.com 60 A 192.0.2.1");
        assert!(!ok, "{out}");
        assert!(dns.short(&["bad.example.com", "A"]).is_empty());
        // A failed prerequisite changes nothing.
        let (ok, out) = dns.nsupdate(
            Some(&k),
            "zone example.com\nprereq nxdomain new.example.com\nupdate add p.example.com 60 A 192.0.2.2",
        );
        assert!(!ok && out.contains("YXDOMAIN"), "{out}");
        // Deletions.
        let (ok, out) = dns.nsupdate(Some(&k), "zone example.com\nupdate delete host1.example.com A");
        assert!(ok, "{out}");
        assert!(dns.short(&["host1.example.com", "A"]).is_empty());
        let after = serial(&dns, "example.com");
        assert_eq!(after, before.wrapping_add(2));
        // Transfers: signed from the secondary's address, not unsigned.
        let axfr = dns.dig(&["-y", &k, "example.com", "AXFR"]);
        assert!(axfr.contains("new.example.com.") && axfr.contains("XFR size"), "{axfr}");
        assert!(dns.dig(&["example.com", "AXFR"]).contains("Transfer failed"));
        // IXFR is answered AXFR-style.
        let ixfr = dns.dig(&["-y", &k, "example.com", "IXFR=1"]);
        assert!(ixfr.contains("new.example.com."), "{ixfr}");
        // A hard stop: what was acknowledged is on the disk.
        let dns = dns.restart();
        assert!(dns.guest.output().contains("serving the stored copy"), "{}", dns.guest.output());
        assert_eq!(dns.short(&["new.example.com", "A"]), ["192.0.2.77"]);
        assert!(dns.short(&["host1.example.com", "A"]).is_empty());
        assert_eq!(serial(&dns, "example.com"), after);
        let (ok, out) = dns.nsupdate(Some(&k), "zone example.com\nupdate add later.example.com 60 A 192.0.2.78");
        assert!(ok, "{out}");
        assert_eq!(dns.short(&["later.example.com", "A"]), ["192.0.2.78"]);
        println!("signed_updates_are_stored_and_survive_a_kill on {}: passed", target.name);
    }
}

// ---------------------------------------------------------------- secondaries

fn nsd_server_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
         ipv4-edns-size: 1232\n  round-robin: no\n  minimal-responses: no\n  refuse-any: no\n  hide-version: yes\n  \
         verbosity: 2\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n\
         key:\n  name: \"xfr.\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n"
    )
}

/// NSD as a secondary of ours for `zones`.
fn nsd_secondary(dir: &Path, port: u16, primary: SocketAddr, zones: &[&str]) -> Running {
    let mut conf = nsd_server_conf(dir, port);
    for z in zones {
        conf += &format!(
            "zone:\n  name: \"{z}\"\n  zonefile: \"{z}zone\"\n  allow-notify: 127.0.0.1 xfr.\n  \
             request-xfr: AXFR 127.0.0.1@{} xfr.\n",
            primary.port()
        );
    }
    std::fs::write(dir.join("nsd.conf"), conf).unwrap();
    Running::spawn(Command::new(find_nsd().unwrap()).arg("-d").arg("-c").arg(dir.join("nsd.conf")))
}

fn find_knotd() -> Option<PathBuf> {
    ["/usr/sbin/knotd", "/usr/local/sbin/knotd"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Knot as a secondary of ours for `zones`, one worker of each kind.
fn knot_secondary(dir: &Path, port: u16, primary: SocketAddr, zones: &[&str]) -> Running {
    let d = dir.display();
    let mut conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n  udp-workers: 1\n  tcp-workers: 1\n  \
         background-workers: 1\n\
         log:\n  - target: stdout\n    any: info\n\
         database:\n  storage: \"{d}\"\n\
         key:\n  - id: xfr.\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
         remote:\n  - id: primary\n    address: 127.0.0.1@{}\n    key: xfr.\n\
         acl:\n  - id: from_primary\n    address: 127.0.0.1\n    key: xfr.\n    action: notify\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    zonefile-load: none\n    \
         journal-content: none\n\
         zone:\n",
        primary.port()
    );
    for z in zones {
        conf += &format!("  - domain: {z}\n    master: primary\n    acl: from_primary\n");
    }
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    Running::spawn(Command::new(find_knotd().unwrap()).arg("-c").arg(dir.join("knot.conf")))
}

/// The serial `server` serves for `zone`, over UDP.
fn serial_at(server: SocketAddr, zone: &str) -> Option<u32> {
    let answer =
        exchange(server, &oasis_dns_diff::nsd::soa_query(zone), Via::Udp, Duration::from_millis(500)).ok().flatten()?;
    let m = Message::parse(&answer).ok()?;
    m.answers.iter().find_map(|r| match &r.data {
        oasis_dns::RData::Soa(s) => Some(s.serial),
        _ => None,
    })
}

/// The answer section of `server`'s response to `probe`, as comparable
/// text (RRsets sorted inside), with the rcode.
fn answer_text(server: SocketAddr, name: &str, qtype: RType) -> String {
    answer_in(server, name, qtype, true)
}

/// Which of the test zones `name` is in (the longest apex above it).
fn zone_of(name: &Name) -> Option<&'static str> {
    TEST_ZONES.iter().filter(|z| name.ends_with(&Name::from_text(z, None).unwrap())).max_by_key(|z| z.len()).copied()
}

/// [`answer_text`]; unless `same_zone`, only the records in the zone of
/// the question (Knot does not follow a CNAME chain into another zone it
/// serves, where NSD and we do: RFC 1034 §4.3.2 leaves it open).
fn answer_in(server: SocketAddr, name: &str, qtype: RType, same_zone: bool) -> String {
    let mut m = Message::new(7, oasis_dns::Opcode::QUERY);
    m.questions.push(oasis_dns::Question {
        name: Name::from_text(name, None).unwrap(),
        qtype,
        qclass: oasis_dns::Class::IN,
    });
    let mut q = Vec::new();
    m.emit(&mut q).unwrap();
    let Some(bytes) = exchange(server, &q, Via::Tcp, Duration::from_secs(2)).ok().flatten() else {
        return "no answer".into();
    };
    let Ok(r) = Message::parse(&bytes) else { return "unparsable".into() };
    let mut records: Vec<String> = r
        .answers
        .iter()
        .filter(|record| same_zone || zone_of(&record.name) == zone_of(&m.questions[0].name))
        .map(|r| r.to_string().to_ascii_lowercase())
        .collect();
    records.sort();
    format!("rcode {} {records:?}", r.rcode.0)
}

const TEST_ZONES: [&str; 3] = ["example.com.", "other.test.", "child.example.com."];

#[test]
fn nsd_and_knot_as_secondaries_of_ours() {
    let (Some(_), Some(_)) = (find_nsd(), find_knotd()) else {
        skip("nsd_and_knot_as_secondaries_of_ours", "nsd or knotd is not installed (scripts/setup installs them)");
        return;
    };
    let unix = oasis_testkit::target("unix");
    let (nsd_port, knot_port) = (free_port().unwrap(), free_port().unwrap());
    let key = key_arg("xfr.");
    let disk = disk("primary.img", 16 << 20);
    let nsd_sec = format!("127.0.0.1:{nsd_port}");
    let knot_sec = format!("127.0.0.1:{knot_port}");
    let dns = boot(unix, &disk, &["--key", &key, "--secondary", &nsd_sec, "--secondary", &knot_sec]);
    let ours = dns.addr;
    let nsd_dir = tmp_dir("nsd-secondary");
    let knot_dir = tmp_dir("knot-secondary");
    let nsd = nsd_secondary(&nsd_dir, nsd_port, ours, &TEST_ZONES);
    let knot = knot_secondary(&knot_dir, knot_port, ours, &TEST_ZONES);
    let nsd_addr = SocketAddr::from(([127, 0, 0, 1], nsd_port));
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    let logs = |what: &str| {
        format!(
            "{what}\n--- ours ---\n{}\n--- nsd ---\n{}\n--- knot ---\n{}",
            dns.guest.output(),
            std::fs::read_to_string(nsd_dir.join("nsd.log")).unwrap_or_default(),
            knot.output()
        )
    };
    let primary_serial = serial_at(ours, "example.com.").unwrap();
    for zone in TEST_ZONES {
        let want = serial_at(ours, zone).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60)
            && (serial_at(nsd_addr, zone) != Some(want) || serial_at(knot_addr, zone) != Some(want))
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(serial_at(nsd_addr, zone), Some(want), "{}", logs(&format!("NSD has {zone}")));
        assert_eq!(serial_at(knot_addr, zone), Some(want), "{}", logs(&format!("Knot has {zone}")));
    }
    // NSD as secondary answers exactly as we do; Knot the same records.
    let report = oasis_dns_diff::run::run(ours, nsd_addr, &comparable(1500, false, false), Duration::from_secs(200));
    assert!(report.failures.is_empty(), "{}", report.describe());
    let (_, pool) = test_zones();
    let mut compared = 0;
    for name in pool.exact.iter().filter(|n| !n.ends_with("example.org.") && *n != "com." && *n != ".") {
        for qtype in [RType::A, RType::AAAA, RType::MX, RType::TXT, RType::SRV] {
            let (a, b) = (answer_in(ours, name, qtype, false), answer_in(knot_addr, name, qtype, false));
            assert_eq!(a, b, "{name} {qtype}: ours vs Knot");
            compared += 1;
        }
    }
    println!("{compared} answers identical to Knot's, {} to NSD's", report.compared);
    // An update: our NOTIFY makes both transfer the new serial at once
    // (their refresh timers are hours away).
    let (ok, out) =
        dns.nsupdate(Some(&dig_key("xfr.")), "zone example.com\nupdate add fresh.example.com 60 A 192.0.2.123");
    assert!(ok, "{out}");
    let want = primary_serial.wrapping_add(1);
    eventually("both secondaries transfer after the NOTIFY", Duration::from_secs(30), || {
        serial_at(nsd_addr, "example.com.") == Some(want) && serial_at(knot_addr, "example.com.") == Some(want)
    });
    for server in [nsd_addr, knot_addr] {
        assert!(answer_text(server, "fresh.example.com.", RType::A).contains("192.0.2.123"));
    }
    assert!(dns.guest.output().contains("acknowledged"), "{}", logs("NOTIFY acknowledged"));
    drop(knot);
    drop(nsd);
}

#[test]
fn our_secondary_of_an_nsd_primary() {
    let Some(nsd_binary) = find_nsd() else {
        skip("our_secondary_of_an_nsd_primary", "nsd is not installed (scripts/setup installs it)");
        return;
    };
    let unix = oasis_testkit::target("unix");
    let our_port = free_port().unwrap();
    let (mut zone_set, _) = test_zones();
    let dir = tmp_dir("nsd-primary");
    let global = format!("key:\n  name: \"xfr.\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n");
    let per_zone = format!("  provide-xfr: 127.0.0.1 xfr.\n  notify: 127.0.0.1@{our_port} xfr.\n");
    let nsd = Nsd::start_with(&nsd_binary, &dir, &zone_set, &global, &per_zone).unwrap();
    let key = key_arg("xfr.");
    let primary = nsd.addr.to_string();
    let mut args = vec!["--role", "secondary", "--primary", &primary, "--key", &key];
    for z in TEST_ZONES {
        args.extend(["--zone", z]);
    }
    let disk = disk("secondary.img", 16 << 20);
    let dns = boot_on(unix, &disk, our_port, &args);
    for zone in TEST_ZONES {
        let want = serial_at(nsd.addr, zone);
        eventually(&format!("our secondary has {zone}"), Duration::from_secs(30), || serial_at(dns.addr, zone) == want);
    }
    let report = oasis_dns_diff::run::run(dns.addr, nsd.addr, &comparable(2000, false, true), Duration::from_secs(200));
    assert!(report.failures.is_empty(), "{}\n{}", report.describe(), dns.guest.output());
    // The primary changes the zone and notifies us: we transfer.
    let old = serial_at(nsd.addr, "example.com.").unwrap();
    let example = &mut zone_set[0];
    example.text = example.text.replacen(&format!("( {old} "), &format!("( {} ", old + 1), 1);
    example.text += "notified A 192.0.2.222\n";
    std::fs::write(dir.join("example.com.zone"), &example.text).unwrap();
    let pid = std::fs::read_to_string(dir.join("nsd.pid")).unwrap();
    Command::new("kill").args(["-HUP", pid.trim()]).status().unwrap();
    eventually("NSD reloads", Duration::from_secs(20), || serial_at(nsd.addr, "example.com.") == Some(old + 1));
    eventually("our secondary transfers after NSD's NOTIFY", Duration::from_secs(30), || {
        serial_at(dns.addr, "example.com.") == Some(old + 1)
    });
    assert!(answer_text(dns.addr, "notified.example.com.", RType::A).contains("192.0.2.222"));
    assert!(dns.guest.output().contains("NOTIFY for example.com."), "{}", dns.guest.output());
    // Without the primary, a restart serves the stored copy at once.
    drop(nsd);
    let dns = dns.restart();
    assert!(dns.guest.output().contains("serving the stored copy"), "{}", dns.guest.output());
    assert_eq!(serial_at(dns.addr, "example.com."), Some(old + 1));
    assert!(answer_text(dns.addr, "notified.example.com.", RType::A).contains("192.0.2.222"));
}

// ---------------------------------------------------------------- malformed

/// A valid query for `name`/`qtype` with ID `id`.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(Name::from_text(name, None).unwrap().as_wire());
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// Malformed messages: (what, bytes, must be FORMERR-or-dropped).
fn malformed_probes() -> Vec<(String, Vec<u8>, bool)> {
    let mut rng = Rng::new(0xBAD_D05);
    let mut out = Vec::new();
    let good = query(0x4242, "www.example.com.", 1);
    for len in 0..good.len() {
        out.push((format!("truncated to {len}"), good[..len].to_vec(), true));
    }
    // A name that points at itself, one that points forward, one past the end.
    let mut lp = good[..12].to_vec();
    lp.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    out.push(("pointer loop".into(), lp, true));
    let mut fwd = good[..12].to_vec();
    fwd.extend_from_slice(&[0xC0, 20, 0, 1, 0, 1, 3, b'w', b'w', b'w', 0]);
    out.push(("forward pointer".into(), fwd, true));
    let mut past = good[..12].to_vec();
    past.extend_from_slice(&[0xC0, 0xFF, 0, 1, 0, 1]);
    out.push(("pointer past the end".into(), past, true));
    // Two pointers pointing at each other.
    let mut pair = good[..12].to_vec();
    pair.extend_from_slice(&[1, b'a', 0xC0, 17, 0, 1, 0, 1, 0xC0, 12]);
    out.push(("pointer pair loop".into(), pair, true));
    // Counts larger than the packet.
    for (at, what) in [(4, "question"), (6, "answer"), (8, "authority"), (10, "additional")] {
        let mut c = good.clone();
        c[at..at + 2].copy_from_slice(&[0xFF, 0xFF]);
        out.push((format!("{what} count 65535"), c, true));
    }
    // A label length running past the end; an over-long name.
    let mut label = good[..12].to_vec();
    label.extend_from_slice(&[63, b'a', b'b']);
    out.push(("label past the end".into(), label, true));
    let mut long = good[..12].to_vec();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'x'; 63]);
    }
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    out.push(("name over 255 bytes".into(), long, true));
    // An OPT record cut short.
    let mut opt = good.clone();
    opt[11] = 1;
    opt.extend_from_slice(&[0, 0, 41, 4]);
    out.push(("OPT cut short".into(), opt, true));
    // Fuzzer-style garbage: random bytes, and random flips of a good query.
    for i in 0..300 {
        let len = rng.below(600);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if bytes.len() > 2 {
            bytes[2] &= 0x7F; // a query, so a server may answer it
        }
        out.push((format!("garbage {i}"), bytes, false));
    }
    for i in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next_u64() as u8;
        }
        bytes[2] &= 0x7F;
        out.push((format!("flipped {i}"), bytes, false));
    }
    out
}

/// Sends every malformed probe over UDP and TCP; every answer must be a
/// response header (and FORMERR where the probe says), and the server
/// must still answer after.
fn malformed(server: SocketAddr) {
    let probes = malformed_probes();
    let local = if server.ip().is_loopback() { "127.0.0.1:0" } else { "0.0.0.0:0" };
    let socket = UdpSocket::bind(local).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = vec![0u8; 65535];
    let mut answered = 0;
    for (what, bytes, strict) in &probes {
        socket.send_to(bytes, server).unwrap();
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            answered += 1;
            let r = &buf[..n];
            assert!(n >= 12 && r[2] & 0x80 != 0, "{what}: not a response: {r:02x?}");
            if *strict {
                assert_eq!(r[3] & 0x0F, 1, "{what}: answered rcode {} not FORMERR", r[3] & 0x0F);
            }
        }
        // Drain a late answer to an earlier probe.
        while socket.recv_from(&mut buf).is_ok() {}
    }
    // Over TCP: each message on a connection of its own, and a stream of
    // all of them on one; the server must close or answer, never hang.
    for (what, bytes, strict) in probes.iter().step_by(7) {
        let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(bytes);
        let _ = s.write_all(&framed);
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_ok() {
            let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut r).unwrap();
            assert!(r.len() >= 12 && r[2] & 0x80 != 0, "{what} over TCP: not a response");
            if *strict && bytes.len() >= 17 {
                assert_eq!(r[3] & 0x0F, 1, "{what} over TCP: not FORMERR");
            }
        }
    }
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
    let mut stream = Vec::new();
    for (_, bytes, _) in &probes {
        stream.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        stream.extend_from_slice(bytes);
    }
    // A length prefix promising more than follows, then the end.
    stream.extend_from_slice(&[0xFF, 0xFF, 1, 2, 3]);
    let _ = s.write_all(&stream);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut sink = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.read_to_end(&mut sink);
    // Still serving.
    let ok = exchange(server, &query(9, "example.com.", 6), Via::Udp, Duration::from_secs(2)).unwrap();
    assert!(ok.is_some_and(|r| Message::parse(&r).is_ok_and(|m| m.rcode == Rcode::NOERROR && !m.answers.is_empty())));
    println!("{} malformed probes, {answered} answered over UDP; still serving", probes.len());
}

#[test]
fn malformed_queries_get_formerr_or_nothing() {
    for target in targets("malformed_queries_get_formerr_or_nothing", false) {
        let disk = disk(&format!("malformed-{}.img", target.name), 16 << 20);
        let mut dns = boot(target, &disk, &[]);
        match &dns.ns {
            None => malformed(dns.addr),
            Some(ns) => in_ns(ns, "malformed", &[], &dns),
        }
        assert!(dns.guest.is_running(), "{}: the server stopped:\n{}", target.name, dns.guest.output());
    }
}

// ---------------------------------------------------------------- TCP

#[test]
fn tcp_pipelining_idle_timeout_and_connection_limit() {
    let unix = oasis_testkit::target("unix");
    let disk = disk("tcp.img", 16 << 20);
    let dns = boot(unix, &disk, &["--tcp-idle", "1", "--tcp-max", "3"]);
    // 100 queries in one write: 100 answers, in order.
    let mut s = TcpStream::connect(dns.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    for i in 0..100u16 {
        let q = query(i, if i % 2 == 0 { "ns1.example.com." } else { "nothere.example.com." }, 1);
        all.extend_from_slice(&(q.len() as u16).to_be_bytes());
        all.extend_from_slice(&q);
    }
    s.write_all(&all).unwrap();
    for i in 0..100u16 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut r).unwrap();
        let m = Message::parse(&r).unwrap();
        assert_eq!(m.id, i);
        assert_eq!(m.rcode, if i % 2 == 0 { Rcode::NOERROR } else { Rcode::NXDOMAIN });
    }
    // Idle for longer than --tcp-idle: closed.
    let mut byte = [0u8; 1];
    let started = Instant::now();
    assert_eq!(s.read(&mut byte).unwrap_or(0), 0, "closed when idle");
    assert!(started.elapsed() < Duration::from_secs(9));
    // At the limit, a further connection is closed at once.
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(dns.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(dns.addr).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query(1, "ns1.example.com.", 1);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    let _ = extra.write_all(&framed);
    assert_eq!(extra.read(&mut byte).unwrap_or(0), 0, "a connection over the limit is closed");
    drop(held);
    // A message too short for a question closes the connection.
    let mut short = TcpStream::connect(dns.addr).unwrap();
    short.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    short.write_all(&[0, 5, 1, 2, 3, 4, 5]).unwrap();
    assert_eq!(short.read(&mut byte).unwrap_or(0), 0);
}

// ---------------------------------------------------------------- refusals

#[test]
fn a_bad_zone_or_argument_stops_the_server_saying_why() {
    let unix = oasis_testkit::target("unix");
    let bad = image(Zones::Bad, false);
    let disk = disk("bad.img", 16 << 20);
    let out = run(&mut command(unix, None, &bad, &disk, free_port().unwrap(), &[]), LIMIT);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.timed_out && out.status != Some(0), "{out:#?}");
    assert!(all.contains("broken.test.zone:5:") && all.contains("bad A data"), "{all}");
    assert!(!all.contains("serving "), "{all}");
    let good = image(Zones::Test, false);
    for (args, needle) in [
        (vec!["--role", "tertiary"], "--role: invalid value 'tertiary'"),
        (vec!["--key", "k.:hmac-sha256:!!"], "--key: invalid value 'k.:hmac-sha256'"),
        (vec!["--role", "secondary", "--zone", "example.com"], "--primary: missing value"),
        (vec!["--secondary", "somewhere"], "--secondary: invalid value 'somewhere'"),
        (vec!["--frobnicate"], "unknown argument '--frobnicate'"),
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let out = run(&mut command(unix, None, &good, &disk, free_port().unwrap(), &args), LIMIT);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(out.status != Some(0) && all.contains(needle), "{args:?}: {all}");
    }
}

// ---------------------------------------------------------------- crashes

/// One update's result as the client saw it.
#[derive(Clone, Debug)]
enum Sent {
    Add(String, u8),
    Delete(String),
}

/// SIGKILLs the spt tender while `nsupdate` clients keep updating, again
/// and again on the same disk; after each restart every acknowledged
/// update must be there, every acknowledged deletion gone, the serial
/// never back, and the zone must transfer whole.
#[test]
fn sigkill_mid_update_on_spt() {
    if let Err(why) = netns_available() {
        skip("sigkill_mid_update_on_spt", &why);
        return;
    }
    let Some(spt) = oasis_testkit::targets("sigkill_mid_update_on_spt").into_iter().find(|t| t.name == "spt") else {
        return;
    };
    let rounds: u64 = std::env::var("OASIS_DNS_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let seed: u64 = std::env::var("OASIS_DNS_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("dns crash test: {rounds} kills, OASIS_DNS_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    // Small: snapshots, journals and the store's compaction all run.
    let disk = disk("crash.img", 4 << 20);
    let key = key_arg("upd.");
    let k = dig_key("upd.");
    let mut dns = boot(spt, &disk, &["--key", &key, "--secondary", HOST_SIDE]);
    // name -> value of the last acknowledged add (None: acknowledged deleted).
    let mut model: BTreeMap<String, Option<u8>> = BTreeMap::new();
    let mut last_serial = serial(&dns, "example.com");
    let mut acked_total = 0;
    let mut n = 0u64;
    for round in 0..rounds {
        let deadline = Instant::now() + Duration::from_millis(300 + rng.below(2500) as u64);
        // Updates one after another until the deadline; the kill lands
        // while the last is in flight (or just between two).
        let killer = {
            let pid = dns.guest_pid();
            let wait = deadline.saturating_duration_since(Instant::now());
            std::thread::spawn(move || {
                std::thread::sleep(wait);
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            })
        };
        let mut pending: Vec<Sent> = Vec::new();
        while Instant::now() < deadline + Duration::from_millis(200) {
            n += 1;
            let live: Vec<&String> = model.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect();
            let sent = if !live.is_empty() && rng.chance(25) {
                Sent::Delete(live[rng.below(live.len())].clone())
            } else {
                // Names the generated zone has none of (it has c1, c2, c3
                // as CNAMEs, where an added A would be ignored).
                Sent::Add(format!("crash-{n}.example.com."), (n % 250) as u8)
            };
            let script = match &sent {
                Sent::Add(name, v) => format!("zone example.com\nupdate add {name} 60 A 192.0.2.{v}"),
                Sent::Delete(name) => format!("zone example.com\nupdate delete {name} A"),
            };
            let (ok, _) = dns.nsupdate(Some(&k), &script);
            if !ok {
                pending.push(sent);
                break;
            }
            acked_total += 1;
            match sent {
                Sent::Add(name, v) => model.insert(name, Some(v)),
                Sent::Delete(name) => model.insert(name, None),
            };
        }
        killer.join().unwrap();
        dns = dns.restart();
        // Every acknowledged change is there (the one cut short may or may not be).
        let axfr = dns.dig(&["-y", &k, "example.com", "AXFR"]);
        assert!(
            axfr.contains("XFR size"),
            "round {round} (seed {seed}): transfer failed:\n{axfr}\n{}",
            dns.guest.output()
        );
        let mut present: BTreeMap<String, u8> = BTreeMap::new();
        for line in axfr.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 5 && f[3] == "A" && f[0].starts_with("crash-") {
                present.insert(f[0].to_string(), f[4].rsplit('.').next().unwrap().parse().unwrap());
            }
        }
        let uncertain: BTreeSet<String> = pending
            .iter()
            .map(|s| match s {
                Sent::Add(n, _) | Sent::Delete(n) => n.clone(),
            })
            .collect();
        for (name, want) in &model {
            if uncertain.contains(name) {
                continue;
            }
            assert_eq!(present.get(name).copied(), *want, "round {round} (seed {seed}): {name}");
        }
        // Adopt what the cut-short update left, either way.
        for name in uncertain {
            model.insert(name.clone(), present.get(&name).copied());
        }
        let s = serial(&dns, "example.com");
        assert!(!oasis_dns::serial::is_newer(last_serial, s), "round {round}: serial went back {last_serial} -> {s}");
        last_serial = s;
    }
    eprintln!(
        "dns crash test: {rounds} kills, {acked_total} acknowledged updates, {} names live at the end, serial {last_serial}",
        model.values().filter(|v| v.is_some()).count()
    );
    assert!(acked_total >= rounds, "too few updates were acknowledged to mean anything");
}

impl Dns {
    fn guest_pid(&self) -> u32 {
        self.guest.pid()
    }
}

// ---------------------------------------------------------------- the example set

#[test]
fn the_example_zones_load_and_answer() {
    // The shipped zones, through the default build.
    let dir = workspace_root().join("unikernels/dns/zones");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        let file = path.file_name().unwrap().to_str().unwrap();
        let stem = file.strip_suffix(".zone").unwrap_or(file);
        let declared = String::from_utf8_lossy(&text)
            .lines()
            .find(|l| l.starts_with("$ORIGIN"))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string());
        let origin = Name::from_text(&declared.unwrap_or(format!("{stem}.")), None).unwrap();
        oasis_dns::parse_zone(
            &text,
            oasis_dns::ParseOptions { file_name: file, origin, default_ttl: None, include: None },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        count += 1;
    }
    assert!(count >= 2);
}
