//! SDP parse, print→parse round trip and answering on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::sdp::negotiate::{create_answer, LocalMedia};
use media::sdp::parse::parse_bytes;
use media::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = parse_bytes(data) {
        let printed = sdp.to_string();
        let again = SessionDescription::parse(&printed).expect("printed SDP must parse");
        assert_eq!(again.media.len(), sdp.media.len());
        let _ = create_answer(&sdp, &LocalMedia::default());
    }
});
