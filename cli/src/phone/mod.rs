//! `pbx phone`: a SIP softphone for people (an interactive console) and
//! scripts (one-shot `call` and `answer` with WAV files as microphone and
//! speaker). Signalling is the sans-IO [`sip_stack::ua::UserAgent`] driven
//! by [`sip::SipDriver`] over UDP; audio is G.711 over RTP from the
//! `media` crate ([`media::MediaStream`]).

#[cfg(feature = "audio")]
pub(crate) mod audio;
pub(crate) mod console;
pub(crate) mod media;
pub(crate) mod oneshot;
pub(crate) mod profile;
pub(crate) mod sdp;
pub(crate) mod sip;
pub(crate) mod wav;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::media::sdp::negotiate::Codec;
use anyhow::{bail, Context};
use sip_stack::ua::{Credentials, UaConfig, UaEvent};
use sip_stack::Uri;

use self::sip::{LinkConfig, SipDriver};

/// The account and network settings shared by every `pbx phone` mode.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    /// SIP user (AOR user part and digest username).
    pub(crate) user: String,
    /// Digest password.
    pub(crate) password: Option<String>,
    /// The registrar/proxy to send everything to.
    pub(crate) server: SocketAddr,
    /// AOR domain (defaults to the server's host).
    pub(crate) domain: String,
    /// Local SIP address (port 0: any).
    pub(crate) bind: SocketAddr,
    /// Codecs in preference order.
    pub(crate) codecs: Vec<Codec>,
    /// Registration lifetime.
    pub(crate) expires: u32,
    /// Transport, TLS trust and keep-alives.
    pub(crate) link: LinkConfig,
}

impl Account {
    /// Resolves `server` (`host:port`, port 5060 when absent) and picks the
    /// local address that routes to it unless `bind` is given.
    pub(crate) fn new(
        user: String,
        password: Option<String>,
        server: &str,
        domain: Option<String>,
        bind: Option<SocketAddr>,
        codecs: Vec<Codec>,
    ) -> anyhow::Result<Self> {
        let with_port = if server.contains(':') {
            server.to_owned()
        } else {
            format!("{server}:5060")
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
            .with_context(|| format!("resolving {server}"))?
            .next()
            .with_context(|| format!("{server} has no address"))?;
        let host = with_port
            .rsplit_once(':')
            .map_or(server, |(h, _)| h)
            .to_owned();
        let bind = match bind {
            Some(b) => b,
            None => SocketAddr::new(route_to(addr)?, 0),
        };
        Ok(Self {
            user,
            password,
            server: addr,
            domain: domain.unwrap_or(host),
            bind,
            codecs,
            expires: 300,
            link: LinkConfig::default(),
        })
    }

    /// The user agent's config once the SIP socket is bound to `local`.
    fn ua_config(&self, local: SocketAddr) -> anyhow::Result<UaConfig> {
        let aor = Uri::parse(&format!("sip:{}@{}", self.user, self.domain))
            .with_context(|| format!("{}@{} is not a SIP address", self.user, self.domain))?;
        let mut c = UaConfig::new(aor, local);
        c.transport = self.link.transport;
        if c.transport != sip_stack::Transport::Udp {
            // RFC 3261 §19.1.1: requests for us must come over this transport.
            let t = c.transport.as_str().to_ascii_lowercase();
            c.contact.set_param("transport", Some(t));
        }
        c.outbound_proxy = Some(self.server);
        c.credentials = self.password.clone().map(|password| Credentials {
            username: self.user.clone(),
            password,
        });
        c.register_expires = self.expires;
        // NAT, and TCP/TLS where our Contact is the connection's address:
        // take the address the server saw (RFC 3581).
        c.learn_contact = true;
        c.seed = seed();
        Ok(c)
    }

    /// A URI from what the user typed: a full `sip:` URI, `user@host`, or
    /// a bare number/user at our domain.
    pub(crate) fn target(&self, typed: &str) -> anyhow::Result<Uri> {
        let text =
            if typed.starts_with("sip:") || typed.starts_with("sips:") || typed.starts_with("tel:")
            {
                typed.to_owned()
            } else if typed.contains('@') {
                format!("sip:{typed}")
            } else {
                format!("sip:{typed}@{}", self.domain)
            };
        Uri::parse(&text).with_context(|| format!("{typed:?} is not a SIP URI"))
    }
}

/// One codec by name.
pub(crate) fn codec(name: &str) -> anyhow::Result<Codec> {
    match name.to_ascii_lowercase().as_str() {
        "pcmu" => Ok(Codec::Pcmu),
        "pcma" => Ok(Codec::Pcma),
        "opus" if opus_available() => Ok(Codec::Opus),
        "opus" => bail!("this pbx was built without Opus (cargo feature `opus`)"),
        other => bail!("unknown codec {other:?} (pcmu, pcma or opus)"),
    }
}

/// Whether the media crate was built with Opus.
fn opus_available() -> bool {
    ::media::codec::AudioEncoder::new(Codec::Opus, 8000).is_ok()
}

/// `preferred` first, then G.711 (what `--codec` means): Opus (RFC 7587,
/// `opus/48000/2`) falls back to PCMU then PCMA.
pub(crate) fn preferring(preferred: &str) -> anyhow::Result<Vec<Codec>> {
    Ok(match codec(preferred)? {
        Codec::Pcma => vec![Codec::Pcma, Codec::Pcmu],
        Codec::Opus => vec![Codec::Opus, Codec::Pcmu, Codec::Pcma],
        _ => vec![Codec::Pcmu, Codec::Pcma],
    })
}

/// The local address the OS would use to reach `to`.
fn route_to(to: SocketAddr) -> anyhow::Result<IpAddr> {
    let any: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(to)?;
    Ok(probe.local_addr()?.ip())
}

/// Seed for tags and branches: the driver may read the clock, the core may not.
fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
}

