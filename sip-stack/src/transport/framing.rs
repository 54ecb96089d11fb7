//! Stream framing for TCP/TLS, in byte counts the connection loop can act on.
//!
//! The SIP-aware part (end of headers, Content-Length, RFC 3261 §18.3) is
//! [`crate::message::frame`]; this adapter adds what the connection needs on
//! top: whether a CRLF run is a ping that wants a pong (RFC 5626 §3.5.1).
//! WebSocket frames carry exactly one message each (RFC 7118 §5), so
//! [`ws_frame`] checks a whole frame instead of finding a boundary.

use crate::message::{self, Framing, ParseError, ParseErrorKind};

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete message of this many bytes (headers and body).
    Message(usize),
    /// Keep-alive bytes to skip; `ping` is true for a double CRLF, which
    /// asks for a single-CRLF pong.
    KeepAlive { len: usize, ping: bool },
    /// Need more bytes.
    Incomplete,
}

/// Classifies the front of `buf`; an error means framing is lost.
pub(crate) fn frame(buf: &[u8]) -> Result<Frame, ParseError> {
    Ok(match message::frame(buf)? {
        Framing::Message(n) => Frame::Message(n),
        Framing::Incomplete => Frame::Incomplete,
        // A lone CR or CRLFCR at the end may be a ping cut by the read:
        // wait for the rest unless a message already follows.
        Framing::KeepAlive(len) if len == buf.len() && len < 4 && len != 2 => Frame::Incomplete,
        Framing::KeepAlive(len) => Frame::KeepAlive {
            len,
            ping: len >= 4,
        },
    })
}

/// What one WebSocket data frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsFrame {
    /// One complete SIP message filling the frame.
    Message,
    /// Only CR/LF bytes: a keep-alive; `ping` for a double CRLF, which asks
    /// for a CRLF pong (what SIP.js and JsSIP send as keep-alives).
    KeepAlive {
        /// Whether a pong is owed.
        ping: bool,
    },
}

/// Why a WebSocket frame is not one SIP message; closes its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WsFrameError {
    /// The frame was empty.
    #[error("empty frame")]
    Empty,
    /// No blank line ends the headers.
    #[error("frame holds no complete SIP header section")]
    NoHeaderEnd,
    /// A `Content-Length` that disagrees with the frame size (RFC 7118 §5
    /// makes it optional, but when present it must be right).
    #[error("Content-Length does not match the frame")]
    LengthMismatch,
    /// A `Content-Length` that is not a number, or another framing error.
    #[error("malformed header section")]
    Malformed,
}

/// Classifies one WebSocket data frame (RFC 7118 §5: one message per frame,
/// `Content-Length` optional).
pub(crate) fn ws_frame(data: &[u8]) -> Result<WsFrame, WsFrameError> {
    if data.is_empty() {
        return Err(WsFrameError::Empty);
    }
    if data.iter().all(|&b| b == b'\r' || b == b'\n') {
        return Ok(WsFrame::KeepAlive {
            ping: data.len() >= 4,
        });
    }
    if memchr::memmem::find(data, b"\r\n\r\n").is_none() {
        return Err(WsFrameError::NoHeaderEnd);
    }
    match message::frame(data) {
        Ok(Framing::Message(n)) if n == data.len() => Ok(WsFrame::Message),
        Ok(Framing::Message(_) | Framing::Incomplete) => Err(WsFrameError::LengthMismatch),
        // Leading CRLFs before a message: not a SIP message start.
        Ok(Framing::KeepAlive(_)) => Err(WsFrameError::Malformed),
        Err(e) if e.kind() == ParseErrorKind::Missing => Ok(WsFrame::Message),
        Err(_) => Err(WsFrameError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_frames() {
        let with_cl = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc";
        assert_eq!(ws_frame(with_cl), Ok(WsFrame::Message));
        let without_cl = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\nbody";
        assert_eq!(ws_frame(without_cl), Ok(WsFrame::Message));
        assert_eq!(
            ws_frame(&with_cl[..with_cl.len() - 1]),
            Err(WsFrameError::LengthMismatch)
        );
        let mut longer = with_cl.to_vec();
        longer.extend_from_slice(b"OPTIONS");
        assert_eq!(ws_frame(&longer), Err(WsFrameError::LengthMismatch));
        assert_eq!(ws_frame(b""), Err(WsFrameError::Empty));
        assert_eq!(
            ws_frame(b"OPTIONS sip:a SIP/2.0\r\n"),
            Err(WsFrameError::NoHeaderEnd)
        );
        assert_eq!(
            ws_frame(b"X\r\nContent-Length: z\r\n\r\n"),
            Err(WsFrameError::Malformed)
        );
        assert_eq!(ws_frame(b"\r\n\r\n"), Ok(WsFrame::KeepAlive { ping: true }));
        assert_eq!(ws_frame(b"\r\n"), Ok(WsFrame::KeepAlive { ping: false }));
        assert_eq!(
            ws_frame(b"\r\nOPTIONS sip:a SIP/2.0\r\n\r\n"),
            Err(WsFrameError::Malformed)
        );
    }

    proptest::proptest! {
        /// Any frame content gets an answer, never a panic; a frame called
        /// a message always has a complete header section.
        #[test]
        fn arbitrary_ws_frames_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            if let Ok(WsFrame::Message) = ws_frame(&data) {
                proptest::prop_assert!(memchr::memmem::find(&data, b"\r\n\r\n").is_some());
            }
        }

        /// A valid message with arbitrary body bytes is one frame, with or
        /// without Content-Length.
        #[test]
        fn any_body_fits_one_frame(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), with_cl: bool) {
            let mut m = b"MESSAGE sip:a SIP/2.0\r\nVia: SIP/2.0/WS x.invalid\r\n".to_vec();
            if with_cl {
                m.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
            m.extend_from_slice(b"\r\n");
            m.extend_from_slice(&body);
            proptest::prop_assert_eq!(ws_frame(&m), Ok(WsFrame::Message));
        }
    }

    #[test]
    fn keepalives() {
        assert_eq!(
            frame(b"\r\n"),
            Ok(Frame::KeepAlive {
                len: 2,
                ping: false
            })
        );
        assert_eq!(frame(b"\r\n\r"), Ok(Frame::Incomplete));
        assert_eq!(
            frame(b"\r\n\r\n"),
            Ok(Frame::KeepAlive { len: 4, ping: true })
        );
        assert_eq!(
            frame(b"\r\nOPTIONS"),
            Ok(Frame::KeepAlive {
                len: 2,
                ping: false
            })
        );
    }

    #[test]
    fn messages() {
        let m = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcX";
        assert_eq!(frame(m), Ok(Frame::Message(m.len() - 1)));
        assert_eq!(frame(&m[..m.len() - 2]), Ok(Frame::Incomplete));
        assert!(
            frame(b"X\r\n\r\n").is_err(),
            "no Content-Length on a stream"
        );
        assert!(frame(b"X\r\nContent-Length: z\r\n\r\n").is_err());
    }
}
