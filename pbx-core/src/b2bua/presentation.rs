//! Caller-id presentation on the legs pbx places (dial plan
//! `caller_id_number`, `caller_id_name`, `privacy`).
//!
//! Without privacy the From of the leg shows the rule's number and name
//! instead of the caller's. With privacy (RFC 3323 §4.1.1.1, RFC 3325 §9.3)
//! From is `"Anonymous" <sip:anonymous@anonymous.invalid>`, the request
//! carries `Privacy: id`, and the identity pbx vouches for travels in
//! `P-Asserted-Identity` only to a peer inside the trust domain (a trunk
//! with `trusted = true`, RFC 3325 §5); phones and untrusted trunks never
//! see it.
//!
//! Extra headers ride on the Request-URI as header components (RFC 3261
//! §19.1.5): the user agent moves them into the INVITE.

use sip_stack::message::{NameAddr, Uri};

use crate::dialplan::CallerId;

/// The From of an anonymous caller (RFC 3323 §4.1.1.3).
pub const ANONYMOUS: &str = "\"Anonymous\" <sip:anonymous@anonymous.invalid>";

/// What a leg presents of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// From (without tag).
    pub from: NameAddr,
    /// Extra request headers (`Privacy`, `P-Asserted-Identity`).
    pub headers: Vec<(String, String)>,
}

/// Presents `identity` (the caller as pbx knows it) by `rule`; `trusted`:
/// the leg's peer is inside the trust domain and gets the asserted identity.
pub fn present(identity: &NameAddr, rule: &CallerId, trusted: bool) -> Presented {
    let mut shown = NameAddr::new(identity.uri.clone());
    shown.display.clone_from(&identity.display);
    if let Some(number) = &rule.number {
        shown.uri.user = Some(number.clone());
    }
    if let Some(name) = &rule.name {
        shown.display = Some(name.clone());
    }
    if !rule.privacy {
        return Presented {
            from: shown,
            headers: Vec::new(),
        };
    }
    let mut headers = vec![("Privacy".to_owned(), "id".to_owned())];
    if trusted {
        headers.push(("P-Asserted-Identity".to_owned(), shown.to_string()));
    }
    Presented {
        from: anonymous(),
        headers,
    }
}

/// `"Anonymous" <sip:anonymous@anonymous.invalid>`.
pub fn anonymous() -> NameAddr {
    let mut uri = Uri::sip("anonymous.invalid");
    uri.user = Some("anonymous".into());
    let mut from = NameAddr::new(uri);
    from.display = Some("Anonymous".into());
    from
}

/// Adds `headers` to `target` as URI header components (values escaped,
/// RFC 3261 §25.1 `hvalue`).
pub fn add_headers(target: &mut Uri, headers: &[(String, String)]) {
    for (name, value) in headers {
        target.headers.push((name.clone(), escape(value)));
    }
}

/// `%XX`-escapes everything but unreserved and a few safe marks.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> NameAddr {
        NameAddr::parse("\"Alice\" <sip:1001@pbx.test>").unwrap()
    }

    #[test]
    fn number_and_name_replace_the_callers() {
        let rule = CallerId {
            number: Some("+49301234".into()),
            name: Some("Sales".into()),
            privacy: false,
        };
        let p = present(&alice(), &rule, true);
        assert_eq!(p.from.to_string(), "\"Sales\" <sip:+49301234@pbx.test>");
        assert!(p.headers.is_empty());
        let same = present(&alice(), &CallerId::default(), false);
        assert_eq!(same.from, alice());
    }

    #[test]
    fn privacy_hides_the_caller_and_asserts_only_when_trusted() {
        let rule = CallerId {
            privacy: true,
            ..CallerId::default()
        };
        let p = present(&alice(), &rule, false);
        assert_eq!(p.from.to_string(), ANONYMOUS);
        assert_eq!(p.headers, [("Privacy".to_owned(), "id".to_owned())]);
        let p = present(&alice(), &rule, true);
        assert_eq!(
            p.headers[1],
            (
                "P-Asserted-Identity".to_owned(),
                "\"Alice\" <sip:1001@pbx.test>".to_owned()
            )
        );
        let mut uri = Uri::parse("sip:+3120@10.0.0.9:5060").unwrap();
        add_headers(&mut uri, &p.headers);
        assert_eq!(
            uri.headers[1].1, "%22Alice%22%20%3Csip:1001%40pbx.test%3E",
            "escaped for the Request-URI"
        );
    }
}
