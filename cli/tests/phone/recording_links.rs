//! Signed recording links end to end: `pbx recordings link ID --expires 1h`
//! prints a URL that serves the recording without the admin token (Range
//! honoured), while a tampered signature, missing parameters or an expired
//! link get a JSON 403 and a validity past a week is refused. The uploaded
//! recording also put one `recording.ready` event in the outbox (what
//! webhooks deliver) with its key, sha256, size and duration.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::recording::{admin, recording_server, wait_uploaded};
use super::recording_policy::one_call;

/// A GET with no Authorization header: status, head, body.
fn get_plain(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n{extra}\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..at]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, resp[at + 4..].to_vec())
}

fn link(config: &std::path::Path, call: &str, expires: &str) -> String {
    let out = admin(config, &["recordings", "link", call, "--expires", expires]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls the outbox (the CDR writer commits every 100 ms) for the call's
/// `recording.ready` event and checks it against the recording's bytes.
fn ready_event_matches(root: &std::path::Path, call: &str, wav: &[u8]) {
    use sha2::Digest;
    let store = pbx_core::store::Store::open(&root.join("data/pbx.sqlite")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let events = store.events_after(0, Some(call), 100).unwrap();
        let ready: Vec<_> = events
            .iter()
            .filter(|e| e.event.kind == "recording.ready")
            .collect();
        if let [one] = ready.as_slice() {
            break one.event.payload.clone();
        }
        assert!(ready.len() < 2, "two recording.ready events: {ready:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "no recording.ready: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ready["call_id"].as_str(), Some(call), "{ready}");
    let sha = hex::encode(sha2::Sha256::digest(wav));
    assert_eq!(ready["sha256"].as_str(), Some(sha.as_str()), "{ready}");
    assert_eq!(ready["size"].as_u64(), Some(wav.len() as u64), "{ready}");
    assert!(
        ready["key"]
            .as_str()
            .is_some_and(|k| k.ends_with(&format!("/{call}.wav"))),
        "{ready}"
    );
    let ms = ready["duration_ms"].as_u64().unwrap_or(0);
    assert!((1000..10_000).contains(&ms), "{ready}");
}

fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON error body");
    v["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_signed_link_serves_the_recording_without_the_token_until_it_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, metrics) = recording_server(root, "mode = \"always\"\n");
    let call = one_call(root, &target, &config, "2002", None);
    wait_uploaded(&config, &call, 20, root);
    let whole = root.join("whole.wav");
    assert!(admin(
        &config,
        &["recordings", "get", &call, "-o", whole.to_str().unwrap()]
    )
    .status
    .success());
    let whole = std::fs::read(&whole).unwrap();
    ready_event_matches(root, &call, &whole);

    let url = link(&config, &call, "1h");
    let prefix = format!("http://{metrics}/links/recordings/{call}?expires=");
    assert!(url.starts_with(&prefix), "{url}");
    let path = &url[format!("http://{metrics}").len()..];
    let (status, head, body) = get_plain(metrics, path, "");
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, whole);
    let (status, head, body) = get_plain(metrics, path, "Range: bytes=44-1067\r\n");
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, &whole[44..1068]);

    // The admin route still wants the token.
    let (status, _, _) = get_plain(metrics, &format!("/recordings/{call}"), "");
    assert_eq!(status, 401);
    // A changed signature, another call, no parameters: 403 with JSON.
    let last = path.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &path[..path.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let (status, _, body) = get_plain(metrics, &flipped, "");
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("signature"), "{}", error_of(&body));
    let other = path.replace(&call, "c00000000000000ff");
    assert_eq!(get_plain(metrics, &other, "").0, 403);
    let (status, _, body) = get_plain(metrics, &format!("/links/recordings/{call}"), "");
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("expires"), "{}", error_of(&body));

    // Expired.
    let short = link(&config, &call, "1s");
    std::thread::sleep(Duration::from_millis(2100));
    let (status, _, body) = get_plain(metrics, &short[format!("http://{metrics}").len()..], "");
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("expired"), "{}", error_of(&body));

    // Past a week: refused by the server, said by the CLI.
    let out = admin(&config, &["recordings", "link", &call, "--expires", "200h"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expires_secs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
