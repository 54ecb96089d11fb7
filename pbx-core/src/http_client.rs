//! The HTTP client of applications (IVR http nodes, the "callUrl" of SPEC):
//! POST a JSON body, wait at most the node's timeout, return the status and
//! the body. `http://` and `https://` (hyper 1 + hyper-util's pooled client
//! behind hyper-rustls with the ring provider, TLS 1.2/1.3). Servers are
//! verified against the Mozilla roots (webpki-roots) plus the CA files of
//! `[ivr] http_ca_file` (a private CA, a self-signed test server).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// How an HTTP request of an application (`Action::Http`) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpOutcome {
    /// A response arrived.
    Response {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// Connection or protocol failure.
    Failed(String),
    /// No answer within the timeout.
    TimedOut,
}

/// Largest response body read (larger ones fail the request).
pub const MAX_BODY: usize = 1 << 20;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// A CA file could not be read or holds a malformed PEM block.
    #[error("CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls_pki_types::pem::Error,
    },
    /// A CA file holds no `CERTIFICATE` block.
    #[error("CA file {0}: no PEM certificate in it")]
    NoCertificate(PathBuf),
    /// A certificate of a CA file is not a usable trust anchor.
    #[error("CA file {path}: {source}")]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The TLS configuration was refused (no usable protocol version).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Reads the PEM certificates of `path` (at least one).
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| HttpClientError::CaFile {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(HttpClientError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// A pooled HTTP/1.1 client (http and https); cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client trusting the Mozilla roots (must be used inside a tokio
    /// runtime).
    pub fn new() -> Self {
        match Self::with_ca_files(&[]) {
            Ok(c) => c,
            // Only CA files can fail; the ring provider supports the
            // default protocol versions.
            Err(e) => unreachable!("TLS client without CA files: {e}"),
        }
    }

    /// A client trusting the Mozilla roots plus every certificate of the
    /// PEM `ca_files`.
    pub fn with_ca_files(ca_files: &[PathBuf]) -> Result<Self, HttpClientError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in ca_files {
            for cert in read_ca_file(path)? {
                roots
                    .add(cert)
                    .map_err(|source| HttpClientError::BadCertificate {
                        path: path.clone(),
                        source,
                    })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// POSTs `body_json` to `url` (`Content-Type: application/json`);
    /// connecting (TLS handshake included), sending and reading the body
    /// together take at most `timeout`.
    pub async fn post_json(&self, url: &str, body_json: String, timeout: Duration) -> HttpOutcome {
        let uri: hyper::Uri = match url.parse() {
            Ok(u) => u,
            Err(e) => return HttpOutcome::Failed(format!("bad URL {url}: {e}")),
        };
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return HttpOutcome::Failed(format!("bad URL {url}: http:// or https:// expected"))
            }
        }
        let request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("pbx/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body_json)));
        let request = match request {
            Ok(r) => r,
            Err(e) => return HttpOutcome::Failed(format!("bad request: {e}")),
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {}", chain(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the body failed: {e}"))?
                .to_bytes();
            Ok::<_, String>(HttpOutcome::Response {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(reason)) => HttpOutcome::Failed(reason),
            Err(_) => HttpOutcome::TimedOut,
        }
    }
}

/// The answer to [`HttpClient::post_signed`]: the status and the
/// `Retry-After` header (RFC 9110 §10.2.3), the body is read and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostReply {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header as sent (seconds or an HTTP date).
    pub retry_after: Option<String>,
}

impl HttpClient {
    /// POSTs `body` (JSON) to `url` with extra `headers` (webhook
    /// signatures); connecting, sending and reading the answer together
    /// take at most `timeout`. `Err(HttpOutcome::Failed | TimedOut)` when no
    /// answer came.
    pub async fn post_with_headers(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<PostReply, HttpOutcome> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| HttpOutcome::Failed(format!("bad URL {url}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(HttpOutcome::Failed(format!(
                "bad URL {url}: http:// or https:// expected"
            )));
        }
        let mut request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("pbx/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| HttpOutcome::Failed(format!("bad request: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {}", chain(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the body failed: {e}"))?;
            Ok::<_, String>(PostReply {
                status,
                retry_after,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(reason)) => Err(HttpOutcome::Failed(reason)),
            Err(_) => Err(HttpOutcome::TimedOut),
        }
    }
}

