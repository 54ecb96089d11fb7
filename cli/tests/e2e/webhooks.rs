//! CRM webhooks from the real `pbx serve`: a sipp call to a registered user
//! gives `call.created`, the screen-pop `call.ringing`, `call.answered` and
//! `call.ended` (with the record) in order, signed; a kill -9 with
//! undelivered events loses none; `pbx webhooks list|replay|dead`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbx_core::store::{OutboxEvent, Store};
use pbx_core::webhooks::signature::{verify, Secret};
use serde_json::{json, Value};

use std::path::Path;
use std::process::{Command, Stdio};

use pbx_core::b2bua::cdr::{CallRecord, LegRecord};

use crate::harness::{free_port, password, users_toml, Pbx};
use crate::proxy::{register_contact, TRUSTED};
use crate::require_sipp;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One accepted webhook: its id and body, in arrival order.
#[derive(Debug, Clone)]
pub(crate) struct Hook {
    pub(crate) id: String,
    pub(crate) body: Value,
    /// When it arrived (Unix ms).
    pub(crate) at_ms: u64,
}

/// A minimal HTTP/1.1 webhook receiver on 127.0.0.1 (keep-alive, one
/// thread per connection): checks every signature, answers 200 after
/// `delay`.
pub(crate) struct HookReceiver {
    pub(crate) addr: SocketAddr,
    pub(crate) hooks: Arc<Mutex<Vec<Hook>>>,
}

