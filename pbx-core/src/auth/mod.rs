//! Digest authentication of REGISTER and INVITE (RFC 3261 §22, RFC 7616, RFC 8760):
//! challenges, verification, nonce expiry, replay checks and failure bans.

pub mod ban;
pub mod nonce;
mod users;

pub use sip_stack::auth::digest;

pub use ban::BanList;
pub use nonce::{NonceBook, NonceCheck};
pub use users::{Credentials, Users};

use std::fmt::Write as _;

use sip_stack::message::AuthParams;

use sip_stack::auth::digest::DigestAlgorithm;

/// The verdict on a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Good credentials for this user.
    Authenticated(String),
    /// No (usable) credentials yet, or an expired nonce: send a challenge.
    Challenge {
        /// `stale=true`: the password was right but the nonce expired (RFC 7616 §3.3).
        stale: bool,
    },
    /// Wrong password, unknown user, forged or replayed nonce: challenge again and count a failure.
    Failed(&'static str),
}

/// The pieces a check needs from the request.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// Request method (HA2).
    pub method: &'a str,
    /// Hash of Call-ID and CSeq number: lets a retransmission pass the replay check.
    pub request_id: u64,
    /// Unix seconds.
    pub now_secs: u64,
}

/// Verifies credentials and builds challenges for one realm.
pub struct Authenticator {
    realm: String,
    algorithms: Vec<DigestAlgorithm>,
    nonces: NonceBook,
    users: Users,
}

impl Authenticator {
    /// An authenticator for `realm` offering `algorithms` (preferred first).
    pub fn new(
        realm: String,
        algorithms: Vec<DigestAlgorithm>,
        nonces: NonceBook,
        users: Users,
    ) -> Self {
        Self {
            realm,
            algorithms,
            nonces,
            users,
        }
    }

    /// The user directory.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The nonce book (for periodic sweeps).
    pub fn nonces(&self) -> &NonceBook {
        &self.nonces
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Challenge header values (`WWW-Authenticate` or `Proxy-Authenticate`), one per algorithm.
    pub fn challenges(&self, stale: bool, now_secs: u64) -> Vec<String> {
        let nonce = self.nonces.issue(now_secs);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut v = String::with_capacity(128);
                let _ = write!(
                    v,
                    "Digest realm=\"{}\", nonce=\"{}\", qop=\"auth\", algorithm={}",
                    self.realm,
                    nonce,
                    alg.as_str()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// Checks the credentials in an Authorization / Proxy-Authorization header.
    pub fn verify(&self, creds: &AuthParams, req: &AuthRequest<'_>) -> AuthOutcome {
        if !creds.scheme.eq_ignore_ascii_case("digest") {
            return AuthOutcome::Challenge { stale: false };
        }
        let (Some(user), Some(nonce), Some(uri), Some(response)) = (
            creds.get("username"),
            creds.get("nonce"),
            creds.get("uri"),
            creds.get("response"),
        ) else {
            return AuthOutcome::Failed("incomplete credentials");
        };
        if creds.get("realm").is_some_and(|r| r != self.realm) {
            // Credentials for another realm: not ours to judge, ask again.
            return AuthOutcome::Challenge { stale: false };
        }
        let alg = match creds.get("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => DigestAlgorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => DigestAlgorithm::Sha256,
            Some(_) => return AuthOutcome::Challenge { stale: false },
        };
        if !self.algorithms.contains(&alg) {
            return AuthOutcome::Challenge { stale: false };
        }
        let (qop_auth, nc) = match creds.get("qop") {
            None => (None, None),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let (Some(nc), Some(cnonce)) = (creds.get("nc"), creds.get("cnonce")) else {
                    return AuthOutcome::Failed("qop=auth without nc or cnonce");
                };
                let Ok(count) = u32::from_str_radix(nc, 16) else {
                    return AuthOutcome::Failed("bad nonce-count");
                };
                (Some((nc, cnonce)), Some(count))
            }
            Some(_) => return AuthOutcome::Failed("unsupported qop"),
        };
        let Some(stored) = self.users.get(user) else {
            return AuthOutcome::Failed("unknown user");
        };
        let ha1 = match alg {
            DigestAlgorithm::Md5 => &stored.ha1_md5,
            DigestAlgorithm::Sha256 => &stored.ha1_sha256,
        };
        let expected = digest::response(
            alg,
            ha1,
            &digest::ResponseInput {
                method: req.method,
                uri,
                nonce,
                qop_auth,
            },
        );
        if !digest::ct_eq(&expected, response) {
            return AuthOutcome::Failed("wrong password");
        }
        match self.nonces.check(nonce, nc, req.request_id, req.now_secs) {
            NonceCheck::Valid => AuthOutcome::Authenticated(user.to_owned()),
            NonceCheck::Stale => AuthOutcome::Challenge { stale: true },
            NonceCheck::Invalid => AuthOutcome::Failed("invalid or replayed nonce"),
        }
    }
}
