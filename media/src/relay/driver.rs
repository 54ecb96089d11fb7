//! Socket driver for the relay: one dedicated thread owns every relay
//! socket and a level-triggered epoll ([`super::poller`]; no async
//! runtime: the per-packet path is recv → [`RelaySession::handle_packet`] →
//! send, with no allocation). Each leg's socket is `connect()`ed to its
//! peer once latching has settled (see `Entry::settle`). Control talks to
//! the thread through crossbeam channels and an eventfd waker.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::UdpSocket;

use super::media::LegMedia;
use super::poller::{Events, Poller, Waker};
use super::ports::{PortAllocator, PortError, PortPair};
use super::record::{RecordSink, RecordStats};
use super::session::{Channel, Forward, LegConfig, LegStats, RelayConfig, RelaySession, Side};
use crate::dtmf::Digit;
use crate::quality::QualitySample;
use crate::rtcp::NtpTime;

/// Caller-chosen id of a relayed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub u64);

/// Driver configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverConfig {
    /// Local address to bind relay sockets on (and to put in SDP).
    pub bind: IpAddr,
    /// First port of the range.
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
    /// Per-session policy.
    pub relay: RelayConfig,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port_min: 30000,
            port_max: 39999,
            relay: RelayConfig::default(),
        }
    }
}

/// Invalid driver configuration (reported by [`DriverConfig::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `port_min..=port_max` holds no RTP/RTCP pair.
    #[error("media.port_min..port_max ({0}..{1}) must hold at least one even/odd port pair")]
    PortRange(u16, u16),
    /// Inactivity timeout of zero.
    #[error("media.inactivity_timeout must be > 0")]
    Timeout,
    /// Clock rate of zero.
    #[error("media.clock_rate must be > 0")]
    ClockRate,
}

impl DriverConfig {
    /// Checks the values (call before [`RelayHandle::spawn`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if PortAllocator::new(self.port_min, self.port_max).is_err() {
            return Err(ConfigError::PortRange(self.port_min, self.port_max));
        }
        if self.relay.inactivity_timeout.is_zero() {
            return Err(ConfigError::Timeout);
        }
        if self.relay.clock_rate == 0 {
            return Err(ConfigError::ClockRate);
        }
        Ok(())
    }
}

/// Commands from control to the media thread.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// Allocate two port pairs and start relaying.
    Open {
        /// Id.
        id: SessionId,
        /// Caller leg.
        a: LegConfig,
        /// Callee leg.
        b: LegConfig,
    },
    /// Like `Open`, answered on `reply` instead of the event channel.
    OpenReply {
        /// Id.
        id: SessionId,
        /// Caller leg.
        a: LegConfig,
        /// Callee leg.
        b: LegConfig,
        /// Where the result goes.
        reply: Sender<Result<(PortPair, PortPair), PortError>>,
    },
    /// New SDP for one leg.
    Reanchor {
        /// Id.
        id: SessionId,
        /// Which leg.
        side: Side,
        /// New addresses.
        leg: LegConfig,
    },
    /// Ask for stats (answered with [`RelayEvent::Stats`]).
    QueryStats(SessionId),
    /// Ask for the quality window (answered with [`RelayEvent::Quality`]).
    QueryQuality(SessionId),
    /// Release the ports (BYE, CANCEL, failure).
    Close(SessionId),
    /// Stop the thread.
    Shutdown,
    /// The payloads one leg negotiated (see [`RelaySession::set_media`]):
    /// DTMF reporting and, when the legs' codecs differ, transcoding.
    SetMedia {
        /// Id.
        id: SessionId,
        /// Which leg.
        side: Side,
        /// Its codec and telephone-event payload types.
        media: LegMedia,
    },
    /// Start recording: hand the decoded audio of both legs to `sink`
    /// (see [`super::record`]) until [`Command::StopRecord`] or the session
    /// closes. A sink already set is replaced (and returned in
    /// [`RelayEvent::RecordStopped`]).
    Record {
        /// Id.
        id: SessionId,
        /// Where the frames go, on the relay thread (must not block).
        sink: Arc<dyn RecordSink>,
    },
    /// Stop recording (answered with [`RelayEvent::RecordStopped`] when a
    /// sink was set).
    StopRecord(SessionId),
}

