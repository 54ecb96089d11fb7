//! A real server (`Server::start`, what `pbx serve` runs) on loopback with
//! its store, and an HTTP client for `/api/v1`.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pbx_core::config::Config;
use pbx_core::server::Server;
use pbx_core::store::Store;

pub(crate) struct Api {
    pub(crate) server: Option<Server>,
    pub(crate) base: String,
    pub(crate) admin: String,
    pub(crate) db: PathBuf,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a JSON error with `status` and `code`.
    pub(crate) fn error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        let v = self.json();
        assert_eq!(v["code"], code, "{}", self.body);
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
    }
}

/// The config of the test server: two queues, agents 1001–1005 and 7001,
/// 7002 (the hand-made records' agents), UTC.
fn config(data: &std::path::Path) -> String {
    let mut users = String::new();
    for n in ["1001", "1002", "1003", "1004", "1005", "7001", "7002"] {
        users.push_str(&format!(
            "\n[[users]]\nname = \"{n}\"\npassword = \"{n}-secret\"\n"
        ));
    }
    format!(
        "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_threads = 1\n\n\
         [calls]\nengine = \"b2bua\"\nutc_offset_minutes = 0\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n\
         [[queues]]\nname = \"sales\"\nservice_level_s = 20\n\n[[queues]]\nname = \"support\"\nservice_level_s = 30\n\n\
         [[agents]]\nname = \"7001\"\nskills = [\"sales:5\"]\n\n[[agents]]\nname = \"1001\"\nskills = [\"support:5\"]\n{users}",
        data.display()
    )
}

impl Api {
    /// Starts a server whose store was first filled by `fill`.
    pub(crate) async fn start(fill: impl FnOnce(&mut Store)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let text = config(&data);
        let config = Config::from_str_named(&text, "api-test.toml").expect("config");
        let db = config.db_path();
        {
            let mut store = Store::open(&db).expect("store");
            fill(&mut store);
        }
        let server = Server::start(config).await.expect("server starts");
        let addr = server.metrics_addr().expect("http listener");
        let admin = pbx_core::admin_token::read(&data).expect("admin token");
        Self {
            server: Some(server),
            base: format!("http://{addr}/api/v1"),
            admin,
            db,
            _dir: dir,
        }
    }

    pub(crate) fn store(&self) -> Store {
        Store::open(&self.db).expect("store")
    }

    /// A token with `scopes` (comma-separated) acting as `agent`.
    pub(crate) fn token(&self, name: &str, scopes: &str, agent: Option<&str>) -> String {
        let scopes: Vec<String> = scopes.split(',').map(str::to_owned).collect();
        self.store()
            .create_token(name, &scopes, agent, 1)
            .expect("token")
            .1
    }

    pub(crate) async fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let data = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                v.to_string()
            }
            None => String::new(),
        };
        let req = b
            .body(Full::new(bytes::Bytes::from(data)))
            .expect("request");
        let resp = tokio::time::timeout(Duration::from_secs(20), client.request(req))
            .await
            .expect("answer within 20 s")
            .expect("HTTP");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.req("GET", path, Some(token), None).await
    }

    /// The first `n` SSE events of `GET path` (with `Last-Event-ID`), as
    /// (id, event, data); bounded to 10 s.
    pub(crate) async fn sse(
        &self,
        path: &str,
        token: &str,
        last_id: Option<i64>,
        n: usize,
    ) -> Vec<(String, String, serde_json::Value)> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let mut b = hyper::Request::builder()
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(id) = last_id {
            b = b.header("last-event-id", id.to_string());
        }
        let resp = client
            .request(b.body(Full::new(bytes::Bytes::new())).unwrap())
            .await
            .expect("HTTP");
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut text = String::new();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while out.len() < n {
            let frame = tokio::time::timeout_at(deadline, body.frame())
                .await
                .expect("events within 10 s")
                .expect("stream open")
                .expect("frame");
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let (mut id, mut ev, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !data.is_empty() {
                    out.push((id, ev, serde_json::from_str(&data).expect("event JSON")));
                }
            }
        }
        out
    }

    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}
