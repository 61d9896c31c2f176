//! echo: the Echo Protocol (RFC 862) over TCP and UDP on `--port` (default
//! 7). Every TCP connection gets a task of its own; every UDP datagram is
//! sent back to its sender. The network device is `service`.
//! `--exit-after N` ends the unikernel (status 0) once N TCP connections
//! are over, so a tender's `--stats` report can be read after a benchmark.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use oasis::net::{NetError, Stack, TcpListener, TcpStream, UdpSocket};
use oasis::{Duration, Os};

/// TCP connections served to their end, for `--exit-after`.
static CONNECTIONS_OVER: AtomicU64 = AtomicU64::new(0);

/// Copy buffer per connection.
const BUFFER: usize = 16 * 1024;

#[derive(Debug)]
enum Error {
    Args(oasis::ArgError),
    Net(&'static str, NetError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Args(e) => write!(f, "{e}"),
            Error::Net(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

async fn echo_tcp<S: TcpStream>(mut conn: S, idle: Duration, os: Os) {
    let mut buf = oasis::alloc::vec![0u8; BUFFER];
    loop {
        let n = match os.timeout(idle, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = conn.shutdown().await;
    let _ = os.timeout(Duration::from_secs(5), conn.flush()).await;
}

async fn serve_udp<U: UdpSocket>(socket: U) {
    let mut buf = oasis::alloc::vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let _ = socket.send_to(&buf[..n], from).await;
            }
            Err(e) => oasis::log::warn!("udp: {e}"),
        }
    }
}

#[oasis::main(net = "service")]
async fn main(os: Os, net: impl Stack) -> Result<(), Error> {
    let mut args = os.args().parser();
    let port: u16 = args.value("--port").map_err(Error::Args)?.unwrap_or(7);
    let idle: u64 = args.value("--idle-timeout").map_err(Error::Args)?.unwrap_or(300);
    let exit_after: Option<u64> = args.value("--exit-after").map_err(Error::Args)?;
    args.finish().map_err(Error::Args)?;
    let idle = Duration::from_secs(idle);

    let listener = net.tcp_listen(port).await.map_err(|e| Error::Net("tcp listen", e))?;
    let udp = net.udp_bind(port).await.map_err(|e| Error::Net("udp bind", e))?;
    oasis::log::info!("echo: listening on port {port} (tcp and udp)");
    os.spawn(serve_udp(udp));
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                let task_os = os.clone();
                os.spawn(async move {
                    echo_tcp(conn, idle, task_os.clone()).await;
                    let over = CONNECTIONS_OVER.fetch_add(1, Ordering::Relaxed) + 1;
                    if exit_after.is_some_and(|n| over >= n) {
                        oasis::log::info!("echo: {over} connections over (--exit-after)");
                        task_os.exit(0);
                    }
                });
            }
            Err(e) => oasis::log::warn!("accept: {e}"),
        }
    }
}