/// An error with its sources (`client error (Connect): tcp connect error:
/// Connection refused`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
#[path = "http_client_tls_tests.rs"]
mod tls_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    /// A local server: `/ok` echoes a JSON answer, `/error` is a 500,
    /// `/slow` answers after 2 s.
    async fn server() -> std::net::SocketAddr {
        let app = axum::Router::new()
            .route(
                "/ok",
                post(|body: String| async move {
                    let seen = body.contains("\"caller\"");
                    format!("{{\"name\":\"Ada\",\"vip\":true,\"seen\":{seen}}}")
                }),
            )
            .route(
                "/error",
                post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "late"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn post_success_error_timeout_and_refused() {
        let addr = server().await;
        let client = HttpClient::new();
        let t = Duration::from_millis(500);
        let ok = client
            .post_json(
                &format!("http://{addr}/ok"),
                r#"{"caller":"1001"}"#.into(),
                t,
            )
            .await;
        assert_eq!(
            ok,
            HttpOutcome::Response {
                status: 200,
                body: r#"{"name":"Ada","vip":true,"seen":true}"#.into()
            }
        );
        let err = client
            .post_json(&format!("http://{addr}/error"), "{}".into(), t)
            .await;
        assert_eq!(
            err,
            HttpOutcome::Response {
                status: 500,
                body: "boom".into()
            }
        );
        let started = std::time::Instant::now();
        let slow = client
            .post_json(&format!("http://{addr}/slow"), "{}".into(), t)
            .await;
        assert_eq!(slow, HttpOutcome::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= t && waited < Duration::from_millis(1500),
            "{waited:?}"
        );
        // Nothing listens on port 9 of localhost (discard, not served).
        let refused = client
            .post_json("http://127.0.0.1:9/x", "{}".into(), t)
            .await;
        assert!(matches!(refused, HttpOutcome::Failed(_)), "{refused:?}");
        let ftp = client.post_json("ftp://example.com/", "{}".into(), t).await;
        assert!(matches!(ftp, HttpOutcome::Failed(r) if r.contains("https://")));
    }

    /// An IVR http node run by the interpreter against the local server:
    /// success maps the JSON and takes `ok`, a 500 takes `error`, a slow
    /// server takes `timeout`.
    #[test]
    fn http_node_exits_against_a_real_server() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(server());
        let client = runtime.block_on(async { HttpClient::new() });
        for (path, reason, name) in [
            ("ok", "ok", Some("Ada")),
            ("error", "error", None),
            ("slow", "timeout", None),
        ] {
            let flow = ivr::parse_flow(
                "h.toml",
                format!(
                    "[flow]\nname = \"h\"\n[nodes.lookup]\ntype = \"http\"\n\
                     url = \"http://{addr}/{path}\"\ntimeout = \"500ms\"\nmap = {{ name = \"/name\" }}\n\
                     exits = {{ ok = \"ok\", error = \"error\", timeout = \"timeout\" }}\n\
                     [nodes.ok]\ntype = \"hangup\"\nreason = \"ok\"\n\
                     [nodes.error]\ntype = \"hangup\"\nreason = \"error\"\n\
                     [nodes.timeout]\ntype = \"hangup\"\nreason = \"timeout\"\n"
                ),
            )
            .unwrap();
            let sim = ivr::sim::simulate_with(
                std::sync::Arc::new(flow),
                &ivr::SimScript::default(),
                |req| {
                    let started = std::time::Instant::now();
                    let outcome = runtime.block_on(client.post_json(
                        &req.url,
                        req.body_json.clone(),
                        req.timeout,
                    ));
                    let delay = started.elapsed();
                    match outcome {
                        HttpOutcome::Response { status, body } => ivr::CannedHttp::Response {
                            status,
                            body,
                            delay,
                        },
                        HttpOutcome::Failed(reason) => ivr::CannedHttp::Fail { reason, delay },
                        HttpOutcome::TimedOut => ivr::CannedHttp::Timeout,
                    }
                },
            );
            assert_eq!(
                sim.trajectory.outcome,
                Some(ivr::Outcome::Hangup {
                    reason: Some(reason.into())
                }),
                "{path}: {}",
                sim.render_text()
            );
            assert_eq!(
                sim.variables.get("name").map(String::as_str),
                name,
                "{path}"
            );
        }
    }
}
