//! Queues run for real around the operator's work: a kill -9 while an
//! offer rings (nobody is left reserved, a callback request waiting in
//! another queue is kept), `pbx reload` giving the agent a new skill (the
//! kept callback is served at once: agent first, then the customer), and a
//! caller priority set by an IVR flow's `priority` variable.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::queue::{admin, agent_state, phone, phone_cmd, stdout, QueueServer};
use super::{assert_hears, restart_server, wait_registered, Kill};

/// `pbx queues`' line of `queue` once it starts with `want`, or the last
/// one seen after 10 s.
fn queue_line(config: &Path, queue: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = stdout(&admin(config, &["queues"]));
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{queue}\t")))
            .unwrap_or_default()
            .to_owned();
        if line.starts_with(want) || Instant::now() > deadline {
            return line;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_state(config: &Path, agent: &str, want: &str, root: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = agent_state(config, agent);
        if state == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{agent} is {state:?}, not {want}\npbx:\n{}",
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `aor` has `n` registered contacts.
fn wait_contacts(config: &Path, aor: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = stdout(&admin(config, &["registrations"]));
        let found = text
            .lines()
            .filter(|l| l.starts_with(&format!("{aor}\t")))
            .count();
        if found == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{aor}: {found} contacts, not {n}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(p: &mut Kill, who: &str, root: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    let logs = || {
        let mut text = String::new();
        for e in std::fs::read_dir(root).unwrap().flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "log") {
                let body = std::fs::read_to_string(&path).unwrap_or_default();
                text += &format!("--- {}:\n{body}\n", path.display());
            }
        }
        text
    };
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            assert!(status.success(), "{who} failed\n{}", logs());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{who} never finished\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const OPS_TAIL: &str = "[[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
     [[dialplan]]\nextension = \"601\"\ntype = \"queue\"\nqueue = \"billing\"\n\
     [[queues]]\nname = \"support\"\nring_timeout_s = 30\n\
     [[queues]]\nname = \"billing\"\nring_timeout_s = 15\nwrap_up_s = 1\n\
     callback = { enabled = true, key = \"1\", max_attempts = 2, retry_interval_s = 5, customer_ring_timeout_s = 15 }\n\
     [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n\
     [[users]]\nname = \"1001\"\npassword = \"1001-pw\"\n";

#[test]
fn kill_9_while_an_offer_rings_keeps_callbacks_and_reload_serves_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let srv = QueueServer::start(root, OPS_TAIL, Some("2002"));
    let (config, target) = (srv.config.clone(), srv.target());
    assert!(admin(&config, &["agents", "login", "2002"])
        .status
        .success());
    // 2002's console rings and never answers.
    let silent_log = std::fs::File::create(root.join("silent.log")).unwrap();
    let mut silent = Kill(
        phone_cmd(&target, "2002")
            .stdin(Stdio::piped())
            .stdout(silent_log.try_clone().unwrap())
            .stderr(silent_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let support_caller = phone(
        root,
        &target,
        "2001",
        &["call", "600", "--duration", "40s"],
        "support-caller.log",
    );
    wait_state(&config, "2002", "reserved", root);
    // A billing caller (no agent has that skill yet) asks for a callback.
    let mut billing_caller = phone(
        root,
        &target,
        "1001",
        &["call", "601", "--dtmf", "1", "--duration", "15s"],
        "billing-caller.log",
    );
    wait_exit(
        &mut billing_caller,
        "the billing caller (let go after the callback key)",
        root,
        Duration::from_secs(12),
    );
    let line = queue_line(&config, "billing", "billing\t1\t");
    assert!(line.starts_with("billing\t1\t"), "callback waiting: {line}");
    assert_eq!(agent_state(&config, "2002"), "reserved", "still ringing");
    // The callback event is committed within the writer's 100 ms round.
    std::thread::sleep(Duration::from_millis(500));

    drop(srv.server); // kill -9 while the offer rings
    drop(support_caller);
    let _server = restart_server(root, &config);
    wait_state(&config, "2002", "available", root);
    let line = queue_line(&config, "billing", "billing\t1\t");
    assert!(
        line.starts_with("billing\t1\t"),
        "the callback request survived the kill -9: {line}"
    );

    // `pbx reload` gives 2002 the billing skill: the kept callback rings
    // 2002 first, then calls 1001 back.
    let (agent_tone, customer_tone) = (root.join("agent.wav"), root.join("customer.wav"));
    write_tone(&agent_tone, 500.0, 20.0);
    write_tone(&customer_tone, 1300.0, 20.0);
    let answering = |user: &str, tone: &Path, heard: &Path, log: &str| {
        phone(
            root,
            &target,
            user,
            &[
                "answer",
                "--duration",
                "4s",
                "--wait",
                "40s",
                "--play",
                tone.to_str().unwrap(),
                "--record",
                heard.to_str().unwrap(),
            ],
            log,
        )
    };
    // The console quits (unregistering from the restarted server): the
    // callback must ring the answering phone, not the console.
    {
        use std::io::Write;
        let mut stdin = silent.0.stdin.take().unwrap();
        stdin.write_all(b"hangup\nquit\n").unwrap();
    }
    wait_exit(&mut silent, "the console", root, Duration::from_secs(10));
    wait_contacts(&config, "2002@127.0.0.1", 0);
    let (agent_heard, customer_heard) = (root.join("agent.heard.wav"), root.join("cust.heard.wav"));
    let mut customer = answering("1001", &customer_tone, &customer_heard, "customer.log");
    let mut agent = answering("2002", &agent_tone, &agent_heard, "agent.log");
    wait_registered(&config, "1001@127.0.0.1", root);
    wait_registered(&config, "2002@127.0.0.1", root);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "skills = [\"support:5\"]",
            "skills = [\"support:5\", \"billing:5\"]",
        ),
    )
    .unwrap();
    let reload = admin(&config, &["reload"]);
    let said = stdout(&reload);
    assert!(
        reload.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    assert!(
        said.contains("ok     queues and agents (agents changed: 2002)"),
        "{said}"
    );
    wait_exit(&mut agent, "the agent", root, Duration::from_secs(40));
    wait_exit(&mut customer, "the customer", root, Duration::from_secs(20));
    assert_hears(&agent_heard, 1300.0, 500.0, "the agent");
    assert_hears(&customer_heard, 500.0, 1300.0, "the customer");

    // Removing the billing queue and the agent's skill for it: reported,
    // and new billing callers are refused.
    let text = std::fs::read_to_string(&config).unwrap();
    let without = text
        .replace("skills = [\"support:5\", \"billing:5\"]", "skills = [\"support:5\"]")
        .replace(
            "[[queues]]\nname = \"billing\"\nring_timeout_s = 15\nwrap_up_s = 1\n\
     callback = { enabled = true, key = \"1\", max_attempts = 2, retry_interval_s = 5, customer_ring_timeout_s = 15 }\n",
            "",
        )
        .replace(
            "[[dialplan]]\nextension = \"601\"\ntype = \"queue\"\nqueue = \"billing\"\n",
            "",
        );
    assert_ne!(without, text, "the test config has the billing queue");
    std::fs::write(&config, without).unwrap();
    let reload = admin(&config, &["reload"]);
    let said = stdout(&reload);
    assert!(reload.status.success(), "{said}");
    assert!(
        said.contains(
            "queues removed: billing (0 waiting, kept until served); agents changed: 2002"
        ),
        "{said}"
    );
    assert_eq!(queue_line(&config, "billing", "x"), "", "no longer listed");
}

/// An IVR flow sets `priority = 5` and transfers to the queue: that caller
/// is served before one who has waited longer with priority 0.
#[test]
fn an_ivr_priority_variable_puts_the_caller_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("vip.toml"),
        "[flow]\nname = \"vip\"\nstart = \"mark\"\n\
         [nodes.mark]\ntype = \"set\"\nvars = { priority = \"5\" }\nexits = { next = \"go\" }\n\
         [nodes.go]\ntype = \"transfer\"\ntarget = \"queue:support\"\n",
    )
    .unwrap();
    let tail = format!(
        "[ivr]\nflows_dir = \"{}\"\n\
         [[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[dialplan]]\nextension = \"700\"\ntype = \"ivr\"\nflow = \"vip\"\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 15\nwrap_up_s = 30\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\"]\n\
         [[users]]\nname = \"1001\"\npassword = \"1001-pw\"\n",
        flows.display()
    );
    let srv = QueueServer::start(root, &tail, Some("2002"));
    let (config, target) = (srv.config.clone(), srv.target());
    let (plain_tone, vip_tone) = (root.join("plain.wav"), root.join("vip.wav"));
    write_tone(&plain_tone, 440.0, 20.0);
    write_tone(&vip_tone, 1300.0, 20.0);
    let caller = |user: &str, number: &str, tone: &Path, log: &str| {
        phone(
            root,
            &target,
            user,
            &[
                "call",
                number,
                "--duration",
                "14s",
                "--play",
                tone.to_str().unwrap(),
            ],
            log,
        )
    };
    // Nobody logged in: the plain caller waits first, the VIP after it.
    let _plain = caller("2001", "600", &plain_tone, "plain.log");
    let line = queue_line(&config, "support", "support\t1\t");
    assert!(line.starts_with("support\t1\t"), "{line}");
    let _vip = caller("1001", "700", &vip_tone, "vip.log");
    let line = queue_line(&config, "support", "support\t2\t");
    assert!(line.starts_with("support\t2\t"), "{line}");

    let heard = root.join("agent.heard.wav");
    let mut agent = phone(
        root,
        &target,
        "2002",
        &[
            "answer",
            "--duration",
            "3s",
            "--wait",
            "20s",
            "--record",
            heard.to_str().unwrap(),
        ],
        "agent.log",
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    assert!(admin(&config, &["agents", "login", "2002"])
        .status
        .success());
    wait_exit(&mut agent, "the agent", root, Duration::from_secs(20));
    // The VIP's tone, not the plain caller's: priority 5 went first.
    assert_hears(&heard, 1300.0, 440.0, "the agent");
}
