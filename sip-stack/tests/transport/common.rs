//! The shared test handler and helpers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use sip_stack::transport::{Handler, Incoming, TransportConfig, Transports};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen at once.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Forwards every message to a channel and, if `echo` is set, sends it back
/// to its sender through the transports (from the receiving thread/task).
pub(crate) struct Recorder {
    tx: mpsc::UnboundedSender<Incoming>,
    echo: OnceLock<Transports>,
    pub(crate) count: AtomicUsize,
}

impl Handler for Recorder {
    fn on_message(&self, incoming: Incoming) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = self.echo.get() {
            t.send(&incoming.peer, incoming.data.clone())
                .expect("echo send");
        }
        let _ = self.tx.send(incoming);
    }
}

/// A running transport set and the messages it received.
pub(crate) struct Node {
    pub(crate) transports: Transports,
    pub(crate) rx: mpsc::UnboundedReceiver<Incoming>,
    pub(crate) recorder: Arc<Recorder>,
}

impl Node {
    pub(crate) async fn start(config: TransportConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = Arc::new(Recorder {
            tx,
            echo: OnceLock::new(),
            count: AtomicUsize::new(0),
        });
        let transports = Transports::start(config, recorder.clone())
            .await
            .expect("start transports");
        Self {
            transports,
            rx,
            recorder,
        }
    }

    /// Echo every received message back to its sender.
    pub(crate) fn echo(&self) {
        let _ = self.recorder.echo.set(self.transports.clone());
    }

    pub(crate) async fn next(&mut self) -> Incoming {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("message within timeout")
            .expect("handler alive")
    }

    pub(crate) async fn shutdown(self) {
        // The echo handle is a clone; drop it so shutdown is the last owner.
        drop(self.recorder);
        tokio::time::timeout(WAIT, self.transports.shutdown())
            .await
            .expect("shutdown completes");
    }
}

pub(crate) fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("literal address")
}

/// A SIP request with a body, `Content-Length` correct.
pub(crate) fn request(n: usize, body: &str) -> Bytes {
    Bytes::from(format!(
        "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK{n}\r\nCall-ID: c{n}\r\nCSeq: {n} MESSAGE\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// Waits until `f` holds, polling; panics after [`WAIT`].
pub(crate) async fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
