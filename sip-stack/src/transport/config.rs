//! Plain configuration for [`Transports`](super::Transports).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A TLS listener's certificate chain and private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file with the server certificate chain, leaf first.
    pub cert_pem: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
}

/// Which listeners to bind and the limits they run with.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP addresses to bind (port 0 picks a free port).
    pub udp: Vec<SocketAddr>,
    /// TCP listen addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS listen addresses, each with its certificate.
    pub tls: Vec<(SocketAddr, TlsConfig)>,
    /// SIP-over-WebSocket listen addresses (RFC 7118, `ws:`).
    pub ws: Vec<SocketAddr>,
    /// Secure WebSocket listen addresses (`wss:`), each with its certificate.
    pub wss: Vec<(SocketAddr, TlsConfig)>,
    /// How often an open WebSocket connection is sent a ping frame; its pong
    /// (or any other frame) counts as traffic for `tcp_idle_timeout`, so a
    /// browser that vanished without a close is noticed. Default 30 s.
    pub ws_ping_interval: Duration,
    /// Receiver threads per UDP socket, all blocking on the same socket
    /// (the kernel wakes one waiter per datagram). Default: number of CPUs.
    pub udp_threads: usize,
    /// SO_RCVBUF and SO_SNDBUF for UDP sockets, in bytes. Default 4 MiB.
    pub recv_buffer: usize,
    /// A TCP/TLS/WS connection with no traffic in either direction for this long
    /// is closed. Default 10 minutes (clients keep alive with RFC 5626 CRLF pings).
    pub tcp_idle_timeout: Duration,
    /// Maximum number of simultaneously open TCP/TLS/WS connections (inbound and
    /// outbound together); further accepts are closed at once. Default 10 000.
    pub max_connections: usize,
    /// Largest message accepted on a stream; a peer that sends more without a
    /// complete message loses its connection. Default 64 KiB.
    pub max_message_size: usize,
    /// Messages queued per connection before `send` reports a full queue. Default 1024.
    pub send_queue: usize,
    /// Time allowed for an outbound TCP connect plus TLS handshake. Default 10 s.
    pub connect_timeout: Duration,
    /// PEM files with the CA certificates trusted for outbound TLS.
    pub tls_client_roots: Vec<PathBuf>,
    /// A complete client configuration for outbound TLS; replaces
    /// `tls_client_roots` when set.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            ws: Vec::new(),
            wss: Vec::new(),
            ws_ping_interval: Duration::from_secs(30),
            udp_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            recv_buffer: 4 << 20,
            tcp_idle_timeout: Duration::from_secs(600),
            max_connections: 10_000,
            max_message_size: 64 << 10,
            send_queue: 1024,
            connect_timeout: Duration::from_secs(10),
            tls_client_roots: Vec::new(),
            tls_client: None,
        }
    }
}

/// A configuration value that can not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `udp_threads` is zero while UDP addresses are configured.
    #[error("udp_threads must be at least 1")]
    NoUdpThreads,
    /// `send_queue` is zero.
    #[error("send_queue must be at least 1")]
    NoSendQueue,
    /// `max_message_size` is too small to hold any SIP message.
    #[error("max_message_size must be at least 1024 bytes")]
    MessageSizeTooSmall,
    /// `ws_ping_interval` is zero while WebSocket listeners are configured.
    #[error("ws_ping_interval must be positive")]
    NoPingInterval,
}

impl TransportConfig {
    /// Checks values that would make the transports unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.udp_threads == 0 && !self.udp.is_empty() {
            return Err(ConfigError::NoUdpThreads);
        }
        if self.send_queue == 0 {
            return Err(ConfigError::NoSendQueue);
        }
        if self.max_message_size < 1024 {
            return Err(ConfigError::MessageSizeTooSmall);
        }
        if self.ws_ping_interval.is_zero() && !(self.ws.is_empty() && self.wss.is_empty()) {
            return Err(ConfigError::NoPingInterval);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_zero_limits_are_not() {
        let ok = TransportConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.udp_threads >= 1);
        let udp = vec!["127.0.0.1:0".parse().expect("literal")];
        let no_threads = TransportConfig {
            udp,
            udp_threads: 0,
            ..TransportConfig::default()
        };
        assert_eq!(no_threads.validate(), Err(ConfigError::NoUdpThreads));
        let no_queue = TransportConfig {
            send_queue: 0,
            ..TransportConfig::default()
        };
        assert_eq!(no_queue.validate(), Err(ConfigError::NoSendQueue));
        let tiny = TransportConfig {
            max_message_size: 10,
            ..TransportConfig::default()
        };
        assert_eq!(tiny.validate(), Err(ConfigError::MessageSizeTooSmall));
        let no_ping = TransportConfig {
            ws: vec!["127.0.0.1:0".parse().expect("literal")],
            ws_ping_interval: Duration::ZERO,
            ..TransportConfig::default()
        };
        assert_eq!(no_ping.validate(), Err(ConfigError::NoPingInterval));
    }
}
