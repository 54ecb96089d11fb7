//! One-shot modes for scripts: `pbx phone call` and `pbx phone answer`.
//! Both register, run one call with WAV files as microphone and speaker,
//! hang up after `--duration` and exit 0 only if the call connected.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ::media::dtmf::Digit;
use ::media::sdp::Direction;
use anyhow::Context;
use sip_stack::ua::{EndReason, SessionId, UaEvent};

use super::media::{MediaStream, Source};
use super::sdp::Negotiation;
use super::sip::SipDriver;
use super::{register, unregister, wav, Account};

/// Options shared by `call` and `answer`.
#[derive(Debug, Clone)]
pub(crate) struct CallOptions {
    /// How long the connected call lasts before we hang up.
    pub(crate) duration: Duration,
    /// WAV file sent as our audio.
    pub(crate) play: Option<PathBuf>,
    /// WAV file for what we hear.
    pub(crate) record: Option<PathBuf>,
    /// DTMF digits sent (RFC 4733) once connected.
    pub(crate) dtmf: Vec<Digit>,
    /// How long to wait for an answer (call) or a call (answer).
    pub(crate) wait: Duration,
}

/// Parses a DTMF digit string.
pub(crate) fn digits(s: &str) -> anyhow::Result<Vec<Digit>> {
    s.chars()
        .map(|c| Digit::from_char(c).with_context(|| format!("{c:?} is not a DTMF digit")))
        .collect()
}

struct Call {
    session: SessionId,
    media: MediaStream,
    negotiation: Negotiation,
}

async fn media_for(
    account: &Account,
    phone: &SipDriver,
    opts: &CallOptions,
) -> anyhow::Result<(MediaStream, Negotiation)> {
    let source = match &opts.play {
        Some(p) => wav::read(p)?,
        None => Vec::new(),
    };
    let ip = phone.ua().config().local_addr.ip();
    let seed = phone.ua().config().seed;
    let media = MediaStream::start(ip, Source::Samples(source), None, seed as u32).await?;
    let negotiation = Negotiation::new(ip, media.local().port(), account.codecs.clone(), seed >> 8);
    Ok((media, negotiation))
}

/// `pbx phone call URI`.
pub(crate) async fn call(
    account: &Account,
    target: &str,
    opts: &CallOptions,
) -> anyhow::Result<ExitCode> {
    let target = account.target(target)?;
    let mut phone = super::start(account).await?;
    if account.password.is_some() {
        let expires = register(&mut phone, |l| crate::output::note!("{l}")).await?;
        crate::output::note!(
            "registered as {}@{} ({expires} s)",
            account.user,
            account.domain
        );
    }
    let (media, mut negotiation) = media_for(account, &phone, opts).await?;
    let offer = negotiation.offer(Direction::SendRecv);
    let session = phone.act(|ua, now| ua.call(now, target.clone(), Some(offer)))?;
    crate::output::note!("calling {target}");
    let answer = phone
        .wait_for(
            opts.wait,
            |ev| match ev {
                UaEvent::Answered { session: s, body } if *s == session => Some(Ok(body.clone())),
                UaEvent::Terminated { session: s, reason } if *s == session => {
                    Some(Err(reason.clone()))
                }
                _ => None,
            },
            |ev| match ev {
                UaEvent::Ringing { .. } => crate::output::note!("ringing"),
                UaEvent::EarlyMedia { .. } => crate::output::note!("early media"),
                _ => {}
            },
        )
        .await?;
    let body = match answer {
        Some(Ok(body)) => body,
        Some(Err(reason)) => {
            crate::output::note!("call failed: {reason}");
            media.stop().await;
            unregister(&mut phone).await;
            return Ok(ExitCode::from(1));
        }
        None => {
            crate::output::note!("no answer within {:?}: cancelling", opts.wait);
            let _ = phone.act(|ua, now| ua.hangup(now, session));
            wait_end(&mut phone, session).await?;
            media.stop().await;
            unregister(&mut phone).await;
            return Ok(ExitCode::from(1));
        }
    };
    match body.as_ref().map(|b| negotiation.process_answer(b)) {
        Some(Ok(n)) => {
            crate::output::note!("codec {:?}", n.codec);
            media.update(&n);
        }
        Some(Err(e)) => crate::output::note!("unusable answer SDP: {e:#}"),
        None => crate::output::note!("answer without SDP"),
    }
    crate::output::note!("connected");
    let call = Call {
        session,
        media,
        negotiation,
    };
    finish(&mut phone, call, opts).await?;
    unregister(&mut phone).await;
    Ok(ExitCode::SUCCESS)
}

