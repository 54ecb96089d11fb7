//! Background threads: transaction timers (woken at the SIP core's next
//! deadline) and housekeeping (every second: expired bindings, nonce state, bans, and users
//! added by `pbx users` while the server runs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sip_stack::transport::Transports;

use super::handler::send_all;
use crate::sans_io::Clock;
use crate::sip::SipCore;
use crate::store::Store;

/// The longest the timer thread sleeps: a transaction created meanwhile on
/// a receive thread may want an earlier deadline than the one the thread
/// went to sleep on, and shutdown is noticed at the next wake.
const TIMER_MAX_SLEEP: Duration = Duration::from_millis(50);

/// The shortest sleep: under load deadlines are dense, and each wake locks
/// every shard twice, so timers due within 5 ms are run together (the old
/// fixed tick); a deadline that stays due cannot spin the thread.
const TIMER_MIN_SLEEP: Duration = Duration::from_millis(5);

/// How long the timer thread sleeps at `now` when the SIP core's next
/// deadline is `deadline` (None: no transaction or trunk timer pending).
fn timer_sleep(now: Instant, deadline: Option<Instant>) -> Duration {
    deadline
        .map_or(TIMER_MAX_SLEEP, |d| d.saturating_duration_since(now))
        .clamp(TIMER_MIN_SLEEP, TIMER_MAX_SLEEP)
}

/// The transaction and trunk timer thread: runs the core's due timers,
/// sends what they produce, then sleeps until the next deadline (at most
/// [`TIMER_MAX_SLEEP`]).
pub(super) fn spawn_timers(
    core: Arc<SipCore>,
    transports: Transports,
    stop: Arc<AtomicBool>,
    start: Instant,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("pbx-timers".into())
        .spawn(move || {
            let clock = Clock::new(start);
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let now = clock.now();
                core.handle_timers(&now, &mut out);
                send_all(&core, &transports, &mut out);
                let pause = timer_sleep(Instant::now(), core.next_deadline());
                std::thread::sleep(pause);
            }
        })
        .expect("spawning the timer thread")
}

pub(super) fn spawn_housekeeping(
    core: Arc<SipCore>,
    store: Store,
    mut users_version: i64,
    realm: String,
    stop: Arc<AtomicBool>,
    start: Instant,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("pbx-housekeeping".into())
        .spawn(move || {
            let clock = Clock::new(start);
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                // The proxy keeps no per-call stats: drain the relay's
                // closed sessions (the engine's driver takes them in B2BUA mode).
                if let (Some(anchor), None) = (&core.anchor, &core.b2bua) {
                    let _ = anchor.poll_closed();
                }
                if last.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                last = Instant::now();
                let now = clock.now();
                let expired = core.registrar.sweep(now.unix_secs);
                if expired > 0 {
                    tracing::debug!(expired, "bindings expired");
                }
                core.bans.sweep(now.mono_ms);
                match store.users_version() {
                    Ok(v) if v != users_version => match store.load_users(&realm) {
                        Ok(users) => {
                            tracing::info!(users = users.len(), "user directory reloaded");
                            core.auth.users().replace_all(users);
                            match store.disabled_users() {
                                Ok(d) => core.auth.users().set_disabled(d),
                                Err(e) => {
                                    tracing::error!(error = %e, "reading disabled users failed")
                                }
                            }
                            users_version = v;
                        }
                        Err(e) => tracing::error!(error = %e, "reloading users failed"),
                    },
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "reading the users version failed"),
                }
            }
        })
        .expect("spawning the housekeeping thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_thread_sleeps_until_the_next_deadline_within_bounds() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(timer_sleep(now, Some(now + ms(17))), ms(17));
        assert_eq!(
            timer_sleep(now, Some(now + ms(2))),
            TIMER_MIN_SLEEP,
            "dense deadlines: coalesced"
        );
        assert_eq!(timer_sleep(now, None), TIMER_MAX_SLEEP, "idle: the cap");
        assert_eq!(timer_sleep(now, Some(now + ms(500))), TIMER_MAX_SLEEP);
        assert_eq!(
            timer_sleep(now + ms(3), Some(now)),
            TIMER_MIN_SLEEP,
            "overdue: a short pause, no spin"
        );
    }
}
