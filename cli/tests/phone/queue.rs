//! A queue call end to end: `pbx serve` with queue `support` (600) and
//! agent 2002, a `pbx phone` agent logged in with `pbx agents login`, a
//! `pbx phone` caller dialing 600: the caller is answered at once (music),
//! the agent's phone rings and answers, they hear each other's tones, and
//! `pbx queues stats support` counts the call offered and answered. The
//! agent's state survives a kill -9 of the server.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::{assert_hears, pbx, restart_server, start_server_with, wait_registered, Kill};

pub(super) fn admin(config: &Path, args: &[&str]) -> Output {
    pbx()
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

pub(super) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `pbx queues stats support` once it shows `want` (events are committed
/// within the writer's round; a loaded machine takes longer), or after 5 s.
fn stats_showing(config: &Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = stdout(&admin(config, &["queues", "stats", "support"]));
        if text.contains(want) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn agent_state(config: &Path, agent: &str) -> String {
    let out = admin(config, &["agents"]);
    stdout(&out)
        .lines()
        .find(|l| l.starts_with(&format!("{agent}\t")))
        .and_then(|l| l.split('\t').nth(1))
        .unwrap_or_default()
        .to_owned()
}

/// A running `pbx serve` for these tests: B2BUA with the relay, the admin
/// listener on a free port, `tail` (dial plan, queues, agents) after it.
pub(super) struct QueueServer {
    pub(super) server: Kill,
    port: u16,
    pub(super) config: std::path::PathBuf,
    metrics: std::net::SocketAddr,
}

impl QueueServer {
    /// Starts it and waits until `pbx agents` answers (with `probe`, an
    /// agent of `tail`; None: a short pause).
    pub(super) fn start(root: &Path, tail: &str, probe: Option<&str>) -> Self {
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
        let extra = format!(
            "[calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\nprompts_dir = \"{}\"\n\
             [metrics]\nlisten = \"{metrics}\"\n{tail}",
            prompts.display()
        );
        let (server, port, config) = start_server_with(root, &extra);
        match probe {
            Some(agent) => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while agent_state(&config, agent).is_empty() {
                    assert!(Instant::now() < deadline, "pbx agents never answered");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            None => std::thread::sleep(Duration::from_millis(500)),
        }
        Self {
            server,
            port,
            config,
            metrics,
        }
    }

    pub(super) fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// `pbx phone` as `user` (password `USER-pw`) at `target`; the mode follows.
pub(super) fn phone_cmd(target: &str, user: &str) -> std::process::Command {
    let mut cmd = pbx();
    cmd.args(["phone", "--user", user, "--password", &format!("{user}-pw")])
        .args(["--server", target]);
    cmd
}

/// A one-shot `pbx phone` (`mode`: `answer …` or `call …`) logging to `log`.
pub(super) fn phone(root: &Path, target: &str, user: &str, mode: &[&str], log: &str) -> Kill {
    let log = std::fs::File::create(root.join(log)).unwrap();
    Kill(
        phone_cmd(target, user)
            .args(mode)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

#[test]
fn a_caller_in_the_queue_reaches_the_logged_in_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 10\nwrap_up_s = 2\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n",
        Some("2002"),
    );
    let (config, target, metrics) = (srv.config.clone(), srv.target(), srv.metrics);
    assert_eq!(agent_state(&config, "2002"), "logged_out");
    let bad = admin(&config, &["agents", "login", "nobody"]);
    assert!(!bad.status.success());
    let login = admin(&config, &["agents", "login", "2002"]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    assert_eq!(agent_state(&config, "2002"), "available");
    let queues = stdout(&admin(&config, &["queues"]));
    assert!(queues.contains("support\t0\t1\t1\t1\t"), "{queues}");

    let (tone_c, tone_a) = (root.join("c.wav"), root.join("a.wav"));
    write_tone(&tone_c, 440.0, 12.0);
    write_tone(&tone_a, 1000.0, 12.0);
    let (heard_c, heard_a) = (root.join("c-heard.wav"), root.join("a-heard.wav"));
    let agent_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut agent = Kill(
        phone_cmd(&target, "2002")
            .args(["answer", "--duration", "4s", "--wait", "20s"])
            .arg("--play")
            .arg(&tone_a)
            .arg("--record")
            .arg(&heard_a)
            .stdin(Stdio::null())
            .stdout(agent_log.try_clone().unwrap())
            .stderr(agent_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let caller = phone_cmd(&target, "2001")
        .args(["call", "600", "--duration", "8s"])
        .arg("--play")
        .arg(&tone_c)
        .arg("--record")
        .arg(&heard_c)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let agent_status = agent.0.wait().unwrap();
    let agent_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    let pbx_text = std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    let caller_text = String::from_utf8_lossy(&caller.stderr).into_owned();
    assert!(
        caller.status.success(),
        "caller connected:\n{caller_text}\nagent:\n{agent_text}\npbx:\n{pbx_text}"
    );
    assert!(
        agent_status.success(),
        "the agent answered:\n{agent_text}\npbx:\n{pbx_text}"
    );
    // The agent talked 4 s and hung up; both heard the other's tone.
    assert_hears(&heard_a, 440.0, 1000.0, "agent");
    assert_hears(&heard_c, 1000.0, 440.0, "caller");

    // Wrap-up (2 s), then available again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent_state(&config, "2002") != "available" {
        assert!(Instant::now() < deadline, "agent never left wrap-up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = stats_showing(&config, "offered\t1\n");
    assert!(stats.contains("offered\t1\n"), "{stats}");
    assert!(stats.contains("answered\t1\n"), "{stats}");
    assert!(stats.contains("answer rate\t100.00 %"), "{stats}");
    assert!(stats.contains("average abandoned wait\t—"), "{stats}");

    // Prometheus: per queue and per agent.
    let metrics_text = {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(metrics).unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        text
    };
    for want in [
        "pbx_queue_connected_total{queue=\"support\"} 1",
        "pbx_queue_agents_logged_in{queue=\"support\"} 1",
        "pbx_agent_state{agent=\"2002\",state=\"available\"} 1",
    ] {
        assert!(metrics_text.contains(want), "{want} in:\n{metrics_text}");
    }

    // Feature codes from the agent's own phone: *52 break, *53 ready.
    for (code, want) in [("*52", "break"), ("*53", "available")] {
        let out = phone_cmd(&target, "2002")
            .args(["call", code, "--duration", "4s"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(agent_state(&config, "2002"), want, "after {code}");
    }

    // kill -9 and restart: the agent's state (a break) is kept.
    let admin_break = admin(&config, &["agents", "break", "2002", "--reason", "lunch"]);
    assert!(admin_break.status.success());
    // The state change is committed within the writer's 100 ms round.
    std::thread::sleep(Duration::from_millis(500));
    drop(srv.server);
    let _server = restart_server(root, &config);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = agent_state(&config, "2002");
        if state == "break" {
            break;
        }
        assert!(Instant::now() < deadline, "state after restart: {state}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn callers_who_give_up_are_missed_calls_and_repeat_callers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[queues]]\nname = \"support\"\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n",
        Some("2002"),
    );
    let (config, target) = (&srv.config, srv.target());
    // Nobody is logged in: two calls wait 2 s each and give up.
    for _ in 0..2 {
        let out = phone_cmd(&target, "2001")
            .args(["call", "600", "--duration", "2s"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Each abandon is committed within the writer's round after pbx saw the BYE.
    let deadline = Instant::now() + Duration::from_secs(5);
    let missed = loop {
        let text = stdout(&admin(config, &["missed"]));
        if text.lines().count() >= 3 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let rows: Vec<&str> = missed.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{missed}");
    assert!(
        rows.iter().all(|r| r.contains("\t2001\tsupport\t")),
        "{missed}"
    );
    let repeat = stdout(&admin(config, &["repeat-callers", "--days", "1"]));
    assert!(repeat.contains("2001\t2\t0\t2\t"), "{repeat}");
    let bad = admin(config, &["repeat-callers", "--days", "5"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("choose 1, 2, 3, 7 or 14"));
    let stats = stats_showing(config, "abandoned\t2\n");
    assert!(stats.contains("abandoned\t2\n"), "{stats}");
    assert!(stats.contains("answer rate\t0.00 %"), "{stats}");
}

#[test]
fn an_offer_that_rings_unanswered_moves_on_to_the_next_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\npriority = 3\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 2\nretry_delay_s = 1\n\
         [[agents]]\nname = \"2001\"\nskills = [\"support:5\"]\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n\
         [[users]]\nname = \"1001\"\npassword = \"1001-pw\"\n",
        Some("2001"),
    );
    let (config, target) = (&srv.config, srv.target());
    // 2001 logs in first (longest idle) but its console never answers.
    assert!(admin(config, &["agents", "login", "2001"]).status.success());
    std::thread::sleep(Duration::from_millis(50));
    assert!(admin(config, &["agents", "login", "2002"]).status.success());
    let silent_log = std::fs::File::create(root.join("silent.log")).unwrap();
    let _silent = Kill(
        phone_cmd(&target, "2001")
            .stdin(Stdio::piped())
            .stdout(silent_log.try_clone().unwrap())
            .stderr(silent_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(config, "2001@127.0.0.1", root);
    let mut answering = phone(
        root,
        &target,
        "2002",
        &["answer", "--duration", "2s", "--wait", "20s"],
        "bob.log",
    );
    wait_registered(config, "2002@127.0.0.1", root);
    let caller = phone_cmd(&target, "1001")
        .args(["call", "600", "--duration", "8s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        caller.status.success(),
        "{}",
        String::from_utf8_lossy(&caller.stderr)
    );
    let status = answering.0.wait().unwrap();
    assert!(
        status.success(),
        "2002 answered after 2001 rang out:\n{}\npbx:\n{}",
        std::fs::read_to_string(root.join("bob.log")).unwrap_or_default(),
        std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
    );
    let silent = std::fs::read_to_string(root.join("silent.log")).unwrap_or_default();
    assert!(
        silent.contains("incoming call"),
        "2001 rang first:\n{silent}"
    );
    let stats = stats_showing(config, "answered\t1\n");
    assert!(stats.contains("answered\t1\n"), "{stats}");
}

#[test]
fn a_caller_past_max_wait_overflows_to_the_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[queues]]\nname = \"support\"\nlimits = { max_wait_s = 2, overflow = \"extension:2002\" }\n",
        None,
    );
    let (config, target) = (&srv.config, srv.target());
    let mut backup = phone(
        root,
        &target,
        "2002",
        &["answer", "--duration", "2s", "--wait", "20s"],
        "bob.log",
    );
    wait_registered(config, "2002@127.0.0.1", root);
    let started = Instant::now();
    let caller = phone_cmd(&target, "2001")
        .args(["call", "600", "--duration", "8s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        caller.status.success(),
        "{}",
        String::from_utf8_lossy(&caller.stderr)
    );
    let status = backup.0.wait().unwrap();
    let text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    assert!(status.success(), "2002 took the overflowed call:\n{text}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the backup hung up after its 2 s, ending the call"
    );
    let stats = stats_showing(config, "overflowed\t1\n");
    assert!(stats.contains("overflowed\t1\n"), "{stats}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let cdr = loop {
        let text = stdout(&admin(config, &["cdr", "--csv"]));
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        cdr.lines().nth(1).is_some_and(|r| r.contains("ANSWERED")),
        "{cdr}"
    );
}

/// A caller who presses the callback key keeps its place; when the agent
/// logs in, pbx rings the agent's phone first, then calls the customer back
/// into the same call: both hear each other, and the record is the agent's
/// call to the customer.
#[test]
fn a_callback_rings_the_agent_then_calls_the_customer_back() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 10\nwrap_up_s = 1\n\
         callback = { enabled = true, key = \"1\", max_attempts = 2, retry_interval_s = 5, customer_ring_timeout_s = 10 }\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n",
        Some("2002"),
    );
    let (config, target) = (srv.config.clone(), srv.target());
    // Nobody logged in: the caller waits with music, presses 1 and is let go.
    let mut caller = phone(
        root,
        &target,
        "2001",
        &["call", "600", "--dtmf", "1", "--duration", "15s"],
        "caller.log",
    );
    let deadline = Instant::now() + Duration::from_secs(12);
    while caller.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "pbx did not end the call after the callback key:\n{}\npbx:\n{}",
            std::fs::read_to_string(root.join("caller.log")).unwrap_or_default(),
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (agent_tone, customer_tone) = (root.join("agent.wav"), root.join("customer.wav"));
    write_tone(&agent_tone, 500.0, 20.0);
    write_tone(&customer_tone, 1300.0, 20.0);
    let answering = |user: &str, tone: &Path, heard: &str, log: &str| {
        let (tone, heard) = (tone.to_str().unwrap(), root.join(heard));
        phone(
            root,
            &target,
            user,
            &[
                "answer",
                "--duration",
                "4s",
                "--wait",
                "30s",
                "--play",
                tone,
                "--record",
                heard.to_str().unwrap(),
            ],
            log,
        )
    };
    let mut customer = answering("2001", &customer_tone, "customer.heard.wav", "customer.log");
    let mut agent = answering("2002", &agent_tone, "agent.heard.wav", "agent.log");
    wait_registered(&config, "2001@127.0.0.1", root);
    wait_registered(&config, "2002@127.0.0.1", root);
    assert!(admin(&config, &["agents", "login", "2002"])
        .status
        .success());

    let deadline = Instant::now() + Duration::from_secs(25);
    for (who, p) in [("agent", &mut agent), ("customer", &mut customer)] {
        loop {
            if let Some(status) = p.0.try_wait().unwrap() {
                assert!(status.success(), "the {who}'s phone failed");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the {who} was never called back\npbx:\n{}",
                std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_hears(&root.join("agent.heard.wav"), 1300.0, 500.0, "the agent");
    assert_hears(
        &root.join("customer.heard.wav"),
        500.0,
        1300.0,
        "the customer",
    );
    // The callback call's record: the agent called the customer.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = stdout(&admin(&config, &["cdr", "--csv"]));
        if text
            .lines()
            .any(|l| l.contains(",2002,2001,") && l.contains("ANSWERED"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no callback record:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SPEC §10: a caller who hangs up in the queue is a missed call; `pbx
/// missed callback ID --agent A` rings the agent, then the caller; once
/// the caller answers the entry leaves the list (resolved by that call).
#[test]
fn a_quick_callback_resolves_the_missed_call() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(
        root,
        "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 10\nwrap_up_s = 1\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n",
        Some("2002"),
    );
    let (config, target) = (srv.config.clone(), srv.target());
    // Nobody logged in: the caller waits 2 s and hangs up (abandoned).
    let mut caller = phone(
        root,
        &target,
        "2001",
        &["call", "600", "--duration", "2s"],
        "caller.log",
    );
    assert!(
        caller.0.wait().unwrap().success(),
        "the caller's call failed"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let id = loop {
        let text = stdout(&admin(&config, &["missed"]));
        if let Some(line) = text.lines().find(|l| l.contains("\t2001\tsupport\t")) {
            break line.split('\t').next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no missed call listed:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let bad = admin(
        &config,
        &["missed", "callback", "999999", "--agent", "2002"],
    );
    assert!(!bad.status.success());

    let (agent_tone, customer_tone) = (root.join("agent.wav"), root.join("customer.wav"));
    write_tone(&agent_tone, 500.0, 20.0);
    write_tone(&customer_tone, 1300.0, 20.0);
    let answering = |user: &str, tone: &Path, log: &str| {
        phone(
            root,
            &target,
            user,
            &[
                "answer",
                "--duration",
                "3s",
                "--wait",
                "30s",
                "--play",
                tone.to_str().unwrap(),
            ],
            log,
        )
    };
    let mut customer = answering("2001", &customer_tone, "customer.log");
    let mut agent = answering("2002", &agent_tone, "agent.log");
    wait_registered(&config, "2001@127.0.0.1", root);
    wait_registered(&config, "2002@127.0.0.1", root);
    let cb = admin(&config, &["missed", "callback", &id, "--agent", "2002"]);
    assert!(
        cb.status.success(),
        "{}",
        String::from_utf8_lossy(&cb.stderr)
    );
    let call = stdout(&cb).trim().to_owned();
    for (who, p) in [("agent", &mut agent), ("customer", &mut customer)] {
        assert!(p.0.wait().unwrap().success(), "the {who}'s phone failed");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let open = stdout(&admin(&config, &["missed"]));
        let all = stdout(&admin(&config, &["missed", "--all"]));
        if !open.contains("\t2001\t") && all.contains(&call) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the entry was not resolved by {call}:\nopen:\n{open}\nall:\n{all}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
