//! `[server]` (listeners, TLS, domain, transaction linger) and `[metrics]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sip_stack::Transport;
use toml::Spanned;

use super::{ConfigError, Listen, Positioner};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) domain: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) aliases: Vec<Spanned<String>>,
    pub(super) listen: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) tls: Vec<RawTls>,
    pub(super) data_dir: Option<Spanned<String>>,
    pub(super) udp_threads: Option<usize>,
    pub(super) transaction_linger_secs: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) listen: Spanned<String>,
    /// `tls` (default) or `wss` (SIP over secure WebSocket, RFC 7118).
    pub(super) transport: Option<Spanned<String>>,
    pub(super) cert: Spanned<String>,
    pub(super) key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<Spanned<String>>,
}

fn parse_listen(spec: &Spanned<String>, pos: &Positioner<'_>) -> Result<Listen, ConfigError> {
    let text = spec.get_ref();
    let (proto, addr) = text.split_once(':').ok_or_else(|| {
        pos.at(
            spec,
            format!("listen entry `{text}`: expected `udp:IP:PORT`, `tcp:IP:PORT` or `ws:IP:PORT`"),
        )
    })?;
    let transport: Transport = proto.parse().map_err(|_| {
        pos.at(
            spec,
            format!("unknown transport `{proto}` (use udp, tcp or ws; tls and wss go in [[server.tls]])"),
        )
    })?;
    if !matches!(transport, Transport::Udp | Transport::Tcp | Transport::Ws) {
        return Err(pos.at(
            spec,
            format!("`{proto}` listeners need a certificate: declare them in [[server.tls]]"),
        ));
    }
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| pos.at(spec, format!("bad address `{addr}`: {e} (write IP:PORT)")))?;
    Ok(Listen {
        transport,
        addr,
        tls: None,
    })
}

/// `server.listen` (default UDP and TCP on 127.0.0.1:5060 and WebSocket on
/// 127.0.0.1:5066 for the agent desktop; `ws:` for SIP
/// over WebSocket) and the `[[server.tls]]` listeners (TLS, or WSS with
/// `transport = "wss"`), whose certificate and key must exist.
pub(super) fn build_listen(
    server: &RawServer,
    pos: &Positioner<'_>,
) -> Result<Vec<Listen>, ConfigError> {
    let mut listen = Vec::new();
    match &server.listen {
        Some(list) => {
            for spec in list {
                listen.push(parse_listen(spec, pos)?);
            }
        }
        None => {
            let addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal address");
            listen.push(Listen {
                transport: Transport::Udp,
                addr,
                tls: None,
            });
            listen.push(Listen {
                transport: Transport::Tcp,
                addr,
                tls: None,
            });
            // SIP over WebSocket for the agent desktop's browser phones.
            listen.push(Listen {
                transport: Transport::Ws,
                addr: "127.0.0.1:5066".parse().expect("literal address"),
                tls: None,
            });
        }
    }
    for tls in &server.tls {
        let addr: SocketAddr = tls
            .listen
            .get_ref()
            .parse()
            .map_err(|e| pos.at(&tls.listen, format!("bad address: {e} (write IP:PORT)")))?;
        let transport = match &tls.transport {
            None => Transport::Tls,
            Some(t) => match t.get_ref().parse() {
                Ok(t @ (Transport::Tls | Transport::Wss)) => t,
                _ => return Err(pos.at(t, "transport must be \"tls\" or \"wss\"")),
            },
        };
        let cert = PathBuf::from(tls.cert.get_ref());
        let key = PathBuf::from(tls.key.get_ref());
        if !cert.exists() {
            return Err(pos.at(
                &tls.cert,
                format!("certificate file {} does not exist", cert.display()),
            ));
        }
        if !key.exists() {
            return Err(pos.at(
                &tls.key,
                format!("key file {} does not exist", key.display()),
            ));
        }
        listen.push(Listen {
            transport,
            addr,
            tls: Some((cert, key)),
        });
    }
    if listen.is_empty() {
        return Err(pos.error(
            0,
            "no listener: add `listen = [\"udp:127.0.0.1:5060\"]` under [server]",
        ));
    }
    Ok(listen)
}

/// `server.domain`, by default the first listener's address.
pub(super) fn build_domain(
    server: &RawServer,
    listen: &[Listen],
    pos: &Positioner<'_>,
) -> Result<String, ConfigError> {
    Ok(match &server.domain {
        Some(d) if d.get_ref().trim().is_empty() => {
            return Err(pos.at(d, "domain must not be empty"))
        }
        Some(d) => d.get_ref().trim().to_owned(),
        None => listen[0].addr.ip().to_string(),
    })
}

/// `server.transaction_linger_secs` (RFC 3261: 32 s).
pub(super) fn build_transaction_linger(
    server: &RawServer,
    pos: &Positioner<'_>,
) -> Result<Duration, ConfigError> {
    Ok(match &server.transaction_linger_secs {
        None => Duration::from_secs(32),
        Some(s) if (1..=64).contains(s.get_ref()) => Duration::from_secs(*s.get_ref()),
        Some(s) => {
            return Err(pos.at(
                s,
                "transaction_linger_secs must lie within [1, 64] (RFC 3261: 32)",
            ))
        }
    })
}

/// `metrics.listen` (default 127.0.0.1:9060; `"off"` or `""`: none).
pub(super) fn build_metrics_listen(
    metrics: &RawMetrics,
    pos: &Positioner<'_>,
) -> Result<Option<SocketAddr>, ConfigError> {
    Ok(match &metrics.listen {
        None => Some("127.0.0.1:9060".parse().expect("literal address")),
        Some(s) if s.get_ref().is_empty() || s.get_ref() == "off" => None,
        Some(s) => Some(
            s.get_ref()
                .parse()
                .map_err(|e| pos.at(s, format!("bad address: {e} (write IP:PORT or \"off\")")))?,
        ),
    })
}
