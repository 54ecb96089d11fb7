//! The CRM drives live calls through `/api/v1` between real `pbx phone`s
//! (SPEC §8.2 acceptance): A (2001) calls agent B (2002); the CRM attaches
//! ticket T1 to the live call, holds and unholds the caller through the
//! API (music on hold), B blind-transfers to C (2003) from the phone
//! (REFER), C creates T2, the CRM blind-transfers to D (2004) through the
//! API. D's ringing webhook carries T1 and T2 and says it comes from C; the
//! call record lists T1 and T2 on its legs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::audio::write_tone;
use super::{pbx, start_server_with, wait_registered, Kill};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Webhook bodies received, in arrival order (answers 200 to each).
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let got = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let got = got.clone();
            std::thread::spawn(move || serve_hooks(conn, &got));
        }
    });
    (url, seen)
}

fn serve_hooks(conn: TcpStream, got: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut len = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(v) = serde_json::from_slice(&body) {
            got.lock().unwrap().push(v);
        }
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// One `/api/v1` request: (status, JSON body or null).
fn api(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let data = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} /api/v1{path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{data}",
        data.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// `pbx phone` as `user` in console mode (commands on its stdin) playing `tone`.
pub(super) fn console(root: &Path, server: &str, user: &str, tone: &Path) -> (Kill, ChildStdin) {
    let log = std::fs::File::create(root.join(format!("{user}.log"))).unwrap();
    let mut child = pbx()
        .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
        .args(["--server", server])
        .arg("--play")
        .arg(tone)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (Kill(child), stdin)
}

/// Polls `f` every 100 ms for at most `limit`.
fn wait_until<T>(what: &str, limit: Duration, root: &Path, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\npbx:\n{}",
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn spec_8_2_tickets_travel_across_two_blind_transfers_with_api_hold_and_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (hook_url, hooks) = receiver();
    let http = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let music = root.join("music.wav");
    write_tone(&music, 400.0, 3.0);
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\nmusic_on_hold = \"{}\"\n[media]\nanchor = \"always\"\n\
         [metrics]\nlisten = \"{http}\"\n\
         [[webhooks]]\nname = \"crm\"\nurl = \"{hook_url}\"\nsecret = \"{SECRET}\"\nmasked = false\n\
         events = [\"call.*\"]\n\
         [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n[[users]]\nname = \"2004\"\npassword = \"2004-pw\"\n",
        music.display()
    );
    let (_server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let tone = root.join("tone.wav");
    write_tone(&tone, 700.0, 30.0);
    let (_d, mut d_in) = console(root, &server, "2004", &tone);
    let (_c, mut c_in) = console(root, &server, "2003", &tone);
    let (_b, mut b_in) = console(root, &server, "2002", &tone);
    for aor in ["2004@127.0.0.1", "2003@127.0.0.1", "2002@127.0.0.1"] {
        wait_registered(&config, aor, root);
    }
    let (_a, mut a_in) = console(root, &server, "2001", &tone);
    std::thread::sleep(Duration::from_millis(500));
    let token = pbx_core::admin_token::read(&root.join("data")).expect("admin token");
    let call =
        |method: &str, path: &str, body: Option<Value>| api(&http, &token, method, path, body);
    let say = |w: &mut ChildStdin, line: &str| writeln!(w, "{line}").unwrap();
    let (http_ref, token_ref) = (&http, &token);
    let answered = |n: usize| {
        move || {
            let (s, v) = api(http_ref, token_ref, "GET", "/calls", None);
            assert_eq!(s, 200, "{v}");
            let items = v["items"].as_array()?.clone();
            let c = items.iter().find(|c| c["state"] == "answered")?;
            (c["legs"].as_u64()? as usize >= n).then(|| c["call_id"].as_str().unwrap().to_owned())
        }
    };

    say(&mut a_in, "dial 2002");
    std::thread::sleep(Duration::from_millis(1200));
    say(&mut b_in, "answer");
    let id = wait_until("B answers", Duration::from_secs(10), root, answered(2));
    // The CRM creates T1 while B talks to the customer; holds and unholds.
    let (s, v) = call(
        "POST",
        &format!("/calls/{id}/tickets"),
        Some(json!({"ticket_id": "T1", "flow": "Complaint", "customer_id": "K7", "agent": "2002"})),
    );
    assert_eq!((s, v["ticket_ids"].clone()), (201, json!(["T1"])), "{v}");
    let (s, v) = call("POST", &format!("/calls/{id}/hold"), None);
    assert_eq!((s, v["held"].clone()), (200, json!(true)), "{v}");
    std::thread::sleep(Duration::from_millis(1500));
    let (s, v) = call("POST", &format!("/calls/{id}/unhold"), None);
    assert_eq!((s, v["held"].clone()), (200, json!(false)), "{v}");
    let (s, v) = call("POST", &format!("/calls/{id}/unhold"), None);
    assert_eq!(
        (s, v["code"].clone()),
        (409, json!("conflict")),
        "not held: {v}"
    );
    std::thread::sleep(Duration::from_millis(500));
    // B transfers from the phone (REFER); C answers and creates T2.
    say(&mut b_in, "transfer 2003");
    std::thread::sleep(Duration::from_millis(1200));
    say(&mut c_in, "answer");
    wait_until("C answers", Duration::from_secs(10), root, || {
        let (_, v) = call("GET", &format!("/calls/{id}/tickets"), None);
        let hooks = hooks.lock().unwrap();
        let bridged = hooks
            .iter()
            .filter(|h| h["type"] == "call.bridged" && h["data"]["call_id"] == id.as_str())
            .count();
        (bridged >= 2 && v["call_id"] == id.as_str()).then_some(())
    });
    // C's own token (agent 2003, not a party the call was dialed to).
    let c_token = pbx_core::store::Store::open(&root.join("data").join("pbx.sqlite"))
        .unwrap()
        .create_token(
            "agent-2003",
            &["read".into(), "calls".into()],
            Some("2003"),
            1,
        )
        .unwrap()
        .1;
    let (s, v) = api(
        &http,
        &c_token,
        "POST",
        &format!("/calls/{id}/tickets"),
        Some(json!({"ticket_id": "T2", "flow": "Complaint"})),
    );
    assert_eq!(
        (s, v["ticket_ids"].clone()),
        (201, json!(["T1", "T2"])),
        "{v}"
    );
    // The CRM transfers C's call to D.
    let (s, v) = call(
        "POST",
        &format!("/calls/{id}/transfer"),
        Some(json!({"to": "2004"})),
    );
    assert_eq!((s, v["state"].clone()), (202, json!("transferring")), "{v}");
    std::thread::sleep(Duration::from_millis(1200));
    say(&mut d_in, "answer");
    let pops = wait_until("the three pops", Duration::from_secs(15), root, || {
        let pops: Vec<Value> = hooks
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h["type"] == "call.ringing" && h["data"]["call_id"] == id.as_str())
            .map(|h| h["data"].clone())
            .collect();
        (pops.len() >= 3).then_some(pops)
    });
    let agents: Vec<&str> = pops
        .iter()
        .map(|p| p["agent"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(agents, ["2002", "2003", "2004"], "{pops:#?}");
    let d = &pops[2]["carried_context"];
    assert_eq!(d["ticket_ids"], json!(["T1", "T2"]), "{d}");
    assert_eq!(d["from_agent"], "2003");
    assert_eq!(d["customer_id"], "K7");
    let c = &pops[1]["carried_context"];
    assert_eq!(
        (c["ticket_ids"].clone(), c["from_agent"].clone()),
        (json!(["T1"]), json!("2002")),
        "{c}"
    );
    std::thread::sleep(Duration::from_millis(800));
    say(&mut a_in, "hangup");
    // The record lists both tickets (one record, every leg of the call).
    let record = wait_until("the record", Duration::from_secs(10), root, || {
        let (s, v) = call("GET", &format!("/records/{id}"), None);
        (s == 200).then_some(v)
    });
    assert_eq!(record["ticket_ids"], json!(["T1", "T2"]), "{record}");
    assert_eq!(record["customer_id"], "K7");
    assert!(
        record["legs"].as_array().is_some_and(|l| l.len() >= 4),
        "{record}"
    );
    let kinds: Vec<String> = hooks
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h["data"]["call_id"] == id.as_str())
        .map(|h| h["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    for k in ["call.held", "call.resumed", "call.transferred"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    for w in [&mut a_in, &mut b_in, &mut c_in, &mut d_in] {
        let _ = writeln!(w, "quit");
    }
}
