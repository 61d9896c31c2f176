//! The kv unikernel driven by real clients: `redis-cli`, and a Python
//! client for the protocol's edges (`tests/clients/resp_client.py`). On
//! unix it serves on loopback through the host's stack; on spt (and hvt,
//! with a small workload) on a TAP in a namespace of the test's own. Each
//! test gets a fresh disk image; restarts reuse it.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oasis_testkit::{
    Invocation, Need, NetNs, Outcome, Running, Target, images, netns_available, oasis_binary, run, skip, workspace_root,
};

const BOOT_LIMIT: Duration = Duration::from_secs(180);
const LIMIT: Duration = Duration::from_secs(120);

/// The targets for a kv test: tenders run it in a namespace of the test's
/// own, so they need namespaces; `heavy` tests leave out hvt (KVM needed,
/// and emulated here).
fn targets(test: &str, heavy: bool) -> Vec<&'static Target> {
    assert!(
        Command::new("redis-cli").arg("--version").output().is_ok_and(|o| o.status.success()),
        "redis-cli is missing: run scripts/setup (it installs redis-tools)"
    );
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
            !(heavy && t.needs.contains(&Need::Kvm))
        })
        .collect()
}

fn disk(name: &str, size: u64) -> PathBuf {
    let dir = workspace_root().join("target/oasis/kv-test-disks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running kv server and where to reach it.
struct Kv {
    guest: Running,
    ns: Option<NetNs>,
    host: String,
    port: u16,
}

/// The command that runs kv on `target` with `disk`.
fn kv_command(target: &Target, ns: Option<&NetNs>, disk: &Path, port: u16, args: &[&str]) -> Command {
    let (oasis, image) = (oasis_binary(), images(target).path("kv"));
    let mut run = Invocation::new(&oasis, &image);
    run.blocks = vec![("storage".into(), disk.to_path_buf())];
    let port = port.to_string();
    let mut guest_args: Vec<&str> = vec!["--port", &port];
    if let Some(ns) = ns {
        // A tender's guest on the namespace's TAP.
        run.mem = Some("64M");
        run.nets = vec![("service".into(), "tap0".into())];
        guest_args.splice(0..0, ["--ipv4", "10.0.0.2/24"]);
        guest_args.extend(args);
        run.args = guest_args.into_iter().map(Into::into).collect();
        return ns.command_argv(&target.command(&run));
    }
    guest_args.extend(args);
    run.args = guest_args.into_iter().map(Into::into).collect();
    oasis_testkit::argv_command(&target.command(&run))
}

fn boot(target: &Target, disk: &Path, args: &[&str]) -> Kv {
    let (ns, host, port) = match target.is_tender() {
        false => (None, "127.0.0.1".to_string(), free_port()),
        true => {
            let ns = NetNs::create().unwrap();
            ns.add_tap("tap0", &["10.0.0.1/24"]).unwrap();
            (Some(ns), "10.0.0.2".to_string(), 6379)
        }
    };
    let mut guest = Running::spawn(&mut kv_command(target, ns.as_ref(), disk, port, args));
    guest.wait_for("listening on port", BOOT_LIMIT);
    Kv { guest, ns, host, port }
}

impl Kv {
    /// Stops it (SIGKILL) and boots it again on the same disk.
    fn restart(self, target: &Target, disk: &Path, args: &[&str]) -> Kv {
        let Kv { guest, ns, host, port } = self;
        guest.stop();
        let mut guest = Running::spawn(&mut kv_command(target, ns.as_ref(), disk, port, args));
        guest.wait_for("listening on port", BOOT_LIMIT);
        Kv { guest, ns, host, port }
    }

    fn command(&self, program: &str) -> Command {
        match &self.ns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    /// `redis-cli ARGS`, its output trimmed.
    fn cli(&self, args: &[&str]) -> String {
        let mut c = self.command("redis-cli");
        c.args(["-h", &self.host, "-p", &self.port.to_string()]).args(args);
        let out = run(&mut c, LIMIT);
        assert!(out.status == Some(0) && !out.timed_out, "redis-cli {args:?}:\n{out:#?}\n{}", self.guest.output());
        out.stdout.trim_end().to_string()
    }

    fn python_checks(&self, checks: &[&str]) {
        let script = workspace_root().join("tests/clients/resp_client.py");
        let mut c = self.command("python3");
        c.arg(script).arg(&self.host).arg(self.port.to_string()).args(checks);
        let out = run(&mut c, LIMIT);
        assert!(
            out.status == Some(0) && !out.timed_out,
            "protocol checks {checks:?}:\n{out:#?}\n--- kv output ---\n{}",
            self.guest.output()
        );
    }
}

#[test]
fn redis_cli_commands_and_the_data_survives_a_restart() {
    for target in targets("redis_cli_commands_and_the_data_survives_a_restart", false) {
        let disk = disk(&format!("cli-{target}.img"), 32 << 20);
        // Opening a store reads up to a record's length past its end (to
        // tell a torn write from damage): small records keep that quick
        // where KVM is emulated.
        let args: &[&str] = if target.needs.contains(&Need::Kvm) { &["--max-value", "16384"] } else { &[] };
        let kv = boot(target, &disk, args);
        assert!(kv.guest.output().contains("formatted a new store"), "{}", kv.guest.output());
        assert_eq!(kv.cli(&["PING"]), "PONG");
        assert_eq!(kv.cli(&["SET", "greeting", "hello world"]), "OK");
        assert_eq!(kv.cli(&["GET", "greeting"]), "hello world");
        assert_eq!(kv.cli(&["MSET", "a", "1", "b", "2", "user:7", "seven"]), "OK");
        assert_eq!(kv.cli(&["MGET", "a", "nope", "b"]), "1\n\n2");
        assert_eq!(kv.cli(&["EXISTS", "a", "b", "nope"]), "2");
        assert_eq!(kv.cli(&["DEL", "b", "nope"]), "1");
        assert_eq!(
            kv.cli(&["KEYS", "*"]).lines().collect::<std::collections::BTreeSet<_>>(),
            ["a", "greeting", "user:7"].into()
        );
        assert_eq!(kv.cli(&["KEYS", "user:*"]), "user:7");
        assert_eq!(kv.cli(&["DBSIZE"]), "3");
        let info = kv.cli(&["INFO"]);
        assert!(info.contains("durability:always") && info.contains("db0:keys=3"), "{info}");
        // What clients use beyond the basics: locks, counters, iteration.
        assert_eq!(kv.cli(&["SET", "lock", "me", "NX"]), "OK");
        assert_eq!(kv.cli(&["SET", "lock", "you", "NX"]), "");
        assert_eq!(kv.cli(&["INCR", "hits"]), "1");
        assert_eq!(kv.cli(&["INCRBY", "hits", "41"]), "42");
        assert_eq!(
            kv.cli(&["--scan", "--pattern", "*"]).lines().collect::<std::collections::BTreeSet<_>>(),
            ["a", "greeting", "hits", "lock", "user:7"].into()
        );
        assert_eq!(kv.cli(&["DEL", "lock", "hits"]), "2");
        // Times to live: a key past its deadline is gone, and a deadline
        // outlives a restart.
        assert_eq!(kv.cli(&["SET", "session", "token", "EX", "1000"]), "OK");
        let ttl = |kv: &Kv| kv.cli(&["TTL", "session"]).parse::<i64>().unwrap();
        // Seconds pass between commands where KVM is emulated and the
        // machine is loaded: the bounds leave room for that.
        assert!((900..=1000).contains(&ttl(&kv)), "TTL {}", ttl(&kv));
        // A loaded machine may take long between two redis-cli runs: the key
        // is read back only when that was quick, and looked for once it is
        // surely gone.
        let set_at = std::time::Instant::now();
        assert_eq!(kv.cli(&["SET", "flash", "gone", "PX", "2000"]), "OK");
        let got = kv.cli(&["GET", "flash"]);
        if set_at.elapsed() < Duration::from_millis(1500) {
            assert_eq!(got, "gone");
        }
        std::thread::sleep(Duration::from_millis(2600).saturating_sub(set_at.elapsed()));
        assert_eq!(kv.cli(&["GET", "flash"]), "");
        assert_eq!(kv.cli(&["EXISTS", "flash"]), "0");
        // A hard stop (SIGKILL): every acknowledged write is on disk.
        let kv = kv.restart(target, &disk, args);
        assert!(kv.guest.output().contains("opened the store: 4 keys"), "{}", kv.guest.output());
        assert_eq!(kv.cli(&["GET", "greeting"]), "hello world", "after a restart on {target}");
        assert_eq!(kv.cli(&["MGET", "a", "b", "user:7"]), "1\n\nseven");
        assert_eq!(kv.cli(&["DBSIZE"]), "4");
        assert!((1..=1000).contains(&ttl(&kv)), "TTL after a restart {}", ttl(&kv));
        assert_eq!(kv.cli(&["PERSIST", "session"]), "1");
        assert_eq!(kv.cli(&["TTL", "session"]), "-1");
    }
}

#[test]
fn protocol_edges_limits_and_malformed_input() {
    for target in targets("protocol_edges_limits_and_malformed_input", true) {
        let disk = disk(&format!("proto-{target}.img"), 64 << 20);
        let kv = boot(target, &disk, &["--max-key", "64", "--max-value", "4096"]);
        kv.python_checks(&[
            "binary_values",
            "pipelining",
            "inline_commands",
            "errors_keep_the_connection",
            "oversized_values_close",
            "malformed_closes",
            "oversized_inline_closes",
            "keys_patterns",
        ]);
        // Still serving, with everything the checks stored.
        assert_eq!(kv.cli(&["GET", "p8"]), "v8");
    }
}

#[test]
fn memory_mode_and_everysec_durability() {
    for target in targets("memory_mode_and_everysec_durability", true) {
        let disk = disk(&format!("modes-{target}.img"), 16 << 20);
        let kv = boot(target, &disk, &["--storage", "memory"]);
        assert_eq!(kv.cli(&["SET", "k", "v"]), "OK");
        assert!(kv.cli(&["INFO", "persistence"]).contains("storage:memory"));
        let kv = kv.restart(target, &disk, &["--storage", "memory"]);
        assert_eq!(kv.cli(&["GET", "k"]), "", "memory mode keeps nothing");
        assert!(std::fs::read(&disk).unwrap().iter().all(|&b| b == 0), "memory mode never touched the disk");

        let kv = kv.restart(target, &disk, &["--durability", "everysec"]);
        assert_eq!(kv.cli(&["SET", "k", "v"]), "OK");
        assert!(kv.cli(&["INFO"]).contains("durability:everysec"));
        // Flushed within a second or so: wait, then a hard stop keeps it.
        std::thread::sleep(Duration::from_millis(2500));
        let kv = kv.restart(target, &disk, &[]);
        assert_eq!(kv.cli(&["GET", "k"]), "v");
    }
}

/// Runs kv expecting it to stop by itself; returns its outcome.
fn boot_expecting_exit(target: &Target, disk: &Path, args: &[&str]) -> Outcome {
    let ns = target.is_tender().then(|| {
        let ns = NetNs::create().unwrap();
        ns.add_tap("tap0", &["10.0.0.1/24"]).unwrap();
        ns
    });
    let port = if target.is_tender() { 6379 } else { free_port() };
    run(&mut kv_command(target, ns.as_ref(), disk, port, args), LIMIT)
}

#[test]
fn a_device_holding_something_else_is_refused_untouched() {
    for target in targets("a_device_holding_something_else_is_refused_untouched", true) {
        let disk = disk(&format!("foreign-{target}.img"), 4 << 20);
        // An ext4-like superblock 1 KiB in, zeroes elsewhere.
        let mut bytes = vec![0u8; 4 << 20];
        bytes[1024 + 0x38] = 0x53;
        bytes[1024 + 0x39] = 0xef;
        bytes[3 << 20] = 1; // and one byte far from the start
        std::fs::write(&disk, &bytes).unwrap();
        let out = boot_expecting_exit(target, &disk, &[]);
        assert!(!out.timed_out && out.status != Some(0), "{target}: {out:#?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("not an Oasis store") && all.contains("refusing to format"), "{target}: {all}");
        assert!(std::fs::read(&disk).unwrap() == bytes, "{target}: the device was changed");

        // Data only at the very end still counts as data.
        let mut bytes = vec![0u8; 4 << 20];
        bytes[(4 << 20) - 1] = 7;
        std::fs::write(&disk, &bytes).unwrap();
        let out = boot_expecting_exit(target, &disk, &[]);
        assert!(out.status != Some(0), "{target}: {out:#?}");
        assert!(std::fs::read(&disk).unwrap() == bytes, "{target}: the device was changed");
    }
}

#[test]
fn a_corrupted_value_is_reported_not_served() {
    for target in targets("a_corrupted_value_is_reported_not_served", true) {
        let disk = disk(&format!("corrupt-{target}.img"), 8 << 20);
        let kv = boot(target, &disk, &[]);
        let marked = "MARKED-VALUE-".repeat(20);
        assert_eq!(kv.cli(&["SET", "victim", &marked]), "OK");
        assert_eq!(kv.cli(&["SET", "bystander", "fine"]), "OK");
        let Kv { guest, .. } = kv;
        guest.stop();
        // Flip one bit in the middle of the stored value.
        let mut bytes = std::fs::read(&disk).unwrap();
        let at = bytes.windows(marked.len()).position(|w| w == marked.as_bytes()).expect("the value is on disk");
        bytes[at + 100] ^= 0x10;
        std::fs::write(&disk, &bytes).unwrap();
        let kv = boot(target, &disk, &[]);
        let got = kv.cli(&["GET", "victim"]);
        assert!(
            got.contains("ERR") && got.to_lowercase().contains("corrupt"),
            "{target}: GET of a damaged value: {got}"
        );
        assert!(!got.contains("MARKED"), "{target}: damaged bytes were served: {got}");
        assert_eq!(kv.cli(&["GET", "bystander"]), "fine");
        // The damaged key can be overwritten and is then fine.
        assert_eq!(kv.cli(&["SET", "victim", "new"]), "OK");
        assert_eq!(kv.cli(&["GET", "victim"]), "new");
    }
}

#[test]
fn a_store_in_use_is_not_opened_twice() {
    for target in targets("a_store_in_use_is_not_opened_twice", true) {
        let disk = disk(&format!("in-use-{target}.img"), 8 << 20);
        let kv = boot(target, &disk, &[]);
        assert_eq!(kv.cli(&["SET", "k", "v"]), "OK");
        // A second server on the same file is refused before it boots...
        let out = boot_expecting_exit(target, &disk, &[]);
        assert!(!out.timed_out && out.status != Some(0), "{target}: {out:#?}");
        assert!(format!("{}{}", out.stdout, out.stderr).contains("in use by another process"), "{target}: {out:#?}");
        // ...and so is the host tool, even to look.
        let mut ls = Command::new(oasis_binary());
        ls.arg("kv").arg("ls").arg(&disk);
        let out = run(&mut ls, LIMIT);
        assert!(out.status != Some(0) && out.stderr.contains("in use by another process"), "{target}: {out:#?}");
        assert_eq!(kv.cli(&["GET", "k"]), "v", "{target}: the running server was disturbed");
        // Once it has stopped (killed outright, too), the lock is gone.
        kv.guest.stop();
        let out = run(&mut ls, LIMIT);
        assert!(out.status == Some(0) && out.stdout.contains("redis/_k"), "{target}: {out:#?}");
    }
}
