//! IVR flows on live calls through `pbx serve` (B2BUA engine): dial-plan
//! route 500 → a flow; its http node POSTs to a real local HTTP server; its
//! transfer rings a registered user; `pbx ivr trace CALL_ID` (the CDR's call
//! id) shows the path, also after a kill -9 and a restart.
//!
//! The menu/collect test needs pbx's media endpoints (prompts, RFC 4733
//! digits on the caller's leg), built on the `endpoint` branch: it is
//! ignored until that branch is merged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{free_port, password, users_toml, Pbx};
use crate::proxy::{register_contact, TRUSTED};
use crate::require_sipp;

/// B2BUA with media anchored, `[ivr]` on `flows`, 500 → flow `entry`, users
/// 1001 and 1002 besides the base ones.
fn ivr_config(flows: &Path) -> String {
    let (base, top) = crate::harness::relay_range();
    format!(
        "{TRUSTED}\n[calls]\nengine = \"b2bua\"\nring_timeout_secs = 20\n\n\
         [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {base}\nport_max = {}\n\n\
         [ivr]\nflows_dir = \"{}\"\n\n\
         [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"entry\"\n{}",
        top,
        flows.display(),
        users_toml(&["1001", "1002"])
    )
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 answering every POST with
/// `{"name":"Ada"}`; returns its port and the request bodies it saw.
fn lookup_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP server");
    let port = listener.local_addr().expect("local addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            bodies
                .lock()
                .expect("bodies lock")
                .push(String::from_utf8_lossy(&body).into_owned());
            let answer = r#"{"name":"Ada"}"#;
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seen)
}

/// The call id of the newest CDR to `callee`, waiting up to 3 s.
fn call_id_to(pbx: &Pbx, callee: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = pbx.admin(&["cdr", "--csv"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let id = text.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.get(2) == Some(&callee)).then(|| f[0].to_owned())
        });
        match id {
            Some(id) => return id,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("no CDR to {callee}:\n{text}"),
        }
    }
}

/// `pbx ivr trace ID` once it succeeds (the writer commits every 100 ms).
fn trace(pbx: &Pbx, call_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = pbx.admin(&["ivr", "trace", call_id]);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "pbx ivr trace {call_id} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_in_order(text: &str, wanted: &[&str]) {
    let mut rest = text;
    for want in wanted {
        let at = rest
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing (in order) from:\n{text}"));
        rest = &rest[at + want.len()..];
    }
}

