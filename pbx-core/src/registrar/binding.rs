//! A registration binding: one contact of an address-of-record (RFC 3261 §10),
//! with the RFC 3327 Path and the RFC 5626 instance/reg-id it was registered with.

use std::net::SocketAddr;

use sip_stack::{Peer, Transport};

/// One contact bound to an AOR.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// `user@domain`, lower-cased domain.
    pub aor: String,
    /// What identifies this binding within the AOR: `+sip.instance` + reg-id when given
    /// (RFC 5626 §6), else the contact URI.
    pub key: String,
    /// The Contact header value as registered (name-addr with its parameters).
    pub contact: String,
    /// The contact URI (where requests are sent).
    pub uri: String,
    /// Unix seconds when the binding lapses.
    pub expires_at: u64,
    /// `q` preference ×1000 (0..=1000; default 1000).
    pub q: u16,
    /// Call-ID of the REGISTER that set it (§10.3 step 7 ordering).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// Path header values (RFC 3327), in order: become the Route set towards the contact.
    pub path: Vec<String>,
    /// `+sip.instance` (RFC 5626).
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
    /// Where the REGISTER came from (transport and source address; NAT traversal and
    /// connection reuse for TCP/TLS contacts).
    pub source: Peer,
    /// User-Agent of the registering device.
    pub user_agent: Option<String>,
}

impl Binding {
    /// Seconds left at `now_secs`.
    pub fn remaining(&self, now_secs: u64) -> u64 {
        self.expires_at.saturating_sub(now_secs)
    }

    /// The source as stored text: `UDP 1.2.3.4:5060`.
    pub fn source_text(&self) -> String {
        format!("{} {}", self.source.transport, self.source.addr)
    }

    /// Parses [`Self::source_text`] back (connection ids do not survive a restart).
    pub fn parse_source(text: &str) -> Option<Peer> {
        let (t, a) = text.split_once(' ')?;
        let transport: Transport = t.parse().ok()?;
        let addr: SocketAddr = a.parse().ok()?;
        Some(Peer {
            transport,
            addr,
            conn: None,
        })
    }
}
