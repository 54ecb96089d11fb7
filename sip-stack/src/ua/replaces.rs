//! Attended transfer: REFER with an embedded `Replaces` (RFC 3515 §2.4.1,
//! RFC 3891 §3 and RFC 5589 §7) and INVITEs that replace one of our
//! confirmed dialogs (RFC 3891 §3).
//!
//! The transferor (A) talks to the transferee (B) and to the target (C)
//! in a consultation call. A sends B a REFER whose `Refer-To` is C's remote
//! target with the header component `?Replaces=<call-id>;to-tag=..;from-tag=..`
//! naming the consultation dialog as C sees it. B calls that URI: URI
//! header components become request headers (RFC 3261 §19.1.5), so C
//! receives an INVITE with `Replaces`, accepts it and ends its dialog
//! with A by BYE.

use std::time::Instant;

use crate::dialog::DialogId;
use crate::message::{Header, HeaderName, Method, NameAddr, Request, StatusCode};

use super::session::Phase;
use super::{Result, SessionId, UaError, UserAgent};

/// The parts of a `Replaces` header value (RFC 3891 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReplacesValue {
    call_id: String,
    to_tag: String,
    from_tag: String,
}

impl ReplacesValue {
    /// Parses `callid;to-tag=x;from-tag=y` (other parameters ignored).
    pub(super) fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let call_id = parts.next()?.trim();
        let (mut to_tag, mut from_tag) = (None, None);
        for p in parts {
            match p.split_once('=') {
                Some((n, v)) if n.trim().eq_ignore_ascii_case("to-tag") => {
                    to_tag = Some(v.trim().to_owned());
                }
                Some((n, v)) if n.trim().eq_ignore_ascii_case("from-tag") => {
                    from_tag = Some(v.trim().to_owned());
                }
                _ => {}
            }
        }
        if call_id.is_empty() {
            return None;
        }
        Some(Self {
            call_id: call_id.to_owned(),
            to_tag: to_tag?,
            from_tag: from_tag?,
        })
    }

    /// The dialog it names, seen from the receiver of the INVITE: the
    /// to-tag is the receiver's local tag (RFC 3891 §3).
    fn dialog_id(&self) -> DialogId {
        DialogId {
            call_id: self.call_id.clone(),
            local_tag: self.to_tag.clone(),
            remote_tag: self.from_tag.clone(),
        }
    }
}

/// Percent-escapes what may not appear raw in a URI header value
/// (RFC 3261 §25.1 `hvalue`).
pub(super) fn escape_hvalue(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b':'
                    | b'+'
                    | b'$'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes `%XX` escapes; None for a malformed escape or non-UTF-8 result.
pub(super) fn unescape(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Moves the header components of a Request-URI into the request
/// (RFC 3261 §19.1.5); `body` is ignored, malformed values are dropped.
pub(super) fn apply_uri_headers(req: &mut Request) {
    for (name, value) in std::mem::take(&mut req.uri.headers) {
        if name.eq_ignore_ascii_case("body") {
            continue;
        }
        if let Some(value) = unescape(&value) {
            let name = HeaderName::parse(name.as_bytes());
            req.headers.push(Header::new(name, value));
        }
    }
}

impl UserAgent {
    /// Attended transfer (RFC 5589 §7): asks the peer of `id` to call the
    /// peer of the confirmed consultation session `consult`, replacing our
    /// dialog there. Progress comes as [`super::UaEvent::TransferProgress`];
    /// the target ends `consult` with BYE once the new call is up.
    pub fn refer_replacing(
        &mut self,
        now: Instant,
        id: SessionId,
        consult: SessionId,
    ) -> Result<()> {
        let target = {
            let session = self.session(consult)?;
            let dialog = match (&session.dialog, session.phase) {
                (Some(d), Phase::Confirmed) => d,
                _ => return Err(UaError::InvalidState(consult, "be replaced")),
            };
            // The dialog as the target sees it: its local tag is our remote tag.
            let replaces = format!(
                "{};to-tag={};from-tag={}",
                dialog.id.call_id, dialog.id.remote_tag, dialog.id.local_tag
            );
            let mut uri = dialog.remote_target.clone();
            uri.headers = vec![("Replaces".into(), escape_hvalue(&replaces))];
            uri
        };
        let mut req = self.dialog_request(id, Method::Refer)?;
        req.headers.push(Header::new(
            HeaderName::ReferTo,
            NameAddr::new(target).to_string(),
        ));
        self.send_in_dialog(now, id, req)?;
        self.pump(now);
        Ok(())
    }

    /// The session an incoming call replaces (RFC 3891), if it does: once
    /// [`UserAgent::answer`]ed, the replaced session is ended with BYE.
    pub fn replaces(&self, id: SessionId) -> Option<SessionId> {
        self.sessions.get(&id).and_then(|s| s.replaces)
    }

    /// For a new INVITE with a `Replaces` header: the confirmed session it
    /// names, or the status to refuse it with (RFC 3891 §3: 481 when no
    /// dialog matches, 400 for an unreadable header).
    pub(super) fn match_replaces(
        &self,
        req: &Request,
    ) -> Option<std::result::Result<SessionId, StatusCode>> {
        let value = req.headers.get_str(&HeaderName::Replaces)?;
        Some(self.find_replaced(value))
    }

    /// The confirmed session a `Replaces` value (`callid;to-tag=..;from-tag=..`,
    /// RFC 3891 §6.1) names, the to-tag being our local tag; or the status
    /// to refuse with (400 unreadable, 481 no such dialog).
    pub fn find_replaced(&self, value: &str) -> std::result::Result<SessionId, StatusCode> {
        let wanted = ReplacesValue::parse(value).ok_or(StatusCode::BAD_REQUEST)?;
        let did = wanted.dialog_id();
        self.session_of_dialog(&did)
            .filter(|id| {
                self.sessions
                    .get(id)
                    .is_some_and(|s| s.phase == Phase::Confirmed)
            })
            .ok_or(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST)
    }

    /// For a REFER target (`Refer-To` URI) carrying a `Replaces` header
    /// component (attended transfer, RFC 5589 §7): the confirmed session it
    /// names (see [`UserAgent::find_replaced`]); None without `Replaces`.
    pub fn target_replaces(
        &self,
        target: &crate::message::Uri,
    ) -> Option<std::result::Result<SessionId, StatusCode>> {
        let (_, value) = target
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("replaces"))?;
        Some(match unescape(value) {
            Some(v) => self.find_replaced(&v),
            None => Err(StatusCode::BAD_REQUEST),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values() {
        let v = ReplacesValue::parse("abc@h;to-tag=t1;from-tag=f1;early-only").expect("parses");
        assert_eq!(v.dialog_id().call_id, "abc@h");
        assert_eq!(v.dialog_id().local_tag, "t1");
        assert_eq!(v.dialog_id().remote_tag, "f1");
        assert_eq!(ReplacesValue::parse("abc;to-tag=t1"), None);
        assert_eq!(ReplacesValue::parse(";to-tag=a;from-tag=b"), None);
    }

    #[test]
    fn escape_round_trip() {
        let raw = "a1b2@10.0.0.1;to-tag=x y;from-tag=z&q=%";
        let esc = escape_hvalue(raw);
        assert!(!esc.contains([';', '=', '@', '&', ' ', '?']));
        assert_eq!(unescape(&esc).as_deref(), Some(raw));
        assert_eq!(unescape("%4"), None);
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%FF"), None);
    }
}