impl Command {
    /// The session a command is about (`None` for `Shutdown`).
    pub fn session_id(&self) -> Option<SessionId> {
        match self {
            Self::Open { id, .. }
            | Self::OpenReply { id, .. }
            | Self::Reanchor { id, .. }
            | Self::SetMedia { id, .. }
            | Self::Record { id, .. } => Some(*id),
            Self::QueryStats(id)
            | Self::QueryQuality(id)
            | Self::Close(id)
            | Self::StopRecord(id) => Some(*id),
            Self::Shutdown => None,
        }
    }
}

/// Events from the media thread.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RelayEvent {
    /// Ports bound; put `ports.0` in the SDP sent to A, `ports.1` in B's.
    Opened {
        /// Id.
        id: SessionId,
        /// (leg A, leg B) pairs on the relay.
        ports: (PortPair, PortPair),
    },
    /// Could not open.
    OpenFailed {
        /// Id.
        id: SessionId,
        /// Why.
        error: PortError,
    },
    /// Current stats.
    Stats {
        /// Id.
        id: SessionId,
        /// (A, B).
        stats: (LegStats, LegStats),
    },
    /// Quality samples (oldest first) of what the relay receives from A and B.
    Quality {
        /// Id.
        id: SessionId,
        /// Leg A samples.
        a: Vec<QualitySample>,
        /// Leg B samples.
        b: Vec<QualitySample>,
    },
    /// Closed, by command or inactivity.
    Closed {
        /// Id.
        id: SessionId,
        /// True if by inactivity timeout.
        expired: bool,
        /// Final (A, B) stats.
        stats: (LegStats, LegStats),
    },
    /// A DTMF key pressed on a leg: an RFC 4733 telephone-event passed the
    /// relay (reported once per key press; the packets flow on).
    Dtmf {
        /// Id.
        id: SessionId,
        /// The leg whose endpoint pressed it.
        side: Side,
        /// The key.
        digit: Digit,
    },
    /// A session's recording tap was removed (by [`Command::StopRecord`], a
    /// new [`Command::Record`], or the session closing, then sent before
    /// [`RelayEvent::Closed`]). The sink comes back so that the relay
    /// thread never drops (and so never finalizes) one: finish the
    /// recording on the control side.
    RecordStopped {
        /// Id.
        id: SessionId,
        /// The sink that was set.
        sink: Arc<dyn RecordSink>,
        /// Its counters.
        stats: RecordStats,
    },
}

struct Entry {
    id: SessionId,
    session: RelaySession,
    // [A rtp, A rtcp, B rtp, B rtcp]
    sockets: [UdpSocket; 4],
    // the peer each socket is `connect()`ed to (see `Entry::settle`)
    connected: [Option<SocketAddr>; 4],
    ports: (PortPair, PortPair),
}

impl Entry {
    /// Connects socket `k` to its peer once the session says its latch has
    /// settled ([`RelaySession::settled_peer`]), or unconnects it when the
    /// latch reopened (re-anchoring, hold). A connected UDP socket sends
    /// without a route lookup per packet (`send`, not `send_to`) and the
    /// kernel drops datagrams from other sources — exactly what the closed
    /// latch window would do with them, minus counting them in
    /// [`LegStats::dropped`].
    fn settle(&mut self, now: Instant, k: usize) {
        let (side, channel) = SOCKETS[k];
        let peer = self.session.settled_peer(now, side, channel);
        if peer == self.connected[k] {
            return;
        }
        let socket = &self.sockets[k];
        let done = match peer {
            Some(addr) => socket.connect(addr),
            None => rustix::net::connect_unspec(socket).map_err(io::Error::from),
        };
        match done {
            Ok(()) => self.connected[k] = peer,
            Err(error) => {
                // stays as it was: the session still filters every packet
                tracing::debug!(%error, session = self.id.0, "relay socket (un)connect failed");
            }
        }
    }

