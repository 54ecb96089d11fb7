use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, SanType};
use sip_stack::transport::{SendError, TlsConfig, TransportConfig};
use sip_stack::{Peer, Transport};

use crate::common::{eventually, loopback, request, Node};

/// A CA and a server certificate for 127.0.0.1 it signed, as PEM files in a
/// fresh directory.
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pbx-transport-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (ca, ca_key) = ca(name);
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("sign");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write");
        Self { dir }
    }

    pub(crate) fn server(&self) -> TlsConfig {
        TlsConfig {
            cert_pem: self.dir.join("cert.pem"),
            key_pem: self.dir.join("key.pem"),
        }
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca(name: &str) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("pbx test CA {name}"));
    let key = KeyPair::generate().expect("key");
    (params.self_signed(&key).expect("self-sign"), key)
}

#[tokio::test]
async fn tls_both_directions() {
    let pki = Pki::new("both");
    let mut server = Node::start(TransportConfig {
        tls: vec![(loopback(), pki.server())],
        ..Default::default()
    })
    .await;
    server.echo();
    let mut client = Node::start(TransportConfig {
        tls_client_roots: vec![pki.ca()],
        ..Default::default()
    })
    .await;
    let addr = server
        .transports
        .local_addr(Transport::Tls)
        .expect("TLS bound");
    let to_server = Peer {
        transport: Transport::Tls,
        addr,
        conn: None,
    };

    client
        .transports
        .send(&to_server, request(1, "over TLS"))
        .expect("send");
    let got = server.next().await;
    assert_eq!(got.data, request(1, "over TLS"));
    assert_eq!(got.peer.transport, Transport::Tls);
    // The echo is the server sending on the accepted TLS connection.
    let echoed = client.next().await;
    assert_eq!(
        (echoed.data, echoed.peer.transport, echoed.peer.addr),
        (request(1, "over TLS"), Transport::Tls, addr)
    );
    // And the client reuses its connection for the next request.
    client
        .transports
        .send(&to_server, request(2, "again"))
        .expect("send");
    assert_eq!(server.next().await.data, request(2, "again"));
    assert_eq!(
        client.transports.stats().snapshot().connections_connected,
        1
    );
    assert_eq!(server.transports.stats().snapshot().connections_accepted, 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn tls_rejects_untrusted_server() {
    let pki = Pki::new("server");
    let other = Pki::new("other");
    let server = Node::start(TransportConfig {
        tls: vec![(loopback(), pki.server())],
        ..Default::default()
    })
    .await;
    let addr = server
        .transports
        .local_addr(Transport::Tls)
        .expect("TLS bound");
    let to_server = Peer {
        transport: Transport::Tls,
        addr,
        conn: None,
    };

    // No roots: outbound TLS is not available at all.
    let bare = Node::start(TransportConfig::default()).await;
    assert!(matches!(
        bare.transports.send(&to_server, request(1, "")),
        Err(SendError::NoTransport(Transport::Tls))
    ));

    // Roots of another CA: the handshake fails and the queued message is dropped.
    let wrong = Node::start(TransportConfig {
        tls_client_roots: vec![other.ca()],
        ..Default::default()
    })
    .await;
    wrong
        .transports
        .send(&to_server, request(1, ""))
        .expect("queued");
    let t = wrong.transports.clone();
    eventually(|| t.stats().snapshot().connections_closed == 1).await;
    assert_eq!(t.stats().snapshot().dropped, 1);
    assert_eq!(t.stats().snapshot().connections_connected, 0);
    assert_eq!(
        server
            .recorder
            .count
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    drop(t);
    bare.shutdown().await;
    wrong.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn tls_bad_key_file_fails_start() {
    let pki = Pki::new("badkey");
    let broken = TlsConfig {
        cert_pem: pki.server().cert_pem,
        key_pem: pki.ca(),
    };
    let result = sip_stack::transport::Transports::start(
        TransportConfig {
            tls: vec![(loopback(), broken)],
            ..Default::default()
        },
        std::sync::Arc::new(Nop),
    )
    .await;
    assert!(result.is_err(), "a CA certificate is no private key");
}

struct Nop;
impl sip_stack::transport::Handler for Nop {
    fn on_message(&self, _: sip_stack::transport::Incoming) {}
}
