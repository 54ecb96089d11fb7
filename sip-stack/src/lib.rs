//! SIP for pbx: messages (parse and print), sans-IO transactions driven by an
//! injected clock, RFC 3261 §12 dialogs, a sans-IO user agent (registration
//! client, INVITE sessions, REFER), digest authentication (server hashing and
//! client credentials), and a tokio transport driver (UDP, TCP, TLS).
//!
//! # Run-loop contract
//! The protocol cores (`transaction`, `ua`) never own a socket, a task or a clock.
//! A driver feeds them input with the current time (`handle_*`), then drains
//! their outputs (`poll_output`) until empty, then sleeps until
//! `poll_timeout()` or the next input, whichever comes first.
#![warn(missing_docs)]

pub mod auth;
pub mod deadlines;
pub mod dialog;
pub mod message;
pub mod peer;
pub mod transaction;
#[cfg(feature = "tokio")]
pub mod transport;
pub mod ua;

pub use message::{
    Header, HeaderName, Headers, Method, ParseError, Request, Response, SipMessage, StatusCode, Uri,
};
pub use peer::{ConnId, Peer, Transport};