    /// Sends from socket `k` (`send` when it is connected to `to`).
    fn send(&self, k: usize, buf: &[u8], to: SocketAddr) {
        let socket = &self.sockets[k];
        let _ = if self.connected[k] == Some(to) {
            socket.send(buf)
        } else {
            socket.send_to(buf, to)
        };
    }
}

/// A session whose sockets [`RelayHandle::open_sync`] bound on the
/// caller's thread, for the relay thread to adopt.
#[derive(Debug)]
struct Bound {
    id: SessionId,
    a: LegConfig,
    b: LegConfig,
    sockets: [UdpSocket; 4],
    ports: (PortPair, PortPair),
}

/// What goes down the control channel.
#[derive(Debug)]
enum Msg {
    Cmd(Command),
    Adopt(Box<Bound>),
}

/// Allocates a port pair and binds its RTP and RTCP sockets. A pair busy
/// with another process goes back to the end of the free list (retried
/// after every other pair) and the next one is tried; running out of file
/// descriptors stops at once with its own error.
fn bind_pair(
    ports: &Mutex<PortAllocator>,
    bind: IpAddr,
) -> Result<(PortPair, UdpSocket, UdpSocket), PortError> {
    let lock = || ports.lock().unwrap_or_else(PoisonError::into_inner);
    let attempts = lock().available().clamp(1, 256);
    for _ in 0..attempts {
        let pair = lock().allocate()?;
        let rtp = UdpSocket::bind(SocketAddr::new(bind, pair.rtp));
        let rtcp = UdpSocket::bind(SocketAddr::new(bind, pair.rtcp()));
        match (rtp, rtcp) {
            (Ok(a), Ok(b)) => return Ok((pair, a, b)),
            (rtp, rtcp) => {
                let out_of_fds = crate::relay::ports::out_of_descriptors(
                    [rtp.err(), rtcp.err()].iter().flatten(),
                );
                lock().release(pair);
                if out_of_fds {
                    return Err(PortError::Descriptors);
                }
                tracing::debug!(port = pair.rtp, "relay port pair busy");
            }
        }
    }
    Err(PortError::Exhausted)
}

/// Binds the four sockets of a session: [A rtp, A rtcp, B rtp, B rtcp].
#[allow(clippy::type_complexity)]
fn bind_session(
    ports: &Mutex<PortAllocator>,
    bind: IpAddr,
) -> Result<([UdpSocket; 4], (PortPair, PortPair)), PortError> {
    let (pa, a_rtp, a_rtcp) = bind_pair(ports, bind)?;
    match bind_pair(ports, bind) {
        Ok((pb, b_rtp, b_rtcp)) => Ok(([a_rtp, a_rtcp, b_rtp, b_rtcp], (pa, pb))),
        Err(e) => {
            drop((a_rtp, a_rtcp));
            release(ports, &[pa]);
            Err(e)
        }
    }
}

fn release(ports: &Mutex<PortAllocator>, pairs: &[PortPair]) {
    let mut ports = ports.lock().unwrap_or_else(PoisonError::into_inner);
    for &p in pairs {
        ports.release(p);
    }
}

/// Handle to the relay thread.
#[derive(Debug)]
pub struct RelayHandle {
    commands: Sender<Msg>,
    waker: Waker,
    // shared with the relay thread, which releases pairs on close
    ports: Arc<Mutex<PortAllocator>>,
    bind: IpAddr,
    /// Events from the media thread.
    pub events: Receiver<RelayEvent>,
    thread: Option<JoinHandle<()>>,
}

impl RelayHandle {
    /// Starts the relay thread.
    pub fn spawn(cfg: DriverConfig) -> io::Result<Self> {
        let (etx, erx) = crossbeam_channel::unbounded();
        Self::spawn_with_events(cfg, etx, erx)
    }