/// `pbx phone answer`: register, auto-answer the next call.
pub(crate) async fn answer(account: &Account, opts: &CallOptions) -> anyhow::Result<ExitCode> {
    let mut phone = super::start(account).await?;
    let expires = register(&mut phone, |l| crate::output::note!("{l}")).await?;
    crate::output::note!(
        "registered as {}@{} ({expires} s), waiting for a call",
        account.user,
        account.domain
    );
    let incoming = phone
        .wait_for(
            opts.wait,
            |ev| match ev {
                UaEvent::IncomingCall {
                    session,
                    from,
                    body,
                    ..
                } => Some((*session, from.clone(), body.clone())),
                _ => None,
            },
            |_| {},
        )
        .await?;
    let Some((session, from, offer)) = incoming else {
        crate::output::note!("no call within {:?}", opts.wait);
        unregister(&mut phone).await;
        return Ok(ExitCode::from(1));
    };
    crate::output::note!("incoming call from {}", from.uri);
    let (media, mut negotiation) = media_for(account, &phone, opts).await?;
    let answer = match offer.as_ref().map(|o| negotiation.answer(o)) {
        Some(Ok((body, n))) => {
            crate::output::note!("codec {:?}", n.codec);
            media.update(&n);
            Some(body)
        }
        Some(Err(e)) => {
            crate::output::note!("cannot answer the offer: {e:#}");
            let _ = phone
                .act(|ua, now| ua.reject(now, session, sip_stack::StatusCode::NOT_ACCEPTABLE_HERE));
            media.stop().await;
            unregister(&mut phone).await;
            return Ok(ExitCode::from(1));
        }
        // No offer (RFC 3264 late offer): offer in the 2xx, the answer comes in the ACK.
        None => Some(negotiation.offer(Direction::SendRecv)),
    };
    phone.act(|ua, now| ua.answer(now, session, answer))?;
    crate::output::note!("connected");
    let call = Call {
        session,
        media,
        negotiation,
    };
    finish(&mut phone, call, opts).await?;
    unregister(&mut phone).await;
    Ok(ExitCode::SUCCESS)
}

/// Runs a connected call for `opts.duration` (or until the peer hangs
/// up), answering re-INVITEs, then hangs up and writes the recording.
async fn finish(phone: &mut SipDriver, mut call: Call, opts: &CallOptions) -> anyhow::Result<()> {
    for d in &opts.dtmf {
        call.media.dtmf(*d);
    }
    let session = call.session;
    let end = tokio::time::Instant::now() + opts.duration;
    let ended = loop {
        let ev = tokio::select! {
            ev = phone.next_event() => ev?,
            digit = call.media.next_digit() => {
                crate::output::note!("DTMF {} received", digit.as_char());
                continue;
            }
            () = tokio::time::sleep_until(end) => break None,
        };
        match ev {
            UaEvent::Terminated { session: s, reason } if s == session => break Some(reason),
            UaEvent::Reoffer { session: s, body } if s == session => {
                let answer = match body.map(|b| call.negotiation.answer(&b)) {
                    Some(Ok((answer, n))) => {
                        call.media.update(&n);
                        Some(answer)
                    }
                    Some(Err(e)) => {
                        crate::output::note!("re-offer not usable: {e:#}");
                        None
                    }
                    None => Some(call.negotiation.offer(Direction::SendRecv)),
                };
                match answer {
                    Some(a) => phone.act(|ua, now| ua.answer(now, session, Some(a)))?,
                    None => phone.act(|ua, now| {
                        ua.reject(now, session, sip_stack::StatusCode::NOT_ACCEPTABLE_HERE)
                    })?,
                }
            }
            UaEvent::Confirmed {
                session: s,
                body: Some(b),
            } if s == session => {
                // We offered in our 2xx: the answer came in the ACK (RFC 3264 late offer).
                match call.negotiation.process_answer(&b) {
                    Ok(n) => {
                        crate::output::note!("codec {:?} (answer in the ACK)", n.codec);
                        call.media.update(&n);
                    }
                    Err(e) => crate::output::note!("unusable answer in the ACK: {e:#}"),
                }
            }
            UaEvent::Dtmf { digit, .. } => crate::output::note!("DTMF {digit} (INFO)"),
            UaEvent::IncomingCall { session: other, .. } => {
                phone.act(|ua, now| ua.reject(now, other, sip_stack::StatusCode::BUSY_HERE))?;
            }
            _ => {}
        }
    };
    match ended {
        Some(reason) => crate::output::note!("call ended: {reason}"),
        None => {
            crate::output::note!("hanging up after {:?}", opts.duration);
            phone.act(|ua, now| ua.hangup(now, session))?;
            wait_end(phone, session).await?;
        }
    }
    let stats = call.media.stats();
    crate::output::note!(
        "media: sent {} received {} lost {} jitter {:.1} ms MOS {:.2}",
        stats.sent,
        stats.received,
        stats.lost,
        stats.jitter_ms,
        stats.mos()
    );
    let recording = call.media.stop().await;
    if let Some(path) = &opts.record {
        wav::write(path, &recording)?;
        crate::output::note!(
            "recorded {:.1} s to {}",
            recording.len() as f64 / 8000.0,
            path.display()
        );
    }
    Ok(())
}

/// Waits (up to 5 s) for the session's end after a hangup.
async fn wait_end(phone: &mut SipDriver, session: SessionId) -> anyhow::Result<Option<EndReason>> {
    phone
        .wait_for(
            Duration::from_secs(5),
            |ev| match ev {
                UaEvent::Terminated { session: s, reason } if *s == session => Some(reason.clone()),
                _ => None,
            },
            |_| {},
        )
        .await
}
