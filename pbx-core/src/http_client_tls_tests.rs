//! https against a local TLS server whose certificate a throw-away CA
//! signed: trusted through a CA file it succeeds, without it (or with an
//! unrelated CA) the handshake fails and the request reports why.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{read_ca_file, HttpClient, HttpClientError};
use crate::b2bua::app::HttpOutcome;

fn ca(name: &str) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("pbx http test CA {name}"));
    let key = KeyPair::generate().expect("key");
    (params.self_signed(&key).expect("self-sign"), key)
}

/// A TLS server on 127.0.0.1 answering every request with a JSON body that
/// echoes whether the request carried the caller; returns its port.
async fn tls_server(ca: &Certificate, ca_key: &KeyPair) -> u16 {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, ca, ca_key).expect("sign");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let request = read_request(&mut tls).await;
                let seen = request.contains("\"caller\"");
                let body = format!("{{\"name\":\"Ada\",\"seen\":{seen}}}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// Reads one request: headers, then `Content-Length` bytes of body.
async fn read_request(s: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = s.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn https_with_a_trusted_ca_file_and_a_bad_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, ca_key) = ca("trusted");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let (other, _) = ca("other");
    let other_file = dir.path().join("other.pem");
    std::fs::write(&other_file, other.pem()).unwrap();
    let port = tls_server(&ca_cert, &ca_key).await;
    let t = Duration::from_secs(2);
    let body = r#"{"caller":"1001"}"#;

    let trusted = HttpClient::with_ca_files(std::slice::from_ref(&ca_file)).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let ok = trusted
            .post_json(&format!("https://{host}:{port}/lookup"), body.into(), t)
            .await;
        assert_eq!(
            ok,
            HttpOutcome::Response {
                status: 200,
                body: r#"{"name":"Ada","seen":true}"#.into()
            },
            "{host}"
        );
    }

    // The Mozilla roots alone, or an unrelated CA: the certificate is refused.
    for client in [
        HttpClient::new(),
        HttpClient::with_ca_files(&[other_file]).unwrap(),
    ] {
        let refused = client
            .post_json(&format!("https://127.0.0.1:{port}/lookup"), body.into(), t)
            .await;
        match refused {
            HttpOutcome::Failed(reason) => {
                assert!(reason.contains("UnknownIssuer"), "{reason}")
            }
            other => panic!("bad certificate accepted: {other:?}"),
        }
    }
    // Plain http to the TLS port is not mistaken for an answer.
    let plain = trusted
        .post_json(&format!("http://127.0.0.1:{port}/lookup"), body.into(), t)
        .await;
    assert!(matches!(plain, HttpOutcome::Failed(_)), "{plain:?}");
}

#[test]
fn ca_files_without_certificates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no pem here\n").unwrap();
    assert!(matches!(
        read_ca_file(&empty),
        Err(HttpClientError::NoCertificate(p)) if p == empty
    ));
    let missing = dir.path().join("missing.pem");
    let err = HttpClient::with_ca_files(&[missing]).unwrap_err();
    assert!(matches!(err, HttpClientError::CaFile { .. }), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
