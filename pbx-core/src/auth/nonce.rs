//! Server nonces: stateless to issue and verify (timestamp + counter + HMAC), with
//! expiry (`stale=true`, RFC 7616 §3.3) and nonce-count replay checks (RFC 7616 §3.4).
//!
//! Only nonces that were actually used with `qop=auth` get state: the highest
//! nonce-count seen, so a captured request cannot be replayed. State is dropped
//! once the nonce has expired anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;

const SHARDS: usize = 32;
const MAC_LEN: usize = 12;

/// What a presented nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, fresh, and the nonce-count advances (or the same request is retransmitted).
    Valid,
    /// Ours but expired: challenge again with `stale=true`.
    Stale,
    /// Not issued by us, malformed, or a nonce-count replay.
    Invalid,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    issued: u64,
    nc: u32,
    request: u64,
}

/// Issues and verifies nonces; one per server (shared by all threads).
pub struct NonceBook {
    key: [u8; 32],
    ttl_secs: u64,
    counter: AtomicU64,
    seen: Vec<Mutex<HashMap<u64, Seen, ahash::RandomState>>>,
}

impl NonceBook {
    /// `key` must be secret and random (from the driver's RNG); `ttl_secs` is the lifetime.
    pub fn new(key: [u8; 32], ttl_secs: u64) -> Self {
        Self {
            key,
            ttl_secs,
            counter: AtomicU64::new(0),
            seen: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
        }
    }

    fn mac(&self, issued: u64, serial: u64) -> [u8; MAC_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A fresh nonce issued at `now_secs` (Unix seconds).
    pub fn issue(&self, now_secs: u64) -> String {
        let serial = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; 16 + MAC_LEN];
        raw[..8].copy_from_slice(&now_secs.to_be_bytes());
        raw[8..16].copy_from_slice(&serial.to_be_bytes());
        raw[16..].copy_from_slice(&self.mac(now_secs, serial));
        hex::encode(raw)
    }

    /// Decodes and authenticates a nonce: `(issued, serial)`.
    fn open(&self, nonce: &str) -> Option<(u64, u64)> {
        if nonce.len() != 2 * (16 + MAC_LEN) {
            return None;
        }
        let mut raw = [0u8; 16 + MAC_LEN];
        hex::decode_to_slice(nonce, &mut raw).ok()?;
        let issued = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let serial = u64::from_be_bytes(raw[8..16].try_into().ok()?);
        let expected = self.mac(issued, serial);
        let diff = expected
            .iter()
            .zip(&raw[16..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (diff == 0).then_some((issued, serial))
    }

    /// Checks a nonce whose response already verified. `nc` is the parsed nonce-count
    /// (`None` without qop); `request` identifies the request (hash of Call-ID and CSeq)
    /// so that a retransmission of the same request is not taken for a replay.
    pub fn check(&self, nonce: &str, nc: Option<u32>, request: u64, now_secs: u64) -> NonceCheck {
        let Some((issued, serial)) = self.open(nonce) else {
            return NonceCheck::Invalid;
        };
        if issued > now_secs + 5 {
            return NonceCheck::Invalid;
        }
        if now_secs.saturating_sub(issued) > self.ttl_secs {
            return NonceCheck::Stale;
        }
        let Some(nc) = nc else {
            return NonceCheck::Valid;
        };
        let mut shard = self.seen[(serial as usize) % SHARDS].lock();
        match shard.get_mut(&serial) {
            Some(seen) if nc > seen.nc => {
                *seen = Seen {
                    issued,
                    nc,
                    request,
                };
                NonceCheck::Valid
            }
            Some(seen) if nc == seen.nc && request == seen.request => NonceCheck::Valid,
            Some(_) => NonceCheck::Invalid,
            None => {
                shard.insert(
                    serial,
                    Seen {
                        issued,
                        nc,
                        request,
                    },
                );
                NonceCheck::Valid
            }
        }
    }

    /// Forgets nonce-counts of expired nonces. Returns how many are still tracked.
    pub fn sweep(&self, now_secs: u64) -> usize {
        let mut left = 0;
        for shard in &self.seen {
            let mut shard = shard.lock();
            shard.retain(|_, s| now_secs.saturating_sub(s.issued) <= self.ttl_secs);
            left += shard.len();
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> NonceBook {
        NonceBook::new([7; 32], 300)
    }

    #[test]
    fn issued_nonce_verifies_and_expires() {
        let b = book();
        let n = b.issue(1000);
        assert_eq!(b.check(&n, Some(1), 1, 1000), NonceCheck::Valid);
        assert_eq!(b.check(&n, Some(2), 2, 1300), NonceCheck::Valid);
        assert_eq!(b.check(&n, Some(3), 3, 1301), NonceCheck::Stale);
    }

    #[test]
    fn forged_or_foreign_nonce_is_invalid() {
        let b = book();
        let mut n = b.issue(1000);
        n.replace_range(0..1, if n.starts_with('0') { "1" } else { "0" });
        assert_eq!(b.check(&n, Some(1), 1, 1000), NonceCheck::Invalid);
        let other = NonceBook::new([8; 32], 300).issue(1000);
        assert_eq!(b.check(&other, Some(1), 1, 1000), NonceCheck::Invalid);
        assert_eq!(b.check("zz", None, 1, 1000), NonceCheck::Invalid);
        assert_eq!(b.check("", None, 1, 1000), NonceCheck::Invalid);
    }

    #[test]
    fn nonce_count_replay_is_refused_but_retransmission_passes() {
        let b = book();
        let n = b.issue(1000);
        assert_eq!(b.check(&n, Some(1), 11, 1000), NonceCheck::Valid);
        assert_eq!(
            b.check(&n, Some(1), 11, 1001),
            NonceCheck::Valid,
            "same request retransmitted"
        );
        assert_eq!(
            b.check(&n, Some(1), 12, 1001),
            NonceCheck::Invalid,
            "same nc, other request"
        );
        assert_eq!(b.check(&n, Some(2), 12, 1001), NonceCheck::Valid);
        assert_eq!(
            b.check(&n, Some(1), 13, 1001),
            NonceCheck::Invalid,
            "nc went backwards"
        );
    }

    #[test]
    fn sweep_drops_expired_state() {
        let b = book();
        let n = b.issue(1000);
        b.check(&n, Some(1), 1, 1000);
        assert_eq!(b.sweep(1100), 1);
        assert_eq!(b.sweep(1400), 0);
    }
}
