//! `oasis run` with a private network namespace: ports published on
//! 127.0.0.1 reach the echo unikernel over TCP and UDP, and the namespace,
//! the tender and the ports are gone after SIGTERM; a namespace left by a
//! run killed outright is removed by the next run; www, run with no `-p`
//! from any directory, is on 127.0.0.1:8080 (its package's default); and
//! without the capabilities a run says so and offers the unix target.
//!
//! All traffic stays on loopback or inside the namespaces these runs make.
//! Needs root (namespaces, TAPs); skipped with a printed reason otherwise.

#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oasis_testkit::{run, skip, workspace_root};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const BUILD_LIMIT: Duration = Duration::from_secs(600);
/// From the run's start to the guest answering through the proxy.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// From SIGTERM to the run having exited.
const STOP_LIMIT: Duration = Duration::from_secs(30);

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("running ip {args:?}: {e}"))
}

fn namespaces() -> String {
    String::from_utf8_lossy(&ip(&["netns", "list"]).stdout).into_owned()
}

fn listed(name: &str) -> bool {
    namespaces().lines().any(|l| l.split_whitespace().next() == Some(name))
}

/// Whether this machine lets us make a namespace with a TAP in it; says
/// why not otherwise.
fn privileged(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip(test, "needs root to create network namespaces and TAP devices");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        skip(test, "the ip command (iproute2) is missing: apt-get install iproute2");
        return false;
    }
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    let probe = format!("oasis-probe-{}-{}", std::process::id(), PROBES.fetch_add(1, Ordering::Relaxed));
    let added = ip(&["netns", "add", &probe]);
    if !added.status.success() {
        skip(test, &format!("ip netns add fails here: {}", String::from_utf8_lossy(&added.stderr).trim()));
        return false;
    }
    let tap = ip(&["-n", &probe, "tuntap", "add", "tap0", "mode", "tap"]);
    ip(&["netns", "del", &probe]);
    if !tap.status.success() {
        skip(test, &format!("no TAP devices here: {}", String::from_utf8_lossy(&tap.stderr).trim()));
        return false;
    }
    true
}

fn build_echo() {
    let mut cmd = Command::new(OASIS);
    cmd.current_dir(workspace_root()).args(["build", "unikernels/echo", "--target", "spt"]);
    run(&mut cmd, BUILD_LIMIT).expect_status(0, "oasis build unikernels/echo");
}

/// A port free for both TCP and UDP on 127.0.0.1 (for as long as no one
/// else takes it).
fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP in 100 tries");
}

fn collect(mut from: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (text, reader)
}

/// A running `oasis run`; killed, and its namespace removed, if a test
/// panics before stopping it.
struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::start_in(&workspace_root(), args)
    }

    /// `oasis run ARGS` from `dir`.
    fn start_in(dir: &std::path::Path, args: &[&str]) -> Running {
        let mut child = Command::new(OASIS)
            .current_dir(dir)
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdout, out) = collect(child.stdout.take().unwrap());
        let (stderr, err) = collect(child.stderr.take().unwrap());
        Running { child, stdout, stderr, readers: vec![out, err] }
    }

    fn namespace(&self) -> String {
        format!("oasis-run-{}", self.child.id())
    }

    fn output(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout.lock().unwrap(), self.stderr.lock().unwrap())
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("oasis run ended early ({status})\n{}", self.output());
        }
    }

    /// The tender: the run's child that is not a proxy helper (`oasis
    /// publish-worker`, started where the open-file limit is low).
    fn tender_pid(&self) -> Option<u32> {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().filter_map(|c| c.parse().ok()).find(|c: &u32| {
            let cmdline = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmdline).contains("publish-worker")
        })
    }

    /// Sends SIGTERM and waits, bounded, for the run to exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill has no memory effects; the pid is our unreaped child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            if let Some(status) = self.child.try_wait().unwrap() {
                for r in self.readers.drain(..) {
                    r.join().unwrap();
                }
                return status;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("oasis run did not exit within {STOP_LIMIT:?} of SIGTERM\n{}", self.output());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if listed(&self.namespace()) {
            ip(&["netns", "del", &self.namespace()]);
        }
    }
}

