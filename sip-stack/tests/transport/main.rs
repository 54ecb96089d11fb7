//! Transport driver tests on real loopback sockets (127.0.0.1, port 0).

mod common;
mod stream;
mod tls;
mod udp;
mod ws;