    /// Starts the relay thread reporting to an existing event channel
    /// (used by [`super::pool::RelayPool`] to merge shards).
    pub fn spawn_with_events(
        cfg: DriverConfig,
        etx: Sender<RelayEvent>,
        erx: Receiver<RelayEvent>,
    ) -> io::Result<Self> {
        cfg.validate().map_err(io::Error::other)?;
        let ports = PortAllocator::new(cfg.port_min, cfg.port_max).map_err(io::Error::other)?;
        let ports = Arc::new(Mutex::new(ports));
        let shared = Arc::clone(&ports);
        let poll = Poller::new()?;
        let waker = poll.waker();
        let (ctx, crx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("rtp-relay".into())
            .spawn(move || {
                let mut d = Driver {
                    cfg,
                    poll,
                    ports: shared,
                    entries: Vec::new(),
                    index: HashMap::new(),
                    duplicate_ids: false,
                    free: Vec::new(),
                    commands: crx,
                    events: etx,
                };
                if let Err(e) = d.run() {
                    tracing::error!(error = %e, "relay thread stopped");
                }
            })?;
        Ok(Self {
            commands: ctx,
            waker,
            ports,
            bind: cfg.bind,
            events: erx,
            thread: Some(thread),
        })
    }

    /// Opens a session and returns its port pairs (leg A, leg B): what
    /// the proxy puts into the rewritten SDP. The ports are allocated and
    /// the sockets bound on the calling thread, then handed to the relay
    /// thread without waiting for it (datagrams arriving meanwhile queue
    /// in the bound sockets), so the caller never blocks on the relay
    /// thread; `_timeout` is kept for compatibility. Fails when the port
    /// range is exhausted or the relay thread has stopped.
    pub fn open_sync(
        &self,
        id: SessionId,
        a: LegConfig,
        b: LegConfig,
        _timeout: Duration,
    ) -> Result<(PortPair, PortPair), PortError> {
        let (sockets, ports) = bind_session(&self.ports, self.bind)?;
        let bound = Box::new(Bound {
            id,
            a,
            b,
            sockets,
            ports,
        });
        if self.send_msg(Msg::Adopt(bound)) {
            Ok(ports)
        } else {
            release(&self.ports, &[ports.0, ports.1]);
            Err(PortError::Exhausted)
        }
    }

    /// Sends a command and wakes the thread.
    pub fn send(&self, cmd: Command) {
        self.send_msg(Msg::Cmd(cmd));
    }

    fn send_msg(&self, msg: Msg) -> bool {
        // the sockets of a refused `Adopt` are closed here, with the message
        let sent = self.commands.send(msg).is_ok();
        if sent {
            let _ = self.waker.wake();
        }
        sent
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Driver {
    cfg: DriverConfig,
    poll: Poller,
    ports: Arc<Mutex<PortAllocator>>,
    entries: Vec<Option<Entry>>,
    // session id → slot in `entries` (the first session opened with an id)
    index: HashMap<SessionId, usize>,
    // whether an id was ever opened twice (then closing rescans `entries`)
    duplicate_ids: bool,
    free: Vec<usize>,
    commands: Receiver<Msg>,
    events: Sender<RelayEvent>,
}

const SOCKETS: [(Side, Channel); 4] = [
    (Side::A, Channel::Rtp),
    (Side::A, Channel::Rtcp),
    (Side::B, Channel::Rtp),
    (Side::B, Channel::Rtcp),
];

fn socket_index(side: Side, channel: Channel) -> usize {
    (side as usize) * 2 + channel as usize
}

impl Driver {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut ready = Vec::with_capacity(1024);
        let mut buf = [0u8; 2048];
        let mut next_sweep = Instant::now() + Duration::from_millis(250);
        loop {
            let timeout = next_sweep.saturating_duration_since(Instant::now());
            ready.clear();
            self.poll
                .wait(&mut events, timeout, |token| ready.push(token))?;
            // commands first: a packet that arrived with them (the first
            // one after SetMedia/Reanchor) is handled under the new state
            while let Ok(msg) = self.commands.try_recv() {
                match msg {
                    Msg::Cmd(Command::Shutdown) => return Ok(()),
                    Msg::Cmd(cmd) => self.command(cmd),
                    Msg::Adopt(bound) => self.adopt(*bound),
                }
            }
            for &token in &ready {
                self.read_socket(token as usize, &mut buf);
            }
            let now = Instant::now();
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + Duration::from_millis(250);
            }
        }
    }

    /// Reads one datagram: the poll is level-triggered, so a socket with
    /// more queued is reported again by the next wait (no final `EAGAIN`
    /// read per event; sockets take turns under load).
    fn read_socket(&mut self, token: usize, buf: &mut [u8; 2048]) {
        let (slot, k) = (token / 4, token % 4);
        let Some(Some(e)) = self.entries.get_mut(slot) else {
            return;
        };
        let (side, channel) = SOCKETS[k];
        // WouldBlock (spurious wake-up) or an ICMP error (e.g. port
        // unreachable, reported on connected sockets), now consumed:
        // if datagrams are queued behind it the next wait says so
        let Ok((n, from)) = e.sockets[k].recv_from(buf) else {
            return;
        };
        let now = Instant::now();
        if let Forward::Send {
            side,
            channel,
            to,
            len,
        } = e.session.handle_datagram(now, side, channel, from, buf, n)
        {
            e.send(socket_index(side, channel), &buf[..len], to);
        }
        if e.connected[k].is_none() {
            e.settle(now, k);
        }
        while let Some((side, digit)) = e.session.poll_dtmf() {
            let _ = self.events.send(RelayEvent::Dtmf {
                id: e.id,
                side,
                digit,
            });
        }
    }

    fn open(
        &mut self,
        id: SessionId,
        a: LegConfig,
        b: LegConfig,
    ) -> Result<(PortPair, PortPair), PortError> {
        let (sockets, ports) = bind_session(&self.ports, self.cfg.bind)?;
        self.adopt(Bound {
            id,
            a,
            b,
            sockets,
            ports,
        });
        Ok(ports)
    }

    /// Starts relaying on sockets bound by [`bind_session`].
    fn adopt(&mut self, bound: Bound) {
        let Bound {
            id,
            a,
            b,
            sockets,
            ports,
        } = bound;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        for (k, s) in sockets.iter().enumerate() {
            if self.poll.add(s, (slot * 4 + k) as u64).is_err() {
                tracing::warn!("relay socket registration failed");
            }
        }
        match self.index.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => self.duplicate_ids = true,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(slot);
            }
        }
        self.entries[slot] = Some(Entry {
            id,
            session: RelaySession::new(self.cfg.relay, Instant::now(), a, b),
            sockets,
            connected: [None; 4],
            ports,
        });
    }

    fn find(&self, id: SessionId) -> Option<usize> {
        self.index.get(&id).copied()
    }

    fn close(&mut self, slot: usize, expired: bool) {
        if let Some(mut e) = self.entries[slot].take() {
            for s in &e.sockets {
                let _ = self.poll.delete(s);
            }
            let stats = (e.session.stats(Side::A), e.session.stats(Side::B));
            let (id, ports) = (e.id, e.ports);
            if let Some((sink, stats)) = e.session.take_record_sink() {
                let _ = self
                    .events
                    .send(RelayEvent::RecordStopped { id, sink, stats });
            }
            // close the sockets before announcing the ports are free
            drop(e);
            release(&self.ports, &[ports.0, ports.1]);
            if self.index.get(&id) == Some(&slot) {
                self.index.remove(&id);
                // a later session opened with the same id becomes reachable
                if self.duplicate_ids {
                    let other = self
                        .entries
                        .iter()
                        .position(|e| e.as_ref().is_some_and(|e| e.id == id));
                    if let Some(other) = other {
                        self.index.insert(id, other);
                    }
                }
            }
            self.free.push(slot);
            let _ = self.events.send(RelayEvent::Closed { id, expired, stats });
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Open { id, a, b } => {
                let ev = match self.open(id, a, b) {
                    Ok(ports) => RelayEvent::Opened { id, ports },
                    Err(error) => RelayEvent::OpenFailed { id, error },
                };
                let _ = self.events.send(ev);
            }
            Command::OpenReply { id, a, b, reply } => {
                let _ = reply.send(self.open(id, a, b));
            }
            Command::Reanchor { id, side, leg } => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_mut()) {
                    let now = Instant::now();
                    e.session.reanchor(now, side, leg);
                    // the latch window reopened: unconnect, so that a new
                    // source can be learned (reconnected once it settles)
                    for channel in [Channel::Rtp, Channel::Rtcp] {
                        e.settle(now, socket_index(side, channel));
                    }
                }
            }
            Command::SetMedia { id, side, media } => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_mut()) {
                    if let Err(error) = e.session.set_media(side, media) {
                        tracing::warn!(session = id.0, %error, "relay cannot transcode");
                    }
                }
            }
            Command::Record { id, sink } => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_mut()) {
                    if let Some((sink, stats)) = e.session.set_record_sink(Instant::now(), sink) {
                        let _ = self
                            .events
                            .send(RelayEvent::RecordStopped { id, sink, stats });
                    }
                }
            }
            Command::StopRecord(id) => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_mut()) {
                    if let Some((sink, stats)) = e.session.take_record_sink() {
                        let _ = self
                            .events
                            .send(RelayEvent::RecordStopped { id, sink, stats });
                    }
                }
            }
            Command::QueryStats(id) => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_ref()) {
                    let stats = (e.session.stats(Side::A), e.session.stats(Side::B));
                    let _ = self.events.send(RelayEvent::Stats { id, stats });
                }
            }
            Command::QueryQuality(id) => {
                if let Some(Some(e)) = self.find(id).map(|i| self.entries[i].as_ref()) {
                    let a = e.session.quality(Side::A).samples().copied().collect();
                    let b = e.session.quality(Side::B).samples().copied().collect();
                    let _ = self.events.send(RelayEvent::Quality { id, a, b });
                }
            }
            Command::Close(id) => {
                if let Some(i) = self.find(id) {
                    self.close(i, false);
                }
            }
            Command::Shutdown => {}
        }
    }

    /// Every 250 ms: quality samples, inactivity, and the relay's own RTCP
    /// for transcoded sessions ([`RelaySession::poll_report`]).
    fn sweep(&mut self, now: Instant) {
        let wall = NtpTime::now();
        let mut buf = [0u8; 512];
        for i in 0..self.entries.len() {
            let expired = self.entries[i].as_mut().is_some_and(|e| {
                while let Some(Forward::Send {
                    side,
                    channel,
                    to,
                    len,
                }) = e.session.poll_report(now, wall, &mut buf)
                {
                    e.send(socket_index(side, channel), &buf[..len], to);
                }
                e.session.handle_timeout(now)
            });
            if expired {
                self.close(i, true);
            }
        }
    }
}

#[cfg(test)]
mod bind_tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// A pair taken by another socket is skipped, not lost from the pool.
    #[test]
    fn busy_pair_is_skipped_and_kept() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // Find a free 4-port window to work in.
        let base = (0..200)
            .map(|i| 47_000 + i * 8)
            .find(|b| (0..4).all(|k| UdpSocket::bind(SocketAddr::new(ip, b + k)).is_ok()))
            .expect("a free port window");
        let ports = Mutex::new(PortAllocator::new(base, base + 4).expect("range"));
        let squatter = UdpSocket::bind(SocketAddr::new(ip, base)).expect("squat the first pair");
        let (pair, _a, _b) = bind_pair(&ports, ip).expect("the second pair");
        assert_eq!(pair.rtp, base + 2);
        // The busy pair went back to the free list.
        assert_eq!(ports.lock().expect("lock").available(), 1);
        drop(squatter);
        let (again, _c, _d) = bind_pair(&ports, ip).expect("the first pair, free now");
        assert_eq!(again.rtp, base);
    }
}
