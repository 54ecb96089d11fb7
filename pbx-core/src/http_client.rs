//! The HTTP client of applications (IVR http nodes, the "callUrl" of SPEC):
//! POST a JSON body, wait at most the node's timeout, return the status and
//! the body. Plain `http://` only for now (hyper 1 + hyper-util's pooled
//! client; no TLS stack is pulled in): an `https://` URL fails with a clear
//! reason so the flow takes its error exit.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::b2bua::app::HttpOutcome;

/// Largest response body read (larger ones fail the request).
pub const MAX_BODY: usize = 1 << 20;

/// A pooled HTTP/1.1 client; cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with a connection pool (must be used inside a tokio runtime).
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// POSTs `body_json` to `url` (`Content-Type: application/json`);
    /// connecting, sending and reading the body together take at most
    /// `timeout`.
    pub async fn post_json(&self, url: &str, body_json: String, timeout: Duration) -> HttpOutcome {
        let uri: hyper::Uri = match url.parse() {
            Ok(u) => u,
            Err(e) => return HttpOutcome::Failed(format!("bad URL {url}: {e}")),
        };
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return HttpOutcome::Failed("https URLs are not supported yet (http only)".into())
            }
            _ => return HttpOutcome::Failed(format!("bad URL {url}: http:// expected")),
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
        let https = client
            .post_json("https://example.com/", "{}".into(), t)
            .await;
        assert!(matches!(https, HttpOutcome::Failed(r) if r.contains("https")));
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
