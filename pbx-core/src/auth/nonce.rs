//! Server nonces: stateless to issue and verify (timestamp + serial + HMAC), with
//! expiry (`stale=true`, RFC 7616 §3.3) and nonce-count replay checks (RFC 7616 §3.4).
//!
//! Replay state is a fixed ring of atomic slots indexed by the nonce's serial
//! number (the scheme of Kamailio's `nid`/`nc` arrays): issuing a nonce resets its
//! slot, a check compares-and-swaps the highest nonce-count seen. No locks, no
//! allocation, nothing to sweep. A nonce whose slot has been reused by a newer one
//! (more than `slots` nonces issued since) is answered `Stale`, and the UA simply
//! authenticates again with a fresh nonce.

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAC_LEN: usize = 12;
/// Default ring size: at 20,000 challenges/s a nonce stays checkable for ~50 s.
pub const DEFAULT_SLOTS: usize = 1 << 20;

/// What a presented nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, fresh, and the nonce-count advances (or the same request is retransmitted).
    Valid,
    /// Ours but expired (or its replay slot was recycled): challenge again with `stale=true`.
    Stale,
    /// Not issued by us, malformed, or a nonce-count replay.
    Invalid,
}

/// Issues and verifies nonces; one per server (shared by all threads).
pub struct NonceBook {
    /// HMAC-SHA-256 keyed once with the secret; each nonce clones it (keying
    /// per nonce costs two extra compression rounds).
    keyed: Hmac<Sha256>,
    ttl_secs: u64,
    counter: AtomicU64,
    /// Per serial (mod len): `nc << 32 | request hash (32 bits)`, 0 = not used yet.
    slots: Box<[AtomicU64]>,
}

impl NonceBook {
    /// `key` must be secret and random (from the driver's RNG); `ttl_secs` is the lifetime.
    pub fn new(key: [u8; 32], ttl_secs: u64) -> Self {
        Self::with_slots(key, ttl_secs, DEFAULT_SLOTS)
    }

    /// Like [`Self::new`] with a replay ring of `slots` entries (a power of two is not required).
    pub fn with_slots(key: [u8; 32], ttl_secs: u64, slots: usize) -> Self {
        Self {
            keyed: Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length"),
            ttl_secs,
            counter: AtomicU64::new(0),
            slots: (0..slots.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn mac(&self, issued: u64, serial: u64) -> [u8; MAC_LEN] {
        let mut mac = self.keyed.clone();
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    fn slot(&self, serial: u64) -> &AtomicU64 {
        &self.slots[(serial % self.slots.len() as u64) as usize]
    }

    /// A fresh nonce issued at `now_secs` (Unix seconds).
    pub fn issue(&self, now_secs: u64) -> String {
        let serial = self.counter.fetch_add(1, Ordering::Relaxed);
        self.slot(serial).store(0, Ordering::Relaxed);
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
        if nc == 0 {
            return NonceCheck::Invalid;
        }
        if self.counter.load(Ordering::Relaxed).saturating_sub(serial) >= self.slots.len() as u64 {
            return NonceCheck::Stale;
        }
        let req = (request as u32) | 1;
        let wanted = (u64::from(nc) << 32) | u64::from(req);
        let slot = self.slot(serial);
        let mut current = slot.load(Ordering::Acquire);
        loop {
            let (seen_nc, seen_req) = ((current >> 32) as u32, current as u32);
            if current != 0 && nc < seen_nc {
                return NonceCheck::Invalid;
            }
            if current != 0 && nc == seen_nc {
                return if seen_req == req {
                    NonceCheck::Valid
                } else {
                    NonceCheck::Invalid
                };
            }
            match slot.compare_exchange_weak(current, wanted, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return NonceCheck::Valid,
                Err(now) => current = now,
            }
        }
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
    fn recycled_slot_makes_the_nonce_stale() {
        let b = NonceBook::with_slots([7; 32], 300, 4);
        let n = b.issue(1000);
        assert_eq!(b.check(&n, Some(1), 1, 1000), NonceCheck::Valid);
        for _ in 0..4 {
            b.issue(1000);
        }
        assert_eq!(b.check(&n, Some(2), 2, 1000), NonceCheck::Stale);
    }

    #[test]
    fn nonce_count_zero_is_invalid() {
        let b = book();
        let n = b.issue(1000);
        assert_eq!(b.check(&n, Some(0), 1, 1000), NonceCheck::Invalid);
    }
}