/// Starts the SIP driver for `account`.
pub(crate) async fn start(account: &Account) -> anyhow::Result<SipDriver> {
    let mut err = None;
    let driver = SipDriver::bind(account.bind, &account.link, |local| {
        match account.ua_config(local) {
            Ok(c) => c,
            Err(e) => {
                err = Some(e);
                UaConfig::new(Uri::sip("invalid"), local)
            }
        }
    })
    .await?;
    match err {
        Some(e) => Err(e),
        None => Ok(driver),
    }
}

/// Registers and waits for the outcome; `say` reports a learnt contact.
pub(crate) async fn register(phone: &mut SipDriver, say: fn(&str)) -> anyhow::Result<u32> {
    phone.act(|ua, now| ua.register(now));
    let outcome = phone
        .wait_for(
            Duration::from_secs(10),
            |ev| match ev {
                UaEvent::Registered { expires } => Some(Ok(*expires)),
                UaEvent::RegistrationFailed { status, .. } => Some(Err(*status)),
                _ => None,
            },
            |ev| {
                if let UaEvent::ContactLearned { contact } = ev {
                    say(&format!("contact learnt from the server: {contact}"));
                }
            },
        )
        .await?;
    match outcome {
        Some(Ok(expires)) => Ok(expires),
        Some(Err(Some(status))) => bail!(
            "registration failed: {} {}",
            status.0,
            status.reason_phrase()
        ),
        Some(Err(None)) | None => bail!("registration failed: no answer from the server"),
    }
}

/// Removes the binding, waiting briefly for the answer.
pub(crate) async fn unregister(phone: &mut SipDriver) {
    if !phone.ua().is_registered() {
        return;
    }
    phone.act(|ua, now| ua.unregister(now));
    let _ = phone
        .wait_for(
            Duration::from_secs(2),
            |ev| matches!(ev, UaEvent::Unregistered).then_some(()),
            |_| {},
        )
        .await;
}

/// Parses `10s`, `1500ms`, `2m` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn targets() {
        let codecs = preferring("pcmu").expect("codec");
        let a = Account::new("1001".into(), None, "127.0.0.1:5070", None, None, codecs)
            .expect("account");
        assert_eq!(a.domain, "127.0.0.1");
        assert_eq!(
            a.target("1002").expect("uri").to_string(),
            "sip:1002@127.0.0.1"
        );
        assert_eq!(
            a.target("bob@example.com").expect("uri").to_string(),
            "sip:bob@example.com"
        );
        assert_eq!(
            a.target("sip:x@y:5080").expect("uri").to_string(),
            "sip:x@y:5080"
        );
    }
}
