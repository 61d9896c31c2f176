//! echo: the Echo Protocol (RFC 862) over TCP and UDP on `--port` (default
//! 7). Every TCP connection gets a task of its own; every UDP datagram is
//! sent back to its sender. The network device is `service`.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use oasis::net::{NetError, Stack, TcpListener, TcpStream, UdpSocket};
use oasis::{Duration, Os};

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
    args.finish().map_err(Error::Args)?;
    let idle = Duration::from_secs(idle);

    let listener = net.tcp_listen(port).await.map_err(|e| Error::Net("tcp listen", e))?;
    let udp = net.udp_bind(port).await.map_err(|e| Error::Net("udp bind", e))?;
    oasis::log::info!("echo: listening on port {port} (tcp and udp)");
    os.spawn(serve_udp(udp));
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                os.spawn(echo_tcp(conn, idle, os.clone()));
            }
            Err(e) => oasis::log::warn!("accept: {e}"),
        }
    }
}
