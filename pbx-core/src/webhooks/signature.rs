//! Standard Webhooks signing (<https://www.standardwebhooks.com>, "Signature
//! scheme"): the signed content is `{webhook-id}.{webhook-timestamp}.{body}`,
//! the key is the base64-decoded part of a `whsec_` secret after the prefix,
//! the signature HMAC-SHA256, sent as `v1,<base64>`; several secrets (while
//! rotating) give several space-separated signatures in one
//! `webhook-signature` header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::WebhookError;

/// A signing secret (`whsec_` + base64 of the key bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

impl Secret {
    /// Parses `whsec_<base64>`; the key must be 24 to 64 bytes (the spec's
    /// recommended range).
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let b64 = text
            .strip_prefix("whsec_")
            .ok_or(WebhookError::BadSecret("must start with `whsec_`"))?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| WebhookError::BadSecret("not base64 after `whsec_`"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(WebhookError::BadSecret(
                "the key after `whsec_` must decode to 24..=64 bytes",
            ));
        }
        Ok(Self { key })
    }

    /// A new random secret (`whsec_` + base64 of 32 random bytes).
    pub fn generate() -> String {
        use rand::RngCore as _;
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        format!("whsec_{}", STANDARD.encode(key))
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value for all `secrets` (space-separated).
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether one of the `v1,` signatures of `header` is `secret`'s signature
/// of the message (what a receiver does; constant-time comparison).
pub fn verify(secret: &Secret, header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&secret.key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    header.split(' ').any(|sig| {
        sig.strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|raw| mac.clone().verify_slice(&raw).is_ok())
    })
}
