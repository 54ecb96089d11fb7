//! What one delivery attempt's outcome means (sans-IO: time and jitter come
//! in as arguments). 2xx: delivered. 410 Gone: the endpoint is gone — the
//! subscription is disabled and the delivery stays queued for when it is
//! enabled again. 429: retried, and the whole subscription pauses until
//! `Retry-After` (else the backoff). 5xx, 408, timeouts and connection
//! failures: retried with backoff (Retry-After honoured) and the
//! subscription throttled to one attempt at a time until a success. Other
//! answers (4xx, 3xx): retried up to `client_error_attempts`, then dead.
//! Every retry is given up (dead letter) once the next attempt would come
//! more than `retry_for` after the first.

use std::time::Duration;

use super::DeliveryConfig;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// An HTTP answer.
    Answered {
        /// Status.
        status: u16,
        /// `Retry-After`, parsed, relative to now.
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    TimedOut,
    /// No connection or a broken exchange.
    Failed(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Done.
    Delivered,
    /// Try again at this time (Unix ms).
    Retry {
        /// When.
        at_ms: u64,
        /// Pause the whole subscription until then (429).
        pause_subscription: bool,
        /// Throttle the subscription to one attempt at a time.
        throttle: bool,
    },
    /// Give up: dead letter.
    Dead,
    /// Disable the subscription (410); the delivery stays queued.
    Disable,
}

/// Parses a `Retry-After` value (delay-seconds or an HTTP date, RFC 9110
/// §10.2.3) relative to `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(Duration::from_millis(at_ms.saturating_sub(now_ms)))
}

/// The backoff before attempt `attempts + 1`: `base · 2^(attempts−1)`
/// capped at `max_delay`, with "equal jitter" (half fixed, half random:
/// `jitter` in 0..1) so that a burst of failures does not retry in step.
pub fn backoff(config: &DeliveryConfig, attempts: u32, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let full = config
        .retry_base
        .saturating_mul(1u32 << exp)
        .min(config.retry_max_delay);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The decision after attempt number `attempts` (1 = the first), whose
/// first attempt was at `first_ms`.
pub fn decide(
    config: &DeliveryConfig,
    outcome: &AttemptOutcome,
    attempts: u32,
    first_ms: u64,
    now_ms: u64,
    jitter: f64,
) -> Decision {
    let (retry_after, pause, throttle, capped) = match outcome {
        AttemptOutcome::Answered { status, .. } if (200..300).contains(status) => {
            return Decision::Delivered
        }
        AttemptOutcome::Answered { status: 410, .. } => return Decision::Disable,
        AttemptOutcome::Answered {
            status: 429,
            retry_after,
        } => (*retry_after, true, false, false),
        AttemptOutcome::Answered {
            status,
            retry_after,
        } if *status >= 500 || *status == 408 => (*retry_after, false, true, false),
        AttemptOutcome::Answered { .. } => (None, false, false, true),
        AttemptOutcome::TimedOut | AttemptOutcome::Failed(_) => (None, false, true, false),
    };
    if capped && attempts >= config.client_error_attempts {
        return Decision::Dead;
    }
    let delay = retry_after
        .unwrap_or_else(|| backoff(config, attempts, jitter))
        .max(Duration::from_millis(1));
    let at_ms = now_ms.saturating_add(delay.as_millis() as u64);
    if at_ms.saturating_sub(first_ms) > config.retry_for.as_millis() as u64 {
        return Decision::Dead;
    }
    Decision::Retry {
        at_ms,
        pause_subscription: pause,
        throttle,
    }
}
