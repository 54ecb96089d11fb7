//! Fuzz the SIP message parser, the stream framer and every typed getter:
//! any input must give `Ok` or `Err`, never a panic; printing what parsed
//! must parse again; what does not parse gets a printable stateless answer.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_stack::message::{
    frame, AuthParams, HeaderName, NameAddr, SipMessage, StatusCode, Uri, Via,
};
use sip_stack::Response;

fuzz_target!(|data: &[u8]| {
    let _ = frame(data);
    let buf = Bytes::copy_from_slice(data);
    let msg = match SipMessage::parse(buf.clone()) {
        Ok(m) => m,
        Err(e) => {
            // The stateless answer to what did not parse must print and keep the status.
            if let Some(resp) = Response::for_unparseable(&buf, &e, "fuzz") {
                assert_eq!(resp.status, e.status());
                let _ = resp.to_bytes();
            }
            return;
        }
    };
    let printed = msg.to_bytes();
    let again = SipMessage::parse(printed.clone()).expect("printed message must parse");
    assert_eq!(again.to_bytes(), printed, "printing is not stable");
    let h = msg.headers();
    let _ = h.vias().count();
    for name in [
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Contact,
        HeaderName::Path,
    ] {
        let _ = h.route_set(&name);
    }
    for hd in h.iter() {
        if let Ok(s) = hd.value_str() {
            let _ = (
                AuthParams::parse(s),
                NameAddr::parse(s),
                Via::parse(s),
                Uri::parse(s),
            );
        }
    }
    if let SipMessage::Request(r) = &msg {
        let _ = (r.validate(), r.contacts(), r.expires(), r.max_forwards());
        let _ = Response::for_request(r, StatusCode::OK, Some("fuzz")).to_bytes();
    }
});
