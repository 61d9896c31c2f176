//! Running NSD on 127.0.0.1 with our zones, in the foreground, as one
//! server process without privileges, stopped when dropped.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Via, exchange};
use crate::generate::GeneratedZone;

/// The EDNS size both servers use (NSD's default too).
pub const EDNS_SIZE: u16 = 1232;

/// A running NSD.
#[derive(Debug)]
pub struct Nsd {
    child: Child,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// The `nsd` binary, when installed.
pub fn find_nsd() -> Option<PathBuf> {
    ["/usr/sbin/nsd", "/usr/local/sbin/nsd", "/usr/bin/nsd"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// A port free for both UDP and TCP on 127.0.0.1 (as far as one can tell).
pub fn free_port() -> std::io::Result<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if port >= 20000 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port"))
}

impl Nsd {
    /// Writes the zones and a configuration to `dir` and starts NSD,
    /// waiting (at most 20 s) until it answers for the first zone.
    pub fn start(binary: &Path, dir: &Path, zones: &[GeneratedZone]) -> Result<Nsd, String> {
        Nsd::start_with(binary, dir, zones, "", "")
    }

    /// [`Nsd::start`] with more configuration: `global` after the server
    /// section (e.g. a `key:` clause), `per_zone` in every zone clause
    /// (e.g. `provide-xfr:`).
    pub fn start_with(
        binary: &Path,
        dir: &Path,
        zones: &[GeneratedZone],
        global: &str,
        per_zone: &str,
    ) -> Result<Nsd, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let d = dir.display();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
             xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
             ipv4-edns-size: {EDNS_SIZE}\n  round-robin: no\n  minimal-responses: no\n  refuse-any: no\n  \
             hide-version: yes\n  verbosity: 1\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n\
             remote-control:\n  control-enable: no\n"
        );
        conf += global;
        for z in zones {
            let file = format!("{}zone", z.origin);
            std::fs::write(dir.join(&file), &z.text).map_err(|e| e.to_string())?;
            conf += &format!("zone:\n  name: \"{}\"\n  zonefile: \"{file}\"\n{per_zone}", z.origin);
        }
        let conf_path = dir.join("nsd.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("nsd.stderr")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut nsd = Nsd { child, addr, dir: dir.to_path_buf() };
        let probe = soa_query(&zones[0].origin);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = exchange(addr, &probe, Via::Udp, Duration::from_millis(200)) {
                return Ok(nsd);
            }
            if let Ok(Some(status)) = nsd.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("nsd.log")).unwrap_or_default();
                let err = std::fs::read_to_string(dir.join("nsd.stderr")).unwrap_or_default();
                return Err(format!("nsd exited ({status}): {err}{log}"));
            }
        }
        nsd.stop();
        Err("nsd did not answer within 20 s".into())
    }

    /// NSD's log, for failure reports.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        // SIGTERM lets NSD stop the server and xfrd processes it forked.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain SOA query for `zone`.
pub fn soa_query(zone: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    if let Ok(name) = oasis_dns::Name::from_text(zone, None) {
        q.extend_from_slice(name.as_wire());
    }
    q.extend_from_slice(&[0, 6, 0, 1]);
    q
}
