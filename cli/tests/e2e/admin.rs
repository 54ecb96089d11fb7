//! Admin subcommands: `pbx check`, and `pbx users add|import|list` while the server runs.

use std::time::{Duration, Instant};

use crate::harness::{run_bounded, run_reader_leaves, Alg, Pbx, RawUa};

#[test]
fn check_reports_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:5060\", \"sctp:1.2.3.4:5\"]\n",
    )
    .expect("write");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"));
    cmd.arg("check").arg("--config").arg(&bad);
    let out = run_bounded(cmd, Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bad config accepted: {err}");
    assert!(err.contains(&format!("{}:3:33: ", bad.display())), "{err}");
    assert!(err.contains("sctp"), "{err}");

    std::fs::write(&bad, "[registrar]\nmin_expires = 60\nmax_expire = 10\n").expect("write");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"));
    cmd.arg("check").arg("--config").arg(&bad);
    let out = run_bounded(cmd, Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "unknown key accepted: {err}");
    assert!(
        err.contains(&format!("{}:3:1: ", bad.display())) && err.contains("max_expire"),
        "{err}"
    );
}

/// Tries an MD5 REGISTER of `user` every 200 ms until it gets a 200; returns how long it took.
fn register_eventually(pbx: &Pbx, user: &str, password: &str, within: Duration) -> Duration {
    let start = Instant::now();
    let ua = RawUa::new();
    let contact = format!("sip:{user}@{}", ua.local());
    loop {
        let status = ua
            .register(pbx.addr(), user, password, &contact, Alg::Md5)
            .answer
            .map_or(0, |m| m.status());
        if status == 200 {
            return start.elapsed();
        }
        assert_eq!(
            status, 401,
            "before the user exists the REGISTER is challenged again"
        );
        assert!(
            start.elapsed() < within,
            "{user} could not register within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const NO_BAN: &str = "[security]\nban_threshold = 1000\n";

#[test]
fn users_add_while_running() {
    let pbx = Pbx::start(NO_BAN);
    let ua = RawUa::new();
    let out = ua.register(
        pbx.addr(),
        "dave",
        "dave-pw",
        &format!("sip:dave@{}", ua.local()),
        Alg::Md5,
    );
    assert_eq!(
        out.answer.map(|m| m.status()),
        Some(401),
        "dave does not exist yet"
    );
    let added = pbx.admin(&["users", "add", "dave", "--password", "dave-pw"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let took = register_eventually(&pbx, "dave", "dave-pw", Duration::from_millis(2500));
    eprintln!("dave registered {took:?} after `pbx users add`");
}

#[test]
fn users_import_sequential_file() {
    let pbx = Pbx::start(NO_BAN);
    let file = pbx.dir().join("users.csv");
    std::fs::write(&file, "SEQUENTIAL\nimp1;pw-1\nimp2;pw-2\nimp3;pw-3\n")
        .expect("write users file");
    let out = pbx.admin(&["users", "import", file.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 3 users"), "{stdout}");
    let list = pbx.admin(&["users", "list"]);
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for u in ["imp1", "imp2", "imp3", "alice", "bob", "carol"] {
        assert!(names.iter().any(|n| n == u), "{u} listed: {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.eq_ignore_ascii_case("SEQUENTIAL")),
        "header skipped: {names:?}"
    );
    assert_eq!(names.len(), 6, "{names:?}");
    register_eventually(&pbx, "imp2", "pw-2", Duration::from_millis(2500));
}

/// `pbx users list | head -1` and friends: a reader that leaves early ends the
/// output quietly, exit 0, no panic — while the output is still being written
/// (a list far longer than the pipe buffer) and before anything was written.
#[test]
fn a_reader_that_leaves_early_is_not_an_error() {
    let pbx = Pbx::start(NO_BAN);
    let file = pbx.dir().join("many.csv");
    // ~26 bytes a line: 8,000 users are ~200 KB, three pipe buffers.
    let users: String = (0..8000)
        .map(|i| format!("a-rather-long-user-{i:05};pw\n"))
        .collect();
    std::fs::write(&file, users).expect("write users file");
    let out = pbx.admin(&["users", "import", file.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = &pbx.config;
    let pbx_cmd = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pbx"));
        cmd.arg("--config").arg(config).args(args);
        cmd
    };
    let flow = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/ivr/main.toml");
    let cases: [(&[&str], usize); 5] = [
        (&["users", "list"], 100),
        (&["users", "list"], 0),
        (&["check"], 0),
        (&["ivr", "render", flow], 0),
        (&["ivr", "render", "--format", "dot", flow], 0),
    ];
    for (args, keep) in cases {
        let (status, stderr) = run_reader_leaves(pbx_cmd(args), keep, Duration::from_secs(20));
        assert!(
            !stderr.contains("panicked"),
            "pbx {args:?} (reader kept {keep} bytes): {stderr}"
        );
        assert!(
            status.success(),
            "pbx {args:?} (reader kept {keep} bytes): {status}: {stderr}"
        );
    }
}
