//! Stream framing for TCP/TLS, in byte counts the connection loop can act on.
//!
//! The SIP-aware part (end of headers, Content-Length, RFC 3261 §18.3) is
//! [`crate::message::frame`]; this adapter adds what the connection needs on
//! top: whether a CRLF run is a ping that wants a pong (RFC 5626 §3.5.1).

use crate::message::{self, Framing, ParseError};

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

#[cfg(test)]
mod tests {
    use super::*;

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
