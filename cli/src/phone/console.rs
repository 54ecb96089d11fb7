//! The interactive console: `pbx phone` alone. Line commands on stdin
//! (dial, answer, hangup, hold, resume, transfer, dtmf, mute, status,
//! quit), state changes printed as they happen. One call at a time, plus
//! one on hold while consulting for an attended transfer (RFC 5589 §7).

use std::path::PathBuf;
use std::process::ExitCode;

use ::media::sdp::Direction;
use sip_stack::ua::{Body, SessionId, UaEvent};
use sip_stack::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::media::{MediaStream, Pcm, Source};
use super::oneshot::digits;
use super::sdp::Negotiation;
use super::sip::SipDriver;
use super::{register, unregister, wav, Account};

const HELP: &str = "commands: dial URI | answer | hangup | hold | resume | transfer URI | atransfer | dtmf DIGITS | mute | status | quit";

/// Console options: WAV files or a sound card.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsoleOptions {
    /// Played as the microphone in every call.
    pub(crate) play: Option<PathBuf>,
    /// Where each call's audio is written (`NAME-<n>.wav`).
    pub(crate) record: Option<PathBuf>,
    /// Use the sound card (feature `audio`): (input, output) device name
    /// parts, `None` for the defaults.
    pub(crate) sound_card: Option<(Option<String>, Option<String>)>,
}

/// The sound card's queues and whatever keeps its streams alive.
struct Devices {
    mic: Pcm,
    speaker: Pcm,
    _keep: Box<dyn std::any::Any>,
}

#[cfg(feature = "audio")]
fn open_devices(input: Option<&str>, output: Option<&str>) -> anyhow::Result<Devices> {
    let card = super::audio::open(input, output)?;
    Ok(Devices {
        mic: card.mic.clone(),
        speaker: card.speaker.clone(),
        _keep: Box::new(card),
    })
}

#[cfg(not(feature = "audio"))]
fn open_devices(_input: Option<&str>, _output: Option<&str>) -> anyhow::Result<Devices> {
    anyhow::bail!("this pbx was built without sound card support (cargo feature `audio`)")
}

struct Call {
    session: SessionId,
    media: MediaStream,
    negotiation: Negotiation,
    connected: bool,
    held: bool,
    muted: bool,
}

struct Console<'a> {
    account: &'a Account,
    opts: ConsoleOptions,
    phone: SipDriver,
    call: Option<Call>,
    /// The call put on hold before dialing a consultation call.
    held_call: Option<Call>,
    incoming: Option<(SessionId, Option<Body>)>,
    /// The call that asked us to transfer (REFER) while we dial the target.
    transferred: Option<SessionId>,
    recordings: u32,
    devices: Option<Devices>,
    /// A refresh failed or the contact changed: say when we are registered again.
    registration_lost: bool,
}

/// Runs the console until `quit` or end of input.
pub(crate) async fn run(account: &Account, opts: ConsoleOptions) -> anyhow::Result<ExitCode> {
    let devices = match &opts.sound_card {
        Some((i, o)) => Some(open_devices(i.as_deref(), o.as_deref())?),
        None => None,
    };
    let mut phone = super::start(account).await?;
    match register(&mut phone, say).await {
        Ok(expires) => say(&format!(
            "registered as {}@{} ({expires} s)",
            account.user, account.domain
        )),
        Err(e) => say(&format!("{e:#} (calls may still work)")),
    }
    say(HELP);
    let mut console = Console {
        account,
        opts,
        phone,
        call: None,
        held_call: None,
        incoming: None,
        transferred: None,
        recordings: 0,
        devices,
        registration_lost: false,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let digit = async {
            match console.call.as_mut() {
                Some(c) => c.media.next_digit().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            d = digit => say(&format!("DTMF {} received", d.as_char())),
            ev = console.phone.next_event() => console.on_event(ev?).await?,
            line = lines.next_line() => match line? {
                Some(l) => if !console.on_line(l.trim()).await? { break },
                None => break,
            },
        }
    }
    console.quit().await?;
    Ok(ExitCode::SUCCESS)
}

/// One line of the console's dialogue. Standard output closed under a running
/// console (`pbx phone | head`) loses the line; the phone keeps its call.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = crate::output::stdout(|out| writeln!(out, "{line}"));
}

