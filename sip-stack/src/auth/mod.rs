//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): the hashing
//! shared by servers and clients ([`digest`]) and the client side that
//! answers a challenge with credentials ([`client`]).

pub mod client;
pub mod digest;

pub use client::{authorization, AuthError};
pub use digest::DigestAlgorithm;
