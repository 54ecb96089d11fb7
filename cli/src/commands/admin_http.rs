//! Requests to the running server's local HTTP endpoint (`metrics.listen`),
//! where `pbx calls`, `trunks`, `reload` and `conference` read and act,
//! with the admin token of the server's data directory
//! ([`pbx_core::admin_token`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use pbx_core::config::Config;

/// One HTTP/1.0 request (no body): the status and the body of the answer.
/// `what` names the feature in the error when the listener is off.
pub(crate) fn request(
    config: &Config,
    what: &str,
    method: &str,
    path: &str,
) -> anyhow::Result<(u16, String)> {
    let Some(addr) = config.metrics_listen else {
        bail!(
            "{what} are served on metrics.listen, which is off in {}",
            config.source
        );
    };
    let token = pbx_core::admin_token::read(&config.data_dir).with_context(|| {
        format!(
            "reading the admin token {} (written by `pbx serve` with this configuration; \
             run the command as a user who may read the server's data)",
            pbx_core::admin_token::path(&config.data_dir).display()
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("connecting to the server at {addr} (is `pbx serve` running?)"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\n\r\n"
    )?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((resp.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| {
            format!(
                "not an HTTP answer: {:?}",
                head.lines().next().unwrap_or("")
            )
        })?;
    Ok((status, body.to_owned()))
}

/// The `error` of a JSON error body, or the body itself.
pub(crate) fn error_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned())
}
