//! The site's handler: the static files, and with `--echo` a dynamic
//! endpoint that streams a request body back as it arrives.

use oasis::kv::StaticKv;
use oasis_http::embedded_io_async::{Read, Write};
use oasis_http::files::StaticFiles;
use oasis_http::{Clock, Exchange, Handler, Method, Response, Sent};

/// Static files, plus `POST /echo` when enabled.
pub struct Site {
    files: StaticFiles<StaticKv>,
    echo: bool,
}

impl Site {
    pub fn new(files: StaticFiles<StaticKv>, echo: bool) -> Site {
        Site { files, echo }
    }
}

impl Handler for Site {
    async fn handle<C: Read + Write, K: Clock>(&self, exchange: Exchange<'_, C, K>) -> Sent {
        if self.echo && exchange.request().path() == "/echo" {
            return echo(exchange).await;
        }
        self.files.handle(exchange).await
    }
}

/// Streams the request body back: each piece is written as soon as it is
/// read (chunked for HTTP/1.1), so a client sees its first bytes before
/// it has sent its last.
async fn echo<C: Read + Write, K: Clock>(mut exchange: Exchange<'_, C, K>) -> Sent {
    if exchange.request().method() != Method::Post {
        return exchange.respond(Response::method_not_allowed("POST")).await;
    }
    let mut buf = [0u8; 4096];
    // The first read also tells a client waiting on 100-continue to go on.
    let mut n = match exchange.read_body(&mut buf).await {
        Ok(n) => n,
        Err(e) => return exchange.respond(Response::plain(e.status())).await,
    };
    let known = match exchange.request().framing() {
        oasis_http::Framing::Length(len) => Some(len),
        oasis_http::Framing::Chunked => None,
    };
    let response = Response::new(200).header("Content-Type", "application/octet-stream");
    let mut writer = exchange.start(response, known).await;
    while n > 0 {
        if writer.write(&buf[..n]).await.is_err() {
            break;
        }
        // Out before waiting for more: that is what streaming means here.
        if writer.flush().await.is_err() {
            break;
        }
        n = match writer.read_body(&mut buf).await {
            Ok(n) => n,
            Err(_) => break,
        };
    }
    writer.finish().await
}
