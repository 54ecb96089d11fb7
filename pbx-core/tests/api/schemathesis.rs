//! schemathesis (PyPI, installed by `scripts/schemathesis.sh` into a venv
//! under /var/cache) against the OpenAPI document of a running server: every
//! operation's answers must match the document (status codes, content
//! types, schemas), invalid input must be refused, no 5xx, auth enforced.
//! Click-to-call and quick callback are left out: they place real calls
//! (their answers are pinned by the API tests). The event stream is left
//! out: it never ends. Creating a webhook subscription is left out: the
//! server's delivery worker would POST events to whatever URL the fuzzer
//! made up (its answers are pinned by `webhook_subscriptions_crud`).

use std::process::Command;
use std::time::Duration;

use super::{fill, harness::Api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_document_true() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/schemathesis.sh");
    let out = Command::new(script)
        .output()
        .expect("run scripts/schemathesis.sh");
    assert!(
        out.status.success(),
        "installing schemathesis failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let api = Api::start(fill).await;
    let token = api.token("fuzz", "read,calls,agents,admin,numbers", Some("7001"));
    let url = format!("{}/openapi.json", api.base);
    let origin = api.base.trim_end_matches("/api/v1").to_owned();
    // schemathesis keeps a cache under its working directory: a temporary one.
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let dir = cwd.path().to_owned();
    let run = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(&st);
        cmd.current_dir(&dir);
        cmd.args([
            "run",
            &url,
            "--url",
            &format!("{origin}/api/v1"),
            "-H",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,ignored_auth",
            "--exclude-path",
            "/calls",
            "--exclude-path",
            "/missed/{id}/callback",
            "--exclude-path",
            "/events",
            "--exclude-operation-id",
            "createWebhook",
            "--max-examples",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "10",
            "--workers",
            "2",
            "--seed",
            "1",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1");
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run schemathesis");
        wait_bounded(child, Duration::from_secs(600))
    })
    .await
    .expect("join");
    let (ok, text) = run;
    api.stop().await;
    assert!(
        ok,
        "schemathesis found the API unlike its document:\n{text}"
    );
}

/// Waits at most `limit` for the child (killed after); returns whether it
/// exited 0 and its output.
fn wait_bounded(mut child: std::process::Child, limit: Duration) -> (bool, String) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