impl Console<'_> {
    async fn new_call_media(&self) -> anyhow::Result<(MediaStream, Negotiation)> {
        let (source, speaker) = match (&self.devices, &self.opts.play) {
            (Some(d), _) => (Source::Device(d.mic.clone()), Some(d.speaker.clone())),
            (None, Some(p)) => (Source::Samples(wav::read(p)?), None),
            (None, None) => (Source::Samples(Vec::new()), None),
        };
        let cfg = self.phone.ua().config();
        let ip = cfg.local_addr.ip();
        let media =
            MediaStream::start(ip, source, speaker, cfg.seed as u32 ^ self.recordings).await?;
        let negotiation = Negotiation::new(
            ip,
            media.local().port(),
            self.account.codecs.clone(),
            cfg.seed >> 8,
        );
        Ok((media, negotiation))
    }

    async fn on_line(&mut self, line: &str) -> anyhow::Result<bool> {
        let (cmd, arg) = line
            .split_once(' ')
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        let result = match cmd {
            "" => Ok(()),
            "quit" | "exit" => return Ok(false),
            "help" | "?" => {
                say(HELP);
                Ok(())
            }
            "dial" | "call" => self.dial(arg).await,
            "answer" => self.answer().await,
            "hangup" => self.hangup(),
            "hold" => self.hold(true),
            "resume" | "unhold" => self.hold(false),
            "transfer" => self.transfer(arg),
            "atransfer" | "transfer-attended" => self.attended_transfer(),
            "dtmf" => self.dtmf(arg),
            "mute" => self.mute(),
            "status" => {
                self.status();
                Ok(())
            }
            other => Err(anyhow::anyhow!("unknown command {other:?}; {HELP}")),
        };
        if let Err(e) = result {
            say(&format!("error: {e:#}"));
        }
        Ok(true)
    }

    async fn dial(&mut self, target: &str) -> anyhow::Result<()> {
        if self.call.as_ref().is_some_and(|c| c.connected && c.held) {
            anyhow::ensure!(self.held_call.is_none(), "a call is already on hold");
            // Consultation (RFC 5589 §7): the held call waits aside.
            self.held_call = self.call.take();
        }
        anyhow::ensure!(
            self.call.is_none(),
            "already in a call (hold it to consult, or hangup)"
        );
        let uri = self.account.target(target)?;
        let (media, mut negotiation) = self.new_call_media().await?;
        let offer = negotiation.offer(Direction::SendRecv);
        let session = self
            .phone
            .act(|ua, now| ua.call(now, uri.clone(), Some(offer)))?;
        say(&format!("calling {uri}"));
        self.call = Some(Call {
            session,
            media,
            negotiation,
            connected: false,
            held: false,
            muted: false,
        });
        Ok(())
    }

    async fn answer(&mut self) -> anyhow::Result<()> {
        let (session, offer) = self
            .incoming
            .take()
            .ok_or_else(|| anyhow::anyhow!("no incoming call"))?;
        anyhow::ensure!(self.call.is_none(), "already in a call");
        let (media, mut negotiation) = self.new_call_media().await?;
        let answer = match offer {
            Some(o) => {
                let (answer, n) = negotiation.answer(&o)?;
                media.update(&n);
                answer
            }
            None => negotiation.offer(Direction::SendRecv),
        };
        self.phone
            .act(|ua, now| ua.answer(now, session, Some(answer)))?;
        say("connected");
        self.call = Some(Call {
            session,
            media,
            negotiation,
            connected: true,
            held: false,
            muted: false,
        });
        Ok(())
    }

    fn hangup(&mut self) -> anyhow::Result<()> {
        if let Some((session, _)) = self.incoming.take() {
            self.phone
                .act(|ua, now| ua.reject(now, session, StatusCode::BUSY_HERE))?;
            return Ok(());
        }
        let call = self
            .call
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no call"))?;
        let session = call.session;
        self.phone.act(|ua, now| ua.hangup(now, session))?;
        Ok(())
    }

    fn hold(&mut self, on: bool) -> anyhow::Result<()> {
        let call = self
            .call
            .as_mut()
            .filter(|c| c.connected)
            .ok_or_else(|| anyhow::anyhow!("no connected call"))?;
        let offer = call.negotiation.offer(if on {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        });
        call.held = on;
        let session = call.session;
        self.phone
            .act(|ua, now| ua.reinvite(now, session, Some(offer)))?;
        Ok(())
    }

    fn transfer(&mut self, target: &str) -> anyhow::Result<()> {
        let uri = self.account.target(target)?;
        let call = self
            .call
            .as_ref()
            .filter(|c| c.connected)
            .ok_or_else(|| anyhow::anyhow!("no connected call"))?;
        let session = call.session;
        self.phone.act(|ua, now| ua.refer(now, session, &uri))?;
        say(&format!("transferring to {uri}"));
        Ok(())
    }

    /// Hands the held call over to the consultation call's peer (REFER
    /// with Replaces, RFC 5589 §7); the held call ends once it succeeds.
    fn attended_transfer(&mut self) -> anyhow::Result<()> {
        let held = self
            .held_call
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no call on hold (hold, dial, then atransfer)"))?
            .session;
        let consult = self
            .call
            .as_ref()
            .filter(|c| c.connected)
            .ok_or_else(|| anyhow::anyhow!("no connected consultation call"))?
            .session;
        self.phone
            .act(|ua, now| ua.refer_replacing(now, held, consult))?;
        say(&format!(
            "attended transfer of call {held} to call {consult}"
        ));
        Ok(())
    }

    fn dtmf(&mut self, arg: &str) -> anyhow::Result<()> {
        let call = self
            .call
            .as_ref()
            .filter(|c| c.connected)
            .ok_or_else(|| anyhow::anyhow!("no connected call"))?;
        for d in digits(arg)? {
            call.media.dtmf(d);
        }
        Ok(())
    }

    fn mute(&mut self) -> anyhow::Result<()> {
        let call = self
            .call
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("no call"))?;
        call.muted = !call.muted;
        call.media.mute(call.muted);
        say(if call.muted { "muted" } else { "unmuted" });
        Ok(())
    }

    fn status(&self) {
        let reg = if self.phone.ua().is_registered() {
            "registered"
        } else {
            "not registered"
        };
        say(&format!(
            "{}@{}: {reg}",
            self.account.user, self.account.domain
        ));
        if let Some((s, _)) = &self.incoming {
            say(&format!("incoming call {s} waiting (answer / hangup)"));
        }
        if let Some(h) = &self.held_call {
            say(&format!("call {} on hold (atransfer / hangup)", h.session));
        }
        match &self.call {
            None => say("no call"),
            Some(c) => {
                let st = c.media.stats();
                let state = if !c.connected {
                    "setting up"
                } else if c.held {
                    "on hold"
                } else {
                    "connected"
                };
                say(&format!(
                    "call {}: {state}{}; rtp sent {} received {} lost {} jitter {:.1} ms MOS {:.2}",
                    c.session,
                    if c.muted { ", muted" } else { "" },
                    st.sent,
                    st.received,
                    st.lost,
                    st.jitter_ms,
                    st.mos()
                ));
            }
        }
    }

    async fn on_event(&mut self, ev: UaEvent) -> anyhow::Result<()> {
        let current = self.call.as_ref().map(|c| c.session);
        match ev {
            UaEvent::Registered { expires } => {
                if std::mem::take(&mut self.registration_lost) {
                    say(&format!("registered again ({expires} s)"));
                } else {
                    tracing::debug!(expires, "registration refreshed");
                }
            }
            UaEvent::RegistrationFailed { status, retry_in } => {
                self.registration_lost = true;
                say(&format!(
                    "registration failed ({}), retrying in {retry_in:?}",
                    status.map_or("timeout".into(), |s| s.0.to_string())
                ));
            }
            UaEvent::ContactLearned { contact } => {
                // A new flow (reconnect) or NAT mapping: the refresh carries it.
                self.registration_lost = true;
                say(&format!("contact learnt from the server: {contact}"));
            }
            UaEvent::IncomingCall {
                session,
                from,
                body,
                ..
            } => {
                let replaced = self.phone.ua().replaces(session);
                if replaced.is_some() && replaced == current && self.incoming.is_none() {
                    // RFC 3891: the transferee takes over this call.
                    say(&format!("call replaced by a call from {}", from.uri));
                    self.end_call(false).await?;
                    self.incoming = Some((session, body));
                    self.answer().await?;
                } else if self.call.is_some() || self.incoming.is_some() {
                    self.phone
                        .act(|ua, now| ua.reject(now, session, StatusCode::BUSY_HERE))?;
                } else {
                    say(&format!(
                        "incoming call from {} (answer / hangup)",
                        from.uri
                    ));
                    self.incoming = Some((session, body));
                }
            }
            UaEvent::Ringing { session } if Some(session) == current => say("ringing"),
            UaEvent::EarlyMedia { session, body } if Some(session) == current => {
                self.apply_answer(&body);
                say("early media");
            }
            UaEvent::Answered { session, body } if Some(session) == current => {
                if let Some(b) = body {
                    self.apply_answer(&b);
                }
                if let Some(c) = self.call.as_mut() {
                    c.connected = true;
                }
                say("connected");
                if let Some(old) = self.transferred.take() {
                    // The transferor may have hung up already (nothing to notify).
                    let _ = self
                        .phone
                        .act(|ua, now| ua.notify_transfer(now, old, StatusCode::OK));
                }
            }
            UaEvent::Updated {
                session,
                body: Some(b),
            } if Some(session) == current => {
                self.apply_answer(&b);
                let held = self.call.as_ref().is_some_and(|c| c.held);
                say(if held { "on hold" } else { "resumed" });
            }
            UaEvent::Confirmed {
                session,
                body: Some(b),
            } if Some(session) == current => {
                // We offered in our 2xx: the answer came in the ACK (RFC 3264 late offer).
                self.apply_answer(&b);
            }
            UaEvent::Reoffer { session, body } => self.on_reoffer(session, body)?,
            UaEvent::Dtmf { digit, .. } => say(&format!("DTMF {digit} received")),
            UaEvent::TransferRequested { session, target } => {
                say(&format!("transfer requested to {target}"));
                if Some(session) == current {
                    self.end_call(false).await?;
                    self.phone.act(|ua, now| ua.hangup(now, session))?;
                }
                self.transferred = Some(session);
                self.dial(&target.to_string()).await?;
            }
            UaEvent::TransferProgress { session, status } => {
                say(&format!(
                    "transfer: {} {}",
                    status.0,
                    status.reason_phrase()
                ));
                let held = self.held_call.as_ref().map(|c| c.session);
                if status.is_success() && status != StatusCode::ACCEPTED && held == Some(session) {
                    self.phone.act(|ua, now| ua.hangup(now, session))?;
                }
            }
            UaEvent::RequestFailed { method, status, .. } => {
                say(&format!(
                    "{method} failed: {} {}",
                    status.0,
                    status.reason_phrase()
                ));
            }
            UaEvent::Terminated { session, reason } => {
                if self
                    .held_call
                    .as_ref()
                    .is_some_and(|c| c.session == session)
                {
                    say(&format!("held call ended: {reason}"));
                    if let Some(h) = self.held_call.take() {
                        self.finish(h).await?;
                    }
                } else if self.incoming.as_ref().is_some_and(|(s, _)| *s == session) {
                    self.incoming = None;
                    say(&format!("missed call ({reason})"));
                } else if Some(session) == current {
                    say(&format!("call ended: {reason}"));
                    self.end_call(true).await?;
                    if let Some(h) = self.held_call.take() {
                        say(&format!("call {} is on hold (resume / hangup)", h.session));
                        self.call = Some(h);
                    }
                    if let Some(old) = self.transferred.take() {
                        let _ = self.phone.act(|ua, now| {
                            ua.notify_transfer(now, old, StatusCode::SERVICE_UNAVAILABLE)
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn apply_answer(&mut self, body: &Body) {
        if let Some(c) = self.call.as_mut() {
            match c.negotiation.process_answer(body) {
                Ok(n) => c.media.update(&n),
                Err(e) => say(&format!("unusable SDP answer: {e:#}")),
            }
        }
    }

    fn on_reoffer(&mut self, session: SessionId, body: Option<Body>) -> anyhow::Result<()> {
        let Some(c) = self.call.as_mut().filter(|c| c.session == session) else {
            return Ok(());
        };
        let answer = match body {
            Some(b) => match c.negotiation.answer(&b) {
                Ok((answer, n)) => {
                    c.media.update(&n);
                    say(if n.direction.sends() {
                        "peer resumed"
                    } else {
                        "peer put us on hold"
                    });
                    answer
                }
                Err(e) => {
                    say(&format!("re-offer not usable: {e:#}"));
                    return Ok(self.phone.act(|ua, now| {
                        ua.reject(now, session, StatusCode::NOT_ACCEPTABLE_HERE)
                    })?);
                }
            },
            None => c.negotiation.offer(Direction::SendRecv),
        };
        self.phone
            .act(|ua, now| ua.answer(now, session, Some(answer)))?;
        Ok(())
    }

    /// Stops the call's media and writes its recording.
    async fn end_call(&mut self, _ended: bool) -> anyhow::Result<()> {
        let Some(call) = self.call.take() else {
            return Ok(());
        };
        self.finish(call).await
    }

    /// Stops a call's media and writes its recording.
    async fn finish(&mut self, call: Call) -> anyhow::Result<()> {
        let recording = call.media.stop().await;
        if let Some(base) = &self.opts.record {
            self.recordings += 1;
            let stem = base
                .file_stem()
                .map_or("call".into(), |s| s.to_string_lossy().into_owned());
            let path = base.with_file_name(format!("{stem}-{}.wav", self.recordings));
            wav::write(&path, &recording)?;
            say(&format!("recorded {}", path.display()));
        }
        Ok(())
    }

    async fn quit(&mut self) -> anyhow::Result<()> {
        if let Some(h) = self.held_call.take() {
            let session = h.session;
            let _ = self.phone.act(|ua, now| ua.hangup(now, session));
            self.finish(h).await?;
        }
        if let Some(c) = &self.call {
            let session = c.session;
            let _ = self.phone.act(|ua, now| ua.hangup(now, session));
            let _ = self
                .phone
                .wait_for(
                    std::time::Duration::from_secs(3),
                    |ev| {
                        matches!(ev, UaEvent::Terminated { session: s, .. } if *s == session)
                            .then_some(())
                    },
                    |_| {},
                )
                .await;
            self.end_call(true).await?;
        }
        unregister(&mut self.phone).await;
        say("bye");
        Ok(())
    }
}
