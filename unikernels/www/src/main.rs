//! www: a web server. It serves the site compiled into its read-only
//! store `htdocs` — by default the project's own documentation, rendered
//! at build time — over HTTP/1.1 with `oasis-http`: persistent
//! connections, conditional and range requests, precompressed brotli and
//! gzip variants, the site's 404 page.
//!
//! `oasis run unikernels/www --kv htdocs=DIR` serves DIR instead.
//!
//! Device: network `service`. Arguments: `--port N` (8080 on unix, 80
//! in a unikernel), `--max-connections N` (1024), `--header-timeout
//! SECONDS` (10), `--idle-timeout SECONDS` (60), `--echo` (also answer
//! `POST /echo` by streaming the request body back: a dynamic handler,
//! for tests), and the runtime's `--log LEVEL` (an access-log line per
//! request at `info`).

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

mod site;

use oasis::Os;
use oasis::alloc::rc::Rc;
use oasis::kv::StaticKv;
use oasis::net::{NetError, Stack};
use oasis_http::Config;
use oasis_http::files::StaticFiles;

/// The build time, Unix seconds: the site's `Last-Modified`.
const BUILD_TIME: u64 = decimal(env!("WWW_BUILD_TIME"));

static HTDOCS: StaticKv = oasis::static_kv!("htdocs.rs").with_modified(BUILD_TIME);

const fn decimal(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut value = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    value
}

#[derive(Debug)]
enum Error {
    Args(oasis::ArgError),
    Listen(u16, NetError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Args(e) => write!(f, "{e}"),
            Error::Listen(port, e) => write!(f, "listening on port {port}: {e}"),
        }
    }
}

#[oasis::main(net = "service")]
async fn main(os: Os, net: impl Stack) -> Result<(), Error> {
    let mut args = os.args().parser();
    let default_port = if os.platform_name() == "unix" { 8080 } else { 80 };
    let port: u16 = args.value("--port").map_err(Error::Args)?.unwrap_or(default_port);
    let defaults = Config::default();
    let max_connections: usize =
        args.value("--max-connections").map_err(Error::Args)?.unwrap_or(defaults.max_connections);
    let header_timeout: u64 =
        args.value("--header-timeout").map_err(Error::Args)?.unwrap_or(defaults.header_timeout.as_secs());
    let idle_timeout: u64 =
        args.value("--idle-timeout").map_err(Error::Args)?.unwrap_or(defaults.idle_timeout.as_secs());
    let echo = args.flag("--echo").map_err(Error::Args)?;
    args.finish().map_err(Error::Args)?;
    let config = Config {
        server: "oasis-www",
        max_connections: max_connections.max(1),
        header_timeout: oasis::Duration::from_secs(header_timeout.max(1)),
        idle_timeout: oasis::Duration::from_secs(idle_timeout.max(1)),
        ..defaults
    };

    let listener = net.tcp_listen(port).await.map_err(|e| Error::Listen(port, e))?;
    oasis::log::info!("www: serving {} files on port {port}", HTDOCS.len());
    let site = Rc::new(site::Site::new(StaticFiles::new(HTDOCS), echo));
    oasis_http::serve(os, listener, site, config).await
}
