//! Digest computations of RFC 7616 (MD5 and SHA-256, RFC 8760 for SIP), qop=auth.

use md5::Md5;
use sha2::{Digest, Sha256};

/// Digest algorithms (RFC 7616 §3.3, RFC 8760 for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617 / RFC 7616).
    Md5,
    /// SHA-256 (RFC 7616 / RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The token of the `algorithm=` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm=` token (case-insensitive); `None` for unknown
    /// algorithms and the `-sess` variants, which are not supported.
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(Self::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") || token.eq_ignore_ascii_case("SHA256") {
            Some(Self::Sha256)
        } else {
            None
        }
    }
}

fn hex_digest<D: Digest>(parts: &[&[u8]]) -> String {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    lower_hex(&h.finalize())
}

/// Lower-case hex (RFC 7616 §3.4.1), without `hex::encode`'s per-char collect:
/// three of these run for every authenticated request.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// `H(a:b:...)` in the hex form RFC 7616 §3.4.1 uses everywhere.
pub fn hash(alg: DigestAlgorithm, parts: &[&[u8]]) -> String {
    match alg {
        DigestAlgorithm::Md5 => hex_digest::<Md5>(parts),
        DigestAlgorithm::Sha256 => hex_digest::<Sha256>(parts),
    }
}

/// HA1 = H(username:realm:password) (RFC 7616 §3.4.2).
pub fn ha1(alg: DigestAlgorithm, user: &str, realm: &str, password: &str) -> String {
    hash(
        alg,
        &[user.as_bytes(), realm.as_bytes(), password.as_bytes()],
    )
}

/// The parameters of a response computation.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    /// Request method.
    pub method: &'a str,
    /// The `uri` parameter of the credentials (the digest-uri, not the Request-URI).
    pub uri: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// `qop=auth` parameters: (nc, cnonce). `None` for RFC 2069 style (no qop).
    pub qop_auth: Option<(&'a str, &'a str)>,
}

/// The expected `response` parameter (RFC 7616 §3.4.1, qop=auth or none).
pub fn response(alg: DigestAlgorithm, ha1: &str, input: &ResponseInput<'_>) -> String {
    let ha2 = hash(alg, &[input.method.as_bytes(), input.uri.as_bytes()]);
    match input.qop_auth {
        Some((nc, cnonce)) => hash(
            alg,
            &[
                ha1.as_bytes(),
                input.nonce.as_bytes(),
                nc.as_bytes(),
                cnonce.as_bytes(),
                b"auth",
                ha2.as_bytes(),
            ],
        ),
        None => hash(
            alg,
            &[ha1.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()],
        ),
    }
}

/// Constant-time comparison of two hex strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 example (MD5, qop=auth).
    #[test]
    fn rfc2617_vector() {
        let ha1 = ha1(
            DigestAlgorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let r = response(
            DigestAlgorithm::Md5,
            &ha1,
            &ResponseInput {
                method: "GET",
                uri: "/dir/index.html",
                nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                qop_auth: Some(("00000001", "0a4f113b")),
            },
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    /// RFC 7616 §3.9.1 examples (MD5 and SHA-256, qop=auth).
    #[test]
    fn rfc7616_vectors() {
        let input = ResponseInput {
            method: "GET",
            uri: "/dir/index.html",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop_auth: Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
        };
        let md5 = ha1(
            DigestAlgorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert_eq!(
            response(DigestAlgorithm::Md5, &md5, &input),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = ha1(
            DigestAlgorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert_eq!(
            response(DigestAlgorithm::Sha256, &sha, &input),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn ct_eq_is_case_insensitive_and_length_checked() {
        assert!(ct_eq("abCD", "ABcd"));
        assert!(!ct_eq("abcd", "abce"));
        assert!(!ct_eq("abc", "abcd"));
    }
}
