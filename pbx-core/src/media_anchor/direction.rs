//! Rewriting an SDP's direction (hold, resume): shared by the B2BUA's
//! re-offers and the WebRTC sides.

/// The SDP with every direction attribute (`a=sendrecv` / `sendonly` /
/// `recvonly` / `inactive`, RFC 3264 §5.1) replaced by `a={direction}`,
/// or that attribute appended when it has none.
pub fn with_direction(sdp: &[u8], direction: &str) -> Vec<u8> {
    const DIRECTIONS: [&str; 4] = ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"];
    let text = String::from_utf8_lossy(sdp);
    let mut out = String::with_capacity(text.len() + 16);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if DIRECTIONS.contains(&bare) {
            found = true;
            out.push_str("a=");
            out.push_str(direction);
            out.push_str("\r\n");
        } else {
            out.push_str(line);
        }
    }
    if !found {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str("\r\n");
        }
        out.push_str("a=");
        out.push_str(direction);
        out.push_str("\r\n");
    }
    out.into_bytes()
}
