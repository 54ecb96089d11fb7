//! Per-queue recording policy end to end: `recording.mode = "queues"`
//! records calls an agent answers, except in queue `private`, whose
//! `[recording.queues]` policy is `never`. Agent 2002 serves both queues;
//! a call through `support` (600) is recorded with queue and agent, one
//! through `private` (601) is not.

use std::path::Path;
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::recording::{admin, phone, recording_server, wait_uploaded, CALLEE_HZ, CALLER_HZ};
use super::wait_registered;

fn agent_state(config: &Path) -> String {
    let text = String::from_utf8_lossy(&admin(config, &["agents"]).stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with("2002\t"))
        .and_then(|l| l.split('\t').nth(1))
        .unwrap_or_default()
        .to_owned()
}

fn wait_state(config: &Path, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while agent_state(config) != want {
        assert!(
            Instant::now() < deadline,
            "agent 2002 is {:?}, not {want}",
            agent_state(config)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A caller (2001) dials `number`, agent 2002 answers: the call id.
fn queue_call(root: &Path, target: &str, config: &Path, number: &str) -> String {
    let (caller_tone, agent_tone) = (root.join("c.wav"), root.join("a.wav"));
    write_tone(&caller_tone, CALLER_HZ, 10.0);
    write_tone(&agent_tone, CALLEE_HZ, 10.0);
    let mut agent = phone(
        root,
        target,
        "2002",
        &["answer", "--duration", "3s", "--wait", "20s"],
        Some(&agent_tone),
        &format!("agent-{number}.log"),
    );
    wait_registered(config, "2002@127.0.0.1", root);
    let mut caller = phone(
        root,
        target,
        "2001",
        &["call", number, "--duration", "8s"],
        Some(&caller_tone),
        &format!("caller-{number}.log"),
    );
    // Generous: a loaded machine takes its time (the caller logs why not).
    let deadline = Instant::now() + Duration::from_secs(30);
    let call = loop {
        let text = String::from_utf8_lossy(&admin(config, &["calls"]).stdout).into_owned();
        if let Some(l) = text.lines().find(|l| l.contains("\tanswered\t")) {
            break l.split('\t').next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no answered call to {number}: {text}\ncaller:\n{}\npbx:\n{}",
            std::fs::read_to_string(root.join(format!("caller-{number}.log"))).unwrap_or_default(),
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = |f: String| std::fs::read_to_string(root.join(f)).unwrap_or_default();
    assert!(
        agent.0.wait().unwrap().success(),
        "agent:\n{}\npbx:\n{}",
        log(format!("agent-{number}.log")),
        log("pbx.log".into())
    );
    let _ = caller.0.wait();
    call
}

#[test]
fn a_queue_whose_policy_is_never_is_not_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, _) = recording_server(
        root,
        "mode = \"queues\"\n[recording.queues]\nprivate = \"never\"\n\
         [[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
         [[dialplan]]\nextension = \"601\"\ntype = \"queue\"\nqueue = \"private\"\n\
         [[queues]]\nname = \"support\"\nring_timeout_s = 10\nwrap_up_s = 1\n\
         [[queues]]\nname = \"private\"\nring_timeout_s = 10\nwrap_up_s = 1\n\
         [[agents]]\nname = \"2002\"\nskills = [\"support:5\", \"private:5\"]\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent_state(&config).is_empty() {
        assert!(Instant::now() < deadline, "pbx agents never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let login = admin(&config, &["agents", "login", "2002"]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    wait_state(&config, "available");
    let recorded = queue_call(root, &target, &config, "600");
    wait_uploaded(&config, &recorded, 15, root);
    wait_state(&config, "available");
    let private = queue_call(root, &target, &config, "601");
    std::thread::sleep(Duration::from_secs(2));
    let text =
        String::from_utf8_lossy(&admin(&config, &["recordings", "list"]).stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with(&recorded))
        .unwrap_or_else(|| panic!("{recorded} not listed:\n{text}"));
    assert!(
        line.contains("\tsupport\t2002\t"),
        "queue and agent: {line}"
    );
    assert!(
        !text.contains(&private),
        "recorded against `never`:\n{text}"
    );
    assert_eq!(text.lines().skip(1).count(), 1, "{text}");
}