#[test]
fn http_node_and_transfer_are_traced_across_a_restart() {
    require_sipp!();
    let (http_port, bodies) = lookup_server();
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("entry.toml"),
        format!(
            "[flow]\nname = \"entry\"\n\
             [nodes.lookup]\ntype = \"http\"\nurl = \"http://127.0.0.1:{http_port}/lookup?caller=${{caller}}\"\n\
             timeout = \"2s\"\nmap = {{ name = \"/name\" }}\nexits = {{ ok = \"op\", error = \"bye\" }}\n\
             [nodes.op]\ntype = \"transfer\"\ntarget = \"ext:1002\"\n\
             [nodes.bye]\ntype = \"hangup\"\nreason = \"lookup_failed\"\n"
        ),
    )
    .expect("write the flow");
    let mut pbx = Pbx::start(&ivr_config(flows.path()));
    let port = free_port();
    register_contact(&pbx, "1002", port, false);
    let uas = pbx.sipp("b2b_uas").server().local_port(port).spawn();
    let uac = pbx.sipp("b2b_uac").service("500").run();
    let uas = uas.wait();
    uac.assert_both(
        "caller of 500: the IVR transfers it to 1002",
        &uas,
        "1002: called by the IVR's transfer",
    );
    let seen = bodies.lock().expect("bodies").clone();
    assert_eq!(seen.len(), 1, "one POST: {seen:?}");
    assert!(
        seen[0].contains(r#""caller":"caller""#) && seen[0].contains(r#""node":"lookup""#),
        "the call context is posted: {}",
        seen[0]
    );

    let id = call_id_to(&pbx, "500");
    let expected = [
        "flow entry (part 0)",
        "lookup         http       enter_node",
        &format!("callurl_result url=http://127.0.0.1:{http_port}/lookup?caller=caller status=200 result={{\"name\":\"Ada\"}}"),
        "exit_node exit=ok",
        "op             transfer   transfer (ext:1002)",
        "outcome: transfer to ext:1002",
    ];
    let before = trace(&pbx, &id);
    eprintln!("pbx ivr trace {id}:\n{before}");
    assert_in_order(&before, &expected);
    assert!(!before.contains("keys:"), "no key pressed: {before}");

    std::thread::sleep(Duration::from_millis(1200));
    pbx.kill9();
    pbx.restart();
    let after = trace(&pbx, &id);
    assert_eq!(
        after, before,
        "the trajectory survives kill -9 and a restart"
    );

    let unknown = pbx.admin(&["ivr", "trace", "c0000000000000000"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no IVR trajectory"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn rfc4733_digits_through_a_menu_and_a_collect_into_a_transfer() {
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("entry.toml"),
        format!(
            "[flow]\nname = \"entry\"\nprompts = \"{}\"\n\
             [nodes.menu]\ntype = \"menu\"\nprompts = [\"main_menu\"]\ntimeout = \"8s\"\n\
             exits = {{ \"1\" = \"account\", default = \"bye\" }}\n\
             [nodes.account]\ntype = \"collect\"\nprompts = [\"enter_account\"]\nvariable = \"account\"\n\
             min_digits = 4\nmax_digits = 4\nterminator = \"#\"\ntimeout = \"8s\"\n\
             exits = {{ ok = \"op\", fail = \"bye\" }}\n\
             [nodes.op]\ntype = \"transfer\"\ntarget = \"ext:1002\"\n\
             [nodes.bye]\ntype = \"hangup\"\nreason = \"no_choice\"\n",
            prompts.display()
        ),
    )
    .expect("write the flow");
    let mut pbx = Pbx::start(&ivr_config(flows.path()));
    let server = format!("127.0.0.1:{}", pbx.port);
    let phone = |user: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pbx"));
        cmd.args(["phone", "--user", user, "--password", &password(user)])
            .args(["--server", &server]);
        cmd
    };
    let bob_log = pbx.dir().join("1002.log");
    let log = std::fs::File::create(&bob_log).expect("log");
    let mut bob = phone("1002")
        .args(["answer", "--duration", "3s", "--wait", "40s"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn 1002");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pbx.registrations().contains("1002@127.0.0.1") {
        assert!(Instant::now() < deadline, "1002 never registered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut alice = phone("1001")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn 1001");
    let mut stdin = alice.stdin.take().expect("stdin");
    // Keys while each prompt plays (barge-in) or right after it.
    for (line, pause_ms) in [
        ("dial 500", 2500),
        ("dtmf 1", 2500),
        ("dtmf 4711#", 6000),
        ("hangup", 500),
        ("quit", 0),
    ] {
        writeln!(stdin, "{line}").expect("console");
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
    drop(stdin);
    let out = alice.wait_with_output().expect("1001 exits");
    let _ = bob.wait();
    let bob_text = std::fs::read_to_string(&bob_log).unwrap_or_default();
    assert!(
        bob_text.contains("connected"),
        "1002 answered the transfer:\n{bob_text}\n1001:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let id = call_id_to(&pbx, "500");
    let expected = [
        "flow entry (part 0)",
        "menu           menu       key_press key=1",
        "account        collect    exit_node exit=ok (4 digits)",
        "op             transfer   transfer (ext:1002)",
        "outcome: transfer to ext:1002",
        "keys: 1",
    ];
    let before = trace(&pbx, &id);
    eprintln!("pbx ivr trace {id}:\n{before}");
    assert_in_order(&before, &expected);
    assert!(!before.contains("4711"), "collected digits are not stored");
    std::thread::sleep(Duration::from_millis(1200));
    pbx.kill9();
    pbx.restart();
    assert_eq!(trace(&pbx, &id), before);
}

/// Blind transfer into the IVR: 1001 calls 1002, 1002 answers and transfers
/// (REFER) to 500; the IVR takes 1001 over (re-INVITE with pbx's media),
/// 1001's RFC 4733 key reaches the menu through the relay, and the flow
/// hangs up. One CDR (to 1002) and the trajectory under its call id.
#[test]
fn blind_transfer_into_the_ivr_number() {
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("entry.toml"),
        format!(
            "[flow]\nname = \"entry\"\nprompts = \"{}\"\n\
             [nodes.menu]\ntype = \"menu\"\nprompts = [\"main_menu\"]\ntimeout = \"8s\"\n\
             exits = {{ \"1\" = \"one\", default = \"bye\" }}\n\
             [nodes.one]\ntype = \"hangup\"\nreason = \"pressed_one\"\n\
             [nodes.bye]\ntype = \"hangup\"\nreason = \"no_choice\"\n",
            prompts.display()
        ),
    )
    .expect("write the flow");
    let pbx = Pbx::start(&ivr_config(flows.path()));
    let server = format!("127.0.0.1:{}", pbx.port);
    let console = |user: &str| {
        Command::new(env!("CARGO_BIN_EXE_pbx"))
            .args(["phone", "--user", user, "--password", &password(user)])
            .args(["--server", &server])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a console phone")
    };
    let mut bob = console("1002");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pbx.registrations().contains("1002@127.0.0.1") {
        assert!(Instant::now() < deadline, "1002 never registered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut alice = console("1001");
    let mut alice_in = alice.stdin.take().expect("stdin");
    let mut bob_in = bob.stdin.take().expect("stdin");
    let steps: [(bool, &str, u64); 6] = [
        (true, "dial 1002", 1500),
        (false, "answer", 1500),
        (false, "transfer 500", 2500),
        (true, "dtmf 1", 2500),
        (true, "quit", 0),
        (false, "quit", 0),
    ];
    for (to_alice, line, pause_ms) in steps {
        let input = if to_alice { &mut alice_in } else { &mut bob_in };
        writeln!(input, "{line}").expect("console");
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
    drop((alice_in, bob_in));
    let alice_out = alice.wait_with_output().expect("1001 exits");
    let bob_out = bob.wait_with_output().expect("1002 exits");
    let (alice_text, bob_text) = (
        String::from_utf8_lossy(&alice_out.stdout).into_owned(),
        String::from_utf8_lossy(&bob_out.stdout).into_owned(),
    );
    let both = format!("1001:\n{alice_text}\n1002:\n{bob_text}");
    assert!(bob_text.contains("transfer: 200"), "{both}");

    let id = call_id_to(&pbx, "1002");
    let text = trace(&pbx, &id);
    eprintln!("pbx ivr trace {id}:\n{text}");
    assert_in_order(
        &text,
        &[
            "flow entry (part 0)",
            "menu           menu       key_press key=1",
            "outcome: hangup (pressed_one)",
            "keys: 1",
        ],
    );
    let out = pbx.admin(&["cdr", "--csv"]);
    let cdrs = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<&str> = cdrs.lines().filter(|l| l.starts_with(&id)).collect();
    assert_eq!(rows.len(), 1, "one record for the whole call:\n{cdrs}");
    assert!(rows[0].contains("ANSWERED"), "{cdrs}");
}

/// The README's "Try the IVR" walkthrough on the documented config
/// (`fixtures/ivr-demo.toml`; only ports, data dir and the flows path are
/// adapted) with the documented phone command: 500 answers, the 9 typed
/// during the welcome leads to voicemail in and out of business hours, the
/// phone hears the prompts, `pbx ivr trace` shows both flow parts.
#[test]
fn readme_ivr_demo_config_answers_500() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let demo = std::fs::read_to_string(fixtures.join("ivr-demo.toml")).expect("the demo config");
    let (relay, _) = crate::harness::relay_range();
    let flows = fixtures.join("ivr");
    let pbx = Pbx::start_config(|port, data| {
        let mut text = demo.clone();
        for (from, to) in [
            ("127.0.0.1:5060", format!("127.0.0.1:{port}")),
            (
                "[server]\n",
                format!("[server]\ndata_dir = \"{}\"\n", data.display()),
            ),
            (
                "flows_dir = \"ivr\"",
                format!("flows_dir = \"{}\"", flows.display()),
            ),
            ("listen = \"127.0.0.1:9060\"", "listen = \"off\"".into()),
            ("port_min = 30000", format!("port_min = {relay}")),
            ("port_max = 30999", format!("port_max = {}", relay + 49)),
            (
                "endpoint_port_min = 40000",
                format!("endpoint_port_min = {}", relay + 50),
            ),
            (
                "endpoint_port_max = 40999",
                format!("endpoint_port_max = {}", relay + 99),
            ),
        ] {
            assert!(text.contains(from), "ivr-demo.toml no longer has {from:?}");
            text = text.replace(from, &to);
        }
        text
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let heard = pbx.dir().join("heard.wav");
    let server = format!("127.0.0.1:{}", pbx.port);
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .current_dir(&root)
        .args(["phone", "--user", "1001", "--password", "1001-demo"])
        .args(["--server", &server, "call", "500", "--dtmf", "9"])
        .args(["--duration", "12s", "--play", "fixtures/prompts/thanks.wav"])
        .arg("--record")
        .arg(&heard)
        .output()
        .expect("run pbx phone");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the call connects:\n{text}");
    let received: u32 = text
        .split("received ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // At least the voicemail intro (0.66 s, 33 packets) and the beep.
    assert!(received >= 25, "the phone heard the prompts:\n{text}");
    assert!(heard.exists(), "{text}");

    let id = call_id_to(&pbx, "500");
    let trace = trace(&pbx, &id);
    eprintln!("pbx ivr trace {id}:\n{trace}");
    assert_in_order(
        &trace,
        &[
            "flow main (part 0)",
            "welcome        play       enter_node",
            "hours          condition  exit_node",
            "outcome: transfer to flow:voicemail",
            "flow voicemail (part 1)",
            "record         record     enter_node",
        ],
    );
}

/// Call ids of the CDRs to `callee`, newest first, once there are `n`.
fn call_ids_to(pbx: &Pbx, callee: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = pbx.admin(&["cdr", "--csv"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ids: Vec<String> = text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f.get(2) == Some(&callee)).then(|| f[0].to_owned())
            })
            .collect();
        if ids.len() >= n {
            return ids;
        }
        assert!(Instant::now() < deadline, "{n} CDRs to {callee}? {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `pbx reload` after the flow file turned invalid reports the error with
/// its position and fails; calls keep the old flow. Once the file is fixed,
/// `pbx reload` succeeds and the next call runs the new version.
#[test]
fn pbx_reload_reports_a_positioned_error_and_keeps_the_old_flow() {
    require_sipp!();
    let flows = tempfile::tempdir().expect("tempdir");
    let file = flows.path().join("entry.toml");
    let version = |node: &str| {
        format!("[flow]\nname = \"entry\"\n[nodes.{node}]\ntype = \"transfer\"\ntarget = \"ext:1002\"\n")
    };
    std::fs::write(&file, version("old_op")).expect("write the flow");
    let metrics = free_port();
    let pbx = Pbx::start_with_metrics(&ivr_config(flows.path()), &format!("127.0.0.1:{metrics}"));
    let call = |what: &str| {
        let port = free_port();
        register_contact(&pbx, "1002", port, false);
        let uas = pbx.sipp("b2b_uas").server().local_port(port).spawn();
        let uac = pbx.sipp("b2b_uac").service("500").run();
        uac.assert_both(what, &uas.wait(), "1002, called by the flow's transfer");
    };
    call("caller of 500 on the first flow");

    std::fs::write(
        &file,
        "[flow]\nname = \"entry\"\n[nodes.old_op]\ntype = \"tranfser\"\n",
    )
    .expect("write the invalid flow");
    let out = pbx.admin(&["reload"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a refused file fails: {text}");
    assert!(
        text.contains(&format!("{}:4:8: error:", file.display())) && text.contains("tranfser"),
        "the error has its position: {text}"
    );
    assert!(text.contains("flows in service: entry"), "{text}");
    call("caller of 500 while the file is invalid");

    std::fs::write(&file, version("new_op")).expect("write the fixed flow");
    let out = pbx.admin(&["reload"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reload of the fixed file: {text}");
    assert!(
        text.contains(&format!("ok     {} (flow entry)", file.display())),
        "{text}"
    );
    call("caller of 500 on the fixed flow");

    let ids = call_ids_to(&pbx, "500", 3);
    let nodes: Vec<bool> = ids[..3]
        .iter()
        .map(|id| trace(&pbx, id).contains("new_op"))
        .collect();
    assert_eq!(
        nodes,
        [true, false, false],
        "newest first: only the call after the fixed reload ran the new version"
    );
    for id in &ids[1..3] {
        assert_in_order(
            &trace(&pbx, id),
            &["old_op", "outcome: transfer to ext:1002"],
        );
    }

    // No admin token, wrong token, wrong method, wrong path: a 4xx with a
    // JSON body (only GET /metrics is open).
    let token = pbx_core::admin_token::read(&pbx.dir().join("data")).expect("the admin token");
    let bearer = format!("Authorization: Bearer {token}\r\n");
    for (request, auth, status) in [
        ("POST /reload", "", 401),
        ("GET /calls", "Authorization: Bearer nope\r\n", 401),
        ("GET /reload", bearer.as_str(), 405),
        ("POST /nowhere", "", 404),
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics)).expect("connect");
        write!(s, "{request} HTTP/1.0\r\n{auth}Content-Length: 0\r\n\r\n").expect("send");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        assert!(
            resp.starts_with(&format!("HTTP/1.1 {status}"))
                || resp.starts_with(&format!("HTTP/1.0 {status}")),
            "{resp}"
        );
        let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(json["error"].is_string(), "{resp}");
    }
}

/// `pbx ivr simulate --ca-file`: a CA file that cannot be read is a clear
/// error before the flow runs, not a failure of some http node later.
#[test]
fn ivr_simulate_reports_an_unreadable_ca_file() {
    let flow = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/ivr/main.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["ivr", "simulate"])
        .arg(&flow)
        .args(["--ca-file", "/nonexistent/ca.pem"])
        .output()
        .expect("run pbx");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ca-file") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
}
