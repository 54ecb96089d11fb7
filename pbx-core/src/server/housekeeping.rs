//! Background threads: transaction timers (every few milliseconds) and
//! housekeeping (every second: expired bindings, nonce state, bans, and users
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

const TIMER_TICK: Duration = Duration::from_millis(5);

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
                std::thread::sleep(TIMER_TICK);
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