/// Sends `payload` and reads until the echo closes its side; the writer
/// half-closes when done, and the echo must still answer in full.
fn tcp_echo(addr: SocketAddr, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = conn.try_clone()?;
    let data = payload.to_vec();
    let sent = thread::spawn(move || {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut back = Vec::new();
    let read = conn.read_to_end(&mut back);
    sent.join().unwrap()?;
    read?;
    Ok(back)
}

fn udp_echo(addr: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = vec![0u8; 2048];
    // Datagrams may be lost (the guest's ARP, for one): retry a few times.
    for _ in 0..20 {
        socket.send_to(payload, addr).unwrap();
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == addr => return Some(buf[..n].to_vec()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("udp echo: {e}"),
        }
    }
    None
}

/// Waits, bounded, until a line goes through the TCP proxy and back.
fn wait_ready(running: &mut Running, addr: SocketAddr) {
    let start = Instant::now();
    for _ in 0..600 {
        running.assert_running();
        if tcp_echo(addr, b"ready?\n").is_ok_and(|b| b == b"ready?\n") {
            return;
        }
        if start.elapsed() > READY_LIMIT {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the echo never answered through {addr} within {READY_LIMIT:?}\n{}", running.output());
}

#[test]
fn published_ports_reach_the_guest_and_everything_is_removed_on_sigterm() {
    let test = "published_ports_reach_the_guest_and_everything_is_removed_on_sigterm";
    if !privileged(test) {
        return;
    }
    build_echo();
    let port = free_port();
    let publish_tcp = format!("{port}:7");
    let publish_udp = format!("{port}:7/udp");
    let mut running = Running::start(&["unikernels/echo", "--target", "spt", "-p", &publish_tcp, "-p", &publish_udp]);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_ready(&mut running, addr);

    let namespace = running.namespace();
    assert!(listed(&namespace), "{namespace} is not listed:\n{}", namespaces());
    let stderr = running.stderr.lock().unwrap().clone();
    assert!(stderr.contains(&format!("oasis: publishing 127.0.0.1:{port} -> ")), "{stderr}");
    assert!(stderr.contains(":7/tcp") && stderr.contains(":7/udp"), "{stderr}");

    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let back = tcp_echo(addr, &payload).unwrap_or_else(|e| panic!("tcp echo: {e}\n{}", running.output()));
    assert!(back == payload, "tcp echo: {} bytes back of {}", back.len(), payload.len());
    let back = udp_echo(addr, b"hello over udp");
    assert_eq!(back.as_deref(), Some(&b"hello over udp"[..]), "udp echo\n{}", running.output());

    let tender = running.tender_pid();
    let status = running.terminate();
    assert!(status.code().is_some(), "oasis run was killed ({status}) instead of cleaning up\n{}", running.output());
    assert!(!listed(&namespace), "{namespace} is left after SIGTERM:\n{}", namespaces());
    if let Some(pid) = tender {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the tender {pid} is left running");
    }
    assert!(TcpListener::bind(addr).is_ok(), "127.0.0.1:{port}/tcp is still taken");
    assert!(UdpSocket::bind(addr).is_ok(), "127.0.0.1:{port}/udp is still taken");
}

#[test]
fn a_namespace_left_by_a_killed_run_is_removed_by_the_next() {
    let test = "a_namespace_left_by_a_killed_run_is_removed_by_the_next";
    if !privileged(test) {
        return;
    }
    build_echo();
    // A pid that was just used and is now free: as a run killed outright
    // leaves it.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{dead}")).exists(), "pid {dead} was reused at once");
    let leftover = format!("oasis-run-{dead}");
    assert!(ip(&["netns", "add", &leftover]).status.success(), "ip netns add {leftover}");
    ip(&["-n", &leftover, "tuntap", "add", "tap0", "mode", "tap"]);

    let mut cmd = Command::new(OASIS);
    cmd.current_dir(workspace_root()).args(["run", "unikernels/echo", "--target", "spt", "--timeout", "1s"]);
    let out = run(&mut cmd, BUILD_LIMIT);
    let removed = !listed(&leftover);
    if !removed {
        ip(&["netns", "del", &leftover]);
    }
    // --timeout stops the guest: the tender's status for that is 254.
    out.expect_status(254, "oasis run --timeout 1s");
    assert!(removed, "{leftover} was not removed by the next run\n{out:#?}");
    let own = out.stderr.lines().find_map(|l| l.strip_prefix("oasis: network namespace ")?.split(':').next());
    let own = own.unwrap_or_else(|| panic!("the run did not name its namespace\n{out:#?}"));
    assert!(!listed(own), "{own} is left after the run:\n{}", namespaces());
}

/// One HTTP/1.1 GET on a fresh connection: (status line, whole response).
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut back = Vec::new();
    conn.read_to_end(&mut back)?;
    let text = String::from_utf8_lossy(&back).into_owned();
    Ok((text.lines().next().unwrap_or_default().to_string(), text))
}

#[test]
fn www_is_on_8080_by_default_from_any_directory() {
    let test = "www_is_on_8080_by_default_from_any_directory";
    if !privileged(test) {
        return;
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080));
    if TcpListener::bind(addr).is_err() {
        skip(test, "127.0.0.1:8080 is taken on this machine");
        return;
    }
    let mut cmd = Command::new(OASIS);
    cmd.current_dir(workspace_root()).args(["build", "unikernels/www", "--target", "spt"]);
    run(&mut cmd, BUILD_LIMIT).expect_status(0, "oasis build unikernels/www");
    // From elsewhere, naming the package by its path: the default comes
    // from the package's Cargo.toml, not from the working directory.
    let www = workspace_root().join("unikernels/www");
    let elsewhere = std::env::temp_dir();
    let mut running = Running::start_in(&elsewhere, &[www.to_str().unwrap(), "--target", "spt"]);
    let start = Instant::now();
    let (status, page) = loop {
        running.assert_running();
        if let Ok((status, page)) = http_get(addr, "/")
            && status.starts_with("HTTP/1.1 200")
        {
            break (status, page);
        }
        assert!(start.elapsed() < READY_LIMIT, "www never answered on {addr}\n{}", running.output());
        thread::sleep(Duration::from_millis(100));
    };
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(page.contains("<title>") && page.contains("Oasis"), "the home page: {page:.300}");
    let stderr = running.stderr.lock().unwrap().clone();
    assert!(stderr.contains("oasis: publishing 127.0.0.1:8080 -> ") && stderr.contains(":80/tcp"), "{stderr}");
    let (status, _) = http_get(addr, "/no-such-page").unwrap();
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let status = running.terminate();
    assert!(status.code().is_some(), "oasis run was killed ({status})\n{}", running.output());
    assert!(TcpListener::bind(addr).is_ok(), "127.0.0.1:8080 is still taken");
}

#[test]
fn without_the_capabilities_a_run_says_so_and_offers_unix() {
    let test = "without_the_capabilities_a_run_says_so_and_offers_unix";
    build_echo();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        if Command::new("setpriv").arg("--help").output().is_err() {
            skip(test, "setpriv (util-linux) is missing, and it drops the capabilities");
            return;
        }
        // Root without the two capabilities: gone from the bounding and
        // inheritable sets, so the exec'd oasis does not get them.
        let mut c = Command::new("setpriv");
        c.args(["--inh-caps=-all", "--bounding-set=-sys_admin,-net_admin", OASIS]);
        c
    } else {
        Command::new(OASIS)
    };
    cmd.current_dir(workspace_root()).args(["run", "unikernels/echo", "--target", "spt", "-p", "8007:7"]);
    let out = run(&mut cmd, BUILD_LIMIT);
    out.expect_status(1, "oasis run without the capabilities");
    let line = out.stderr.lines().find(|l| l.contains("CAP_")).unwrap_or_default();
    assert!(line.contains("CAP_SYS_ADMIN") && line.contains("CAP_NET_ADMIN"), "{out:#?}");
    assert!(line.contains("--target unix"), "offers the unix target: {out:#?}");
}

/// Ten thousand connections open at once through `-p`, each carrying a
/// message both ways. Past one process's descriptor limit (two per
/// connection), the proxy serves from helper processes too.
#[test]
fn ten_thousand_connections_through_a_published_port() {
    const N: usize = 10_000;
    const LIMIT: Duration = Duration::from_secs(300);
    let test = "ten_thousand_connections_through_a_published_port";
    if !privileged(test) {
        return;
    }
    // The clients' own descriptors: raise the soft limit to the hard one.
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the valid struct given.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    if lim.rlim_cur < (N + 500) as u64 {
        skip(test, &format!("the open-file limit is {} here, too few for {N} clients", lim.rlim_cur));
        return;
    }
    build_echo();
    let port = free_port();
    let publish = format!("{port}:7");
    let args = ["unikernels/echo", "--target", "spt", "--mem=512M", "-p", &publish, "--"];
    let mut running = Running::start(&[&args[..], &["--tcp-buffer", "1024", "--tcp-backlog", "256"]].concat());
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_ready(&mut running, addr);
    let start = Instant::now();
    let mut clients = Vec::with_capacity(N);
    for i in 0..N {
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", running.output()));
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        clients.push(c);
        assert!(start.elapsed() < LIMIT, "{i} connections in {LIMIT:?}");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("{i:08}").as_bytes()).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut buf = [0u8; 8];
        c.read_exact(&mut buf).unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", running.output()));
        assert_eq!(&buf, format!("{i:08}").as_bytes(), "connection {i}");
        assert!(start.elapsed() < 2 * LIMIT, "the echoes took longer than {:?}", 2 * LIMIT);
    }
    drop(clients);
    let status = running.terminate();
    assert!(status.code().is_some(), "oasis run was killed ({status})\n{}", running.output());
}

/// A run started in the background by a shell inherits SIGINT ignored;
/// `kill -INT` still stops it, and it cleans up.
#[test]
fn a_background_run_stops_on_sigint() {
    let test = "a_background_run_stops_on_sigint";
    if !privileged(test) {
        return;
    }
    build_echo();
    let script = format!("trap '' INT; exec {OASIS} run unikernels/echo --target spt");
    let mut child = Command::new("sh")
        .current_dir(workspace_root())
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let namespace = format!("oasis-run-{}", child.id());
    let start = Instant::now();
    while !listed(&namespace) {
        if start.elapsed() > READY_LIMIT || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never made {namespace}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    // The tender started: give it a moment past the namespace's setup.
    thread::sleep(Duration::from_millis(500));
    // SAFETY: kill has no memory effects; the pid is our unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > STOP_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            ip(&["netns", "del", &namespace]);
            panic!("a run with SIGINT ignored did not stop on SIGINT within {STOP_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.code().is_some(), "the run was killed ({status}) instead of cleaning up");
    assert!(!listed(&namespace), "{namespace} is left after SIGINT");
}
