//! The tokio driver of the sans-IO [`UserAgent`]: one UDP socket, the
//! agent, and the run loop of the sip-stack contract (feed, drain, sleep
//! until `poll_timeout`). The application awaits [`SipDriver::next_event`]
//! and issues commands through [`SipDriver::act`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use sip_stack::message::SipMessage;
use sip_stack::ua::{Output, UaConfig, UaEvent, UserAgent};
use sip_stack::Peer;
use tokio::net::UdpSocket;

/// A user agent on a UDP socket.
pub(crate) struct SipDriver {
    socket: UdpSocket,
    ua: UserAgent,
    events: VecDeque<UaEvent>,
    buf: Vec<u8>,
}

impl SipDriver {
    /// Binds `bind` and starts a user agent whose Via/Contact use the bound address.
    pub(crate) async fn bind(
        bind: SocketAddr,
        config: impl FnOnce(SocketAddr) -> UaConfig,
    ) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind(bind)
            .await
            .with_context(|| format!("binding SIP socket {bind}"))?;
        let local = socket.local_addr()?;
        Ok(Self {
            socket,
            ua: UserAgent::new(config(local)),
            events: VecDeque::new(),
            buf: vec![0; 65_535],
        })
    }

    /// Runs a command on the agent with the current time, then sends what it produced.
    pub(crate) fn act<R>(&mut self, f: impl FnOnce(&mut UserAgent, Instant) -> R) -> R {
        let r = f(&mut self.ua, Instant::now());
        self.flush();
        r
    }

    /// The agent, read-only.
    pub(crate) fn ua(&self) -> &UserAgent {
        &self.ua
    }

    fn flush(&mut self) {
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit { peer, data } => {
                    if let Err(e) = self.socket.try_send_to(&data, peer.addr) {
                        tracing::debug!(error = %e, to = %peer.addr, "SIP send failed");
                    }
                }
                Output::Event(ev) => self.events.push_back(ev),
            }
        }
    }

    /// The next event; meanwhile receives datagrams and fires timers.
    /// Cancel-safe: nothing is lost if the future is dropped.
    pub(crate) async fn next_event(&mut self) -> anyhow::Result<UaEvent> {
        loop {
            self.flush();
            if let Some(ev) = self.events.pop_front() {
                return Ok(ev);
            }
            let deadline = self
                .ua
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, from) = r.context("receiving SIP")?;
                    let data = bytes::Bytes::copy_from_slice(&self.buf[..n]);
                    match SipMessage::parse(data) {
                        Ok(msg) => self.ua.handle_message(Instant::now(), msg, Peer::udp(from)),
                        Err(e) => tracing::debug!(%from, error = %e, "unparsable SIP datagram dropped"),
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.ua.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Waits up to `limit` for an event matching `want`; other events are
    /// passed to `other`. `None` on timeout.
    pub(crate) async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(&UaEvent) -> Option<T>,
        mut other: impl FnMut(&UaEvent),
    ) -> anyhow::Result<Option<T>> {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let ev = tokio::select! {
                ev = self.next_event() => ev?,
                () = tokio::time::sleep_until(end) => return Ok(None),
            };
            if let Some(t) = want(&ev) {
                return Ok(Some(t));
            }
            other(&ev);
        }
    }
}
