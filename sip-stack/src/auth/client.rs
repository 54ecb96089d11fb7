//! Client credentials: answering a WWW-Authenticate / Proxy-Authenticate
//! challenge with Authorization / Proxy-Authorization (RFC 3261 §22.2,
//! §22.3; RFC 7616 §3.4).

use super::digest::{ha1, response, DigestAlgorithm, ResponseInput};
use crate::message::AuthParams;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The scheme is not `Digest` (RFC 3261 §22.1 only defines Digest).
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// `algorithm=` names something other than MD5 or SHA-256.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop=` offers only options other than `auth` (e.g. `auth-int`).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// The challenge has no `realm` or no `nonce` (RFC 7616 §3.3).
    #[error("challenge lacks the {0} parameter")]
    MissingParam(&'static str),
}

/// Convenience alias.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// Whether a challenge says `stale=true`: the previous credentials were
/// right but the nonce expired, so a retry with the same password is
/// expected to succeed (RFC 7616 §3.3).
pub fn is_stale(challenge: &AuthParams) -> bool {
    challenge
        .get("stale")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The digest algorithm a challenge asks for (MD5 when absent).
pub fn challenge_algorithm(challenge: &AuthParams) -> Result<DigestAlgorithm> {
    match challenge.get("algorithm") {
        None => Ok(DigestAlgorithm::Md5),
        Some(a) => {
            DigestAlgorithm::from_token(a).ok_or_else(|| AuthError::UnsupportedAlgorithm(a.into()))
        }
    }
}

/// Credentials answering `challenge` for a request `method` to `uri`
/// (RFC 7616 §3.4). With `qop` offered, `qop=auth` is chosen and `nc`
/// (the nonce count, printed as 8 hex digits) and `cnonce` are used;
/// without it the RFC 2069 form is produced. `opaque` is echoed.
pub fn authorization(
    challenge: &AuthParams,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
    nc: u32,
    cnonce: &str,
) -> Result<AuthParams> {
    if !challenge.scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::UnsupportedScheme(challenge.scheme.clone()));
    }
    let alg = challenge_algorithm(challenge)?;
    let realm = challenge
        .get("realm")
        .ok_or(AuthError::MissingParam("realm"))?;
    let nonce = challenge
        .get("nonce")
        .ok_or(AuthError::MissingParam("nonce"))?;
    let qop_auth = match challenge.get("qop") {
        None => false,
        Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
        Some(q) => return Err(AuthError::UnsupportedQop(q.into())),
    };
    let nc_hex = format!("{nc:08x}");
    let key = ha1(alg, user, realm, password);
    let resp = response(
        alg,
        &key,
        &ResponseInput {
            method,
            uri,
            nonce,
            qop_auth: qop_auth.then_some((nc_hex.as_str(), cnonce)),
        },
    );
    let mut params = vec![
        ("username".to_owned(), user.to_owned()),
        ("realm".to_owned(), realm.to_owned()),
        ("nonce".to_owned(), nonce.to_owned()),
        ("uri".to_owned(), uri.to_owned()),
        ("response".to_owned(), resp),
        ("algorithm".to_owned(), alg.as_str().to_owned()),
    ];
    if let Some(opaque) = challenge.get("opaque") {
        params.push(("opaque".to_owned(), opaque.to_owned()));
    }
    if qop_auth {
        params.push(("qop".to_owned(), "auth".to_owned()));
        params.push(("nc".to_owned(), nc_hex));
        params.push(("cnonce".to_owned(), cnonce.to_owned()));
    }
    Ok(AuthParams {
        scheme: "Digest".to_owned(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn challenge(alg: &str) -> AuthParams {
        AuthParams::parse(&format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        ))
        .expect("challenge parses")
    }

    /// RFC 7616 §3.9.1: the MD5 and SHA-256 examples.
    #[test]
    fn rfc7616_vectors() {
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let creds = authorization(
                &challenge(alg),
                "GET",
                "/dir/index.html",
                "Mufasa",
                "Circle of Life",
                1,
                CNONCE,
            )
            .expect("answerable");
            assert_eq!(creds.get("response"), Some(expected), "{alg}");
            assert_eq!(creds.get("nc"), Some("00000001"));
            assert_eq!(creds.get("qop"), Some("auth"));
            assert_eq!(
                creds.get("opaque"),
                Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
            );
            // Printed credentials parse back to the same parameters.
            let again = AuthParams::parse(&creds.to_string()).expect("printed creds parse");
            assert_eq!(again, creds);
        }
    }

    /// RFC 2069 §2.4 example (no qop, password "CircleOfLife" per its errata):
    /// response = H(HA1:nonce:HA2).
    #[test]
    fn no_qop() {
        let ch = AuthParams::parse(
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"",
        )
        .expect("parses");
        let creds = authorization(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "CircleOfLife",
            1,
            "x",
        )
        .expect("answerable");
        assert_eq!(
            creds.get("response"),
            Some("1949323746fe6a43ef61f9606e7febea")
        );
        assert_eq!(creds.get("qop"), None);
        assert_eq!(creds.get("cnonce"), None);
    }

    #[test]
    fn unsupported_challenges_are_errors() {
        let ch = |s: &str| AuthParams::parse(s).expect("parses");
        assert_eq!(
            authorization(&ch("Basic realm=\"x\""), "GET", "/", "u", "p", 1, "c"),
            Err(AuthError::UnsupportedScheme("Basic".into()))
        );
        assert_eq!(
            authorization(
                &ch("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256"),
                "GET",
                "/",
                "u",
                "p",
                1,
                "c"
            ),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        assert_eq!(
            authorization(
                &ch("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\""),
                "GET",
                "/",
                "u",
                "p",
                1,
                "c"
            ),
            Err(AuthError::UnsupportedQop("auth-int".into()))
        );
        assert_eq!(
            authorization(&ch("Digest realm=\"x\""), "GET", "/", "u", "p", 1, "c"),
            Err(AuthError::MissingParam("nonce"))
        );
    }

    #[test]
    fn stale_flag() {
        let ch = AuthParams::parse("Digest realm=\"x\", nonce=\"n\", stale=TRUE").expect("parses");
        assert!(is_stale(&ch));
        let ch = AuthParams::parse("Digest realm=\"x\", nonce=\"n\"").expect("parses");
        assert!(!is_stale(&ch));
    }
}
