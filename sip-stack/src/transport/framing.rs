//! Stream framing for TCP/TLS, in byte counts the connection loop can act on.
//!
//! The SIP-aware part (finding the end of the header section and reading
//! Content-Length, RFC 3261 §18.3) belongs to the `message` module. Until that
//! module lands this file carries a minimal stand-in with the same contract,
//! so the connection code only ever sees [`Frame`].

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete message of this many bytes (headers and body).
    Message(usize),
    /// Keep-alive bytes to skip (RFC 5626 §3.5.1); `ping` is true for a
    /// double-CRLF, which asks for a single-CRLF pong.
    KeepAlive { len: usize, ping: bool },
    /// Need more bytes.
    Incomplete,
}

/// Framing was lost: the stream can not be resynchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stream framing lost")]
pub(crate) struct FramingLost;

/// Classifies the front of `buf`.
pub(crate) fn frame(buf: &[u8]) -> Result<Frame, FramingLost> {
    let ws = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    if ws > 0 {
        // A ping is CRLFCRLF; a lone CRLF is a pong. Wait for the whole ping
        // before deciding, unless more data (a message) already follows.
        if ws == buf.len() && ws < 4 && buf[..ws] == b"\r\n\r\n"[..ws] {
            if ws == 2 {
                return Ok(Frame::KeepAlive { len: 2, ping: false });
            }
            return Ok(Frame::Incomplete);
        }
        return Ok(Frame::KeepAlive { len: ws, ping: ws >= 4 });
    }
    stand_in::message_len(buf)
}

/// Minimal Content-Length framing until `crate::message::frame` is merged.
mod stand_in {
    use super::{Frame, FramingLost};

    pub(super) fn message_len(buf: &[u8]) -> Result<Frame, FramingLost> {
        let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
            return Ok(Frame::Incomplete);
        };
        let head = &buf[..end + 2];
        let mut body = None;
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else { continue };
            let name = trim(&line[..colon]);
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                let value = std::str::from_utf8(trim(&line[colon + 1..])).map_err(|_| FramingLost)?;
                body = Some(value.parse::<usize>().map_err(|_| FramingLost)?);
            }
        }
        // RFC 3261 §18.3: Content-Length is mandatory on streams.
        let total = end + 4 + body.ok_or(FramingLost)?;
        Ok(if buf.len() >= total { Frame::Message(total) } else { Frame::Incomplete })
    }

    fn trim(s: &[u8]) -> &[u8] {
        let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
        let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
        &s[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalives() {
        assert_eq!(frame(b"\r\n"), Ok(Frame::KeepAlive { len: 2, ping: false }));
        assert_eq!(frame(b"\r\n\r"), Ok(Frame::Incomplete));
        assert_eq!(frame(b"\r\n\r\n"), Ok(Frame::KeepAlive { len: 4, ping: true }));
        assert_eq!(frame(b"\r\nOPTIONS"), Ok(Frame::KeepAlive { len: 2, ping: false }));
    }

    #[test]
    fn messages() {
        let m = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcX";
        assert_eq!(frame(m), Ok(Frame::Message(m.len() - 1)));
        assert_eq!(frame(&m[..m.len() - 2]), Ok(Frame::Incomplete));
        assert_eq!(frame(b"X\r\n\r\n"), Err(FramingLost));
        assert_eq!(frame(b"X\r\nContent-Length: z\r\n\r\n"), Err(FramingLost));
    }
}