impl HookReceiver {
    pub(crate) fn start(port: u16, delay: Duration) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let hooks: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let seen = hooks.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let seen = seen.clone();
                std::thread::spawn(move || serve(conn, &seen, delay));
            }
        });
        Self { addr, hooks }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub(crate) fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().expect("hooks").clone()
    }

    /// Waits (bounded) until `done(hooks)` holds.
    pub(crate) fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&[Hook]) -> bool) {
        let start = Instant::now();
        loop {
            let hooks = self.hooks();
            if done(&hooks) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; got {:#?}",
                hooks.iter().map(|h| &h.id).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Hook>>, delay: Duration) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
    let mut conn = conn;
    loop {
        let mut headers = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let h = |k: &str| headers.get(k).cloned().unwrap_or_default();
        let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
        let ts: i64 = ts.parse().expect("webhook-timestamp");
        let secret = Secret::parse(SECRET).expect("secret");
        assert!(
            verify(&secret, &h("webhook-signature"), &id, ts, &body),
            "signature of {id}"
        );
        std::thread::sleep(delay);
        let json: Value = serde_json::from_slice(&body).expect("JSON body");
        seen.lock().expect("hooks").push(Hook {
            id,
            body: json,
            at_ms: unix_ms(),
        });
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn webhooks_toml(url: &str, masked: bool) -> String {
    format!(
        "[[webhooks]]\nname = \"crm\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nmasked = {masked}\n\n\
         [webhook_delivery]\ntimeout_ms = 2000\nretry_base_ms = 50\nretry_max_delay_s = 1\npoll_interval_ms = 10\n"
    )
}

fn b2bua_toml() -> String {
    let (base, top) = crate::harness::relay_range();
    format!(
        "{TRUSTED}\n[calls]\nengine = \"b2bua\"\nring_timeout_secs = 20\n\n\
         [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {base}\nport_max = {top}\n"
    )
}

#[test]
fn a_call_pops_and_its_events_arrive_in_order() {
    require_sipp!();
    let rx = HookReceiver::start(0, Duration::ZERO);
    let pbx = Pbx::start(&format!(
        "{}\n{}",
        b2bua_toml(),
        webhooks_toml(&rx.url(), false)
    ));
    let mut call_ids = Vec::new();
    for n in 1..=2 {
        let port = free_port();
        register_contact(&pbx, "bob", port, false);
        let uas = pbx.sipp("b2b_uas").server().local_port(port).spawn();
        let uac = pbx.sipp("b2b_uac").service("bob").run();
        uac.assert_both("caller", &uas.wait(), "callee");
        rx.wait_for("call.ended", Duration::from_secs(10), |h| {
            h.iter().filter(|h| h.body["type"] == "call.ended").count() == n
        });
        let hooks = rx.hooks();
        let ended = hooks
            .iter()
            .rev()
            .find(|h| h.body["type"] == "call.ended")
            .expect("ended");
        let call = ended.body["data"]["call_id"]
            .as_str()
            .expect("call id")
            .to_owned();
        let kinds: Vec<&str> = hooks
            .iter()
            .filter(|h| h.body["data"]["call_id"] == call.as_str())
            .map(|h| h.body["type"].as_str().unwrap_or_default())
            .filter(|k| {
                [
                    "call.created",
                    "call.ringing",
                    "call.answered",
                    "call.ended",
                ]
                .contains(k)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "call.created",
                "call.ringing",
                "call.answered",
                "call.ended"
            ],
            "call {call}"
        );
        let pop = hooks
            .iter()
            .find(|h| h.id == format!("pop_{call}_ring"))
            .expect("the pop")
            .body["data"]
            .clone();
        assert_eq!(pop["caller"], "caller", "{pop}");
        assert_eq!(pop["agent"], "bob");
        assert_eq!(pop["service_number"], "bob");
        assert_eq!(pop["direction"], "inbound", "the caller is no local user");
        assert_eq!(pop["customer_match"]["status"], "unknown", "no lookup hook");
        assert!(pop["ring_at"].as_str().is_some_and(|t| t.ends_with('Z')));
        if n == 2 {
            assert_eq!(pop["last_call"]["call_id"], call_ids[0], "{pop}");
            assert_eq!(pop["last_call"]["outcome"], "ANSWERED");
        } else {
            assert!(pop["last_call"].is_null());
        }
        assert_eq!(ended.body["data"]["record"]["disposition"], "ANSWERED");
        call_ids.push(call);
    }
    let out = pbx.admin(&["webhooks", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("crm") && text.contains("active"),
        "{text}"
    );
}

/// `count` calls of three events each, straight into the outbox (as the
/// engine's driver writes them).
fn write_outbox(db: &std::path::Path, calls: usize) -> Vec<String> {
    let mut store = Store::open(db).expect("store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let mut ids = Vec::new();
    for step in 0..3 {
        let rows: Vec<OutboxEvent> = (0..calls)
            .map(|c| {
                let call = format!("c{c:016x}");
                let kind = ["call.created", "call.answered", "call.hangup_test"][step];
                OutboxEvent {
                    event_id: format!("evt_{call}_{step}"),
                    call_id: call,
                    kind: kind.into(),
                    at_ms: now + step as u64,
                    payload: json!({ "step": step }),
                }
            })
            .collect();
        ids.extend(rows.iter().map(|r| r.event_id.clone()));
        store.insert_events(&rows).expect("outbox rows");
    }
    ids
}

fn pending_of(pbx: &Pbx) -> Option<u64> {
    let out = pbx.admin(&["webhooks", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = text.lines().find(|l| l.contains(" crm "))?;
    row.split_whitespace().nth(5)?.parse().ok()
}

#[test]
fn kill_9_with_undelivered_events_loses_none_and_keeps_the_order() {
    const CALLS: usize = 20;
    // The receiver is down at first (nothing listens on its port).
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let mut pbx = Pbx::start(&format!("{}\n{}", b2bua_toml(), webhooks_toml(&url, true)));
    let db = pbx.dir().join("data/pbx.sqlite");
    let ids = write_outbox(&db, CALLS);
    let start = Instant::now();
    while pending_of(&pbx) != Some(3 * CALLS as u64) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "all 60 queued: {:?}",
            pending_of(&pbx)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The receiver comes up, slow; pbx dies mid-way.
    let rx = HookReceiver::start(port, Duration::from_millis(40));
    rx.wait_for("a third delivered", Duration::from_secs(15), |h| {
        h.len() >= CALLS
    });
    pbx.kill9();
    let before = rx.hooks().len();
    assert!(before < 3 * CALLS, "killed before the end ({before})");
    pbx.restart();
    rx.wait_for("every event", Duration::from_secs(20), |h| {
        ids.iter().all(|id| h.iter().any(|x| &x.id == id))
    });
    let hooks = rx.hooks();
    let mut first_seen: HashMap<String, Vec<String>> = HashMap::new();
    for h in &hooks {
        let call = h.body["data"]["call_id"]
            .as_str()
            .expect("call id")
            .to_owned();
        let list = first_seen.entry(call).or_default();
        if !list.contains(&h.id) {
            list.push(h.id.clone());
        }
        assert!(
            h.body["data"].get("step").is_some(),
            "body as stored: {}",
            h.body
        );
    }
    for c in 0..CALLS {
        let call = format!("c{c:016x}");
        let expected: Vec<String> = (0..3).map(|s| format!("evt_{call}_{s}")).collect();
        assert_eq!(first_seen[&call], expected, "call {call} in order");
    }
    // At-least-once: only what was in flight at the kill comes twice.
    let dups = hooks.len() - 3 * CALLS;
    assert!(
        dups <= 8,
        "{dups} duplicates (at most the 8 attempts in flight)"
    );
    let start = Instant::now();
    while pending_of(&pbx) != Some(0) {
        assert!(start.elapsed() < Duration::from_secs(5), "nothing pending");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Replay: everything of the last hour goes out again.
    let out = pbx.admin(&["webhooks", "replay", "--since", "1h"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("60 deliveries queued"));
    let total = hooks.len();
    rx.wait_for("the replay", Duration::from_secs(20), |h| {
        h.len() >= total + 3 * CALLS
    });
    let out = pbx.admin(&["webhooks", "dead"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no dead letters"));
}

/// Yesterday's answered call of `caller`, as its record.
fn yesterdays_call(caller: &str) -> CallRecord {
    let start_ms = unix_ms() - 86_400_000;
    CallRecord {
        call_id: "c00000000000beef".into(),
        caller: caller.into(),
        callee: "500".into(),
        direction: "inbound".into(),
        did: None,
        trunk: None,
        caller_e164: None,
        callee_e164: None,
        start_ms,
        ring_ms: Some(start_ms + 100),
        answer_ms: Some(start_ms + 900),
        end_ms: start_ms + 60_000,
        duration_s: 60,
        billsec: 60,
        disposition: "ANSWERED".into(),
        hangup_cause: "call.normal".into(),
        hangup_side: "caller".into(),
        hold_s: 0,
        legs: vec![
            LegRecord {
                leg: 0,
                sip_call_id: "y1@test".into(),
                party: format!("sip:{caller}@127.0.0.1"),
                status: 200,
                codec: None,
            },
            LegRecord {
                leg: 1,
                sip_call_id: "y2@test".into(),
                party: "sip:2002@127.0.0.1".into(),
                status: 200,
                codec: None,
            },
        ],
    }
}

/// SPEC §7 acceptance: a second call from a number that called yesterday,
/// through an IVR menu (key 2) into queue `support`: the agent's pop has
/// yesterday's call as `last_call`, the key path `2`, the caller region of
/// the prefix table, the skill group and agent, and it arrives before the
/// agent answers.
#[test]
fn spec_7_pop_of_a_queued_caller_with_key_path_region_and_last_call() {
    require_sipp!();
    const CALLER: &str = "13812345678";
    let rx = HookReceiver::start(0, Duration::ZERO);
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("entry.toml"),
        format!(
            "[flow]\nname = \"entry\"\nprompts = \"{}\"\n\
             [nodes.menu]\ntype = \"menu\"\nprompts = [\"main_menu\"]\ntimeout = \"8s\"\n\
             exits = {{ \"2\" = \"support\", default = \"bye\" }}\n\
             [nodes.support]\ntype = \"transfer\"\ntarget = \"queue:support\"\n\
             [nodes.bye]\ntype = \"hangup\"\nreason = \"no_choice\"\n",
            prompts.display()
        ),
    )
    .expect("write the flow");
    let (relay, _) = crate::harness::relay_range();
    let metrics = format!("127.0.0.1:{}", free_port());
    let pbx = Pbx::start_with_metrics(
        &format!(
            "{TRUSTED}\n[calls]\nengine = \"b2bua\"\n\n\
             [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {relay}\nport_max = {}\n\
             endpoint_port_min = {}\nendpoint_port_max = {}\nprompts_dir = \"{}\"\n\n\
             [ivr]\nflows_dir = \"{}\"\n\n\
             [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"entry\"\n\n\
             [[queues]]\nname = \"support\"\nring_timeout_s = 10\nwrap_up_s = 1\n\n\
             [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n\n{}\n{}",
            relay + 49,
            relay + 50,
            relay + 99,
            prompts.display(),
            flows.path().display(),
            webhooks_toml(&rx.url(), false),
            users_toml(&[CALLER, "2002"]),
        ),
        &metrics,
    );
    Store::open(&pbx.dir().join("data/pbx.sqlite"))
        .expect("store")
        .insert_cdrs(&[yesterdays_call(CALLER)])
        .expect("yesterday's record");
    let login = pbx.admin(&["agents", "login", "2002"]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let server = format!("127.0.0.1:{}", pbx.port);
    let phone = |user: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pbx"))
            .args(["phone", "--user", user, "--password", &password(user)])
            .args(["--server", &server])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pbx phone")
    };
    // The agent's phone: sipp rings (180), answers 200 ms later.
    let agent_port = free_port();
    register_contact(&pbx, "2002", agent_port, false);
    let agent = pbx.sipp("b2b_uas").server().local_port(agent_port).spawn();
    let caller = phone(CALLER, &["call", "500", "--dtmf", "2", "--duration", "4s"])
        .wait_with_output()
        .expect("caller exits");
    let agent = agent.wait();
    assert!(
        caller.status.success(),
        "caller:\n{}",
        String::from_utf8_lossy(&caller.stderr)
    );
    agent.assert_ok("the agent's phone answered the queue's offer");
    rx.wait_for("the pop and queue.connect", Duration::from_secs(10), |h| {
        h.iter().any(|h| h.body["type"] == "call.ringing")
            && h.iter().any(|h| h.body["type"] == "queue.connect")
    });
    let hooks = rx.hooks();
    let pop = hooks
        .iter()
        .find(|h| h.body["type"] == "call.ringing")
        .expect("pop");
    let d = &pop.body["data"];
    assert_eq!(d["caller"], CALLER, "{d}");
    assert_eq!(d["agent"], "2002");
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["skill_group"]["name"], "support");
    assert_eq!(d["caller_region"], "China Beijing (China Mobile)");
    assert_eq!(d["ivr_key_path"]["summary"], "2", "{d}");
    assert_eq!(d["ivr_key_path"]["steps"][0]["key"], "2");
    assert_eq!(d["ivr_key_path"]["steps"][0]["node"], "menu");
    assert_eq!(d["last_call"]["call_id"], "c00000000000beef");
    assert_eq!(d["last_call"]["agent"], "2002");
    assert_eq!(d["customer_match"]["status"], "unknown");
    let connect = hooks
        .iter()
        .find(|h| h.body["type"] == "queue.connect")
        .expect("connect");
    let answered_at = connect.body["data"]["at_unix_ms"]
        .as_u64()
        .expect("at_unix_ms");
    assert!(
        pop.at_ms < answered_at,
        "the pop ({}) arrived before the agent answered ({answered_at})",
        pop.at_ms
    );
    assert_eq!(connect.body["data"]["call_id"], d["call_id"]);
}
