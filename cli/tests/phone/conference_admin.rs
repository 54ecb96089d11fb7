//! The conference admin API through `pbx conference` (SPEC §20, §21): two
//! `pbx phone` parties in room 800; the administrator lists the room, reads
//! the roster with name tags, mutes a guest and asks it to unmute (it stays
//! muted until it accepts), reads a participant's quality window (a sample
//! per 10 s, both directions), kicks and bans a guest (its call ends), and
//! ends the room. Bad input gets a clear error and a non-zero exit.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::{pbx, start_server_with, Kill};

fn admin(config: &Path, args: &[&str]) -> Output {
    pbx()
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// One raw HTTP request with the admin token: status and body.
fn http(addr: std::net::SocketAddr, request: &str, token: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{request} HTTP/1.0\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `pbx conference 800` until `done` holds for its roster.
fn roster_until(config: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = admin(config, &["conference", "800"]);
        let text = stdout(&out);
        if out.status.success() && done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}: last roster\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The roster id of the participant named `name`.
fn id_of(roster: &str, name: &str) -> String {
    roster
        .lines()
        .find(|l| l.split('\t').nth(2) == Some(name))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("{name} not in\n{roster}"))
        .to_owned()
}

fn state_of(roster: &str, id: &str) -> String {
    roster
        .lines()
        .find(|l| l.split('\t').next() == Some(id))
        .and_then(|l| l.split('\t').nth(3))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn the_administrator_sees_and_runs_a_room() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\nprompts_dir = \"{}\"\n\
         [metrics]\nlisten = \"{metrics}\"\n\
         [[dialplan]]\nextension = \"800\"\ntype = \"conference\"\n",
        prompts.display()
    );
    let (_server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let party = |user: &str, freq: f64| -> Kill {
        let tone = root.join(format!("{user}.wav"));
        write_tone(&tone, freq, 30.0);
        let log = std::fs::File::create(root.join(format!("{user}.log"))).unwrap();
        Kill(
            pbx()
                .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
                .args(["--server", &server, "call", "800", "--duration", "30s"])
                .arg("--play")
                .arg(&tone)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let _alice = party("2001", 500.0);
    let mut bob = party("2002", 800.0);
    let joined = Instant::now();

    let roster = roster_until(&config, "both join", |r| r.lines().count() == 3);
    let listed = admin(&config, &["conferences"]);
    assert_eq!(stdout(&listed), "room\tparticipants\n800\t2\n");
    let (alice_id, bob_id) = (id_of(&roster, "2001"), id_of(&roster, "2002"));

    // mute: at once; unmute: only a request until the participant accepts
    assert!(admin(&config, &["conference", "800", "mute", &bob_id])
        .status
        .success());
    roster_until(&config, "bob muted", |r| {
        state_of(r, &bob_id).contains("muted")
    });
    assert!(admin(&config, &["conference", "800", "unmute", &bob_id])
        .status
        .success());
    let r = roster_until(&config, "unmute requested", |r| {
        state_of(r, &bob_id).contains("unmute-requested")
    });
    assert!(
        state_of(&r, &bob_id).starts_with("muted"),
        "still muted: {r}"
    );
    let accept = admin(&config, &["conference", "800", "accept-unmute", &bob_id]);
    assert!(accept.status.success());
    roster_until(&config, "bob accepted", |r| {
        !state_of(r, &bob_id).contains("muted")
    });

    // the quality window: the first sample 10 s after joining
    std::thread::sleep(Duration::from_secs(11).saturating_sub(joined.elapsed()));
    let deadline = Instant::now() + Duration::from_secs(5);
    let quality = loop {
        let out = admin(&config, &["conference", "800", "quality", &alice_id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = stdout(&out);
        let both = text.contains("\ninbound\t") && text.contains("\noutbound\t");
        if both || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let inbound = quality
        .lines()
        .find(|l| l.starts_with("inbound\t"))
        .unwrap_or_else(|| panic!("an inbound sample:\n{quality}"));
    // alice sends 50 packets/s of G.711 (64 kbit/s payload)
    let pps: f64 = inbound.split('\t').nth(2).unwrap().parse().unwrap();
    assert!((40.0..=60.0).contains(&pps), "{quality}");
    assert!(quality.contains("\noutbound\t"), "{quality}");

    // bad input: clear errors, non-zero exits
    let nobody = admin(&config, &["conference", "800", "mute", "999999"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no participant"));
    let no_room = admin(&config, &["conference", "nope"]);
    assert!(!no_room.status.success());
    assert!(String::from_utf8_lossy(&no_room.stderr).contains("no conference room"));
    let bad_name = admin(&config, &["conference", "a/b"]);
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("is no room name"));
    // what the CLI cannot send, straight over HTTP: 4xx with a JSON error
    let token = pbx_core::admin_token::read(&root.join("data")).unwrap();
    for (request, status) in [
        (format!("POST /conferences/800/{alice_id}/explode"), 400),
        ("GET /conferences/800/abc/quality".to_owned(), 400),
        ("POST /conferences/800/explode".to_owned(), 400),
        ("POST /conferences/900/lock".to_owned(), 404),
        ("DELETE /conferences/800".to_owned(), 405),
    ] {
        let (got, body) = http(metrics, &request, &token);
        assert_eq!(got, status, "{request}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        assert!(json["error"].is_string(), "{request}: {body}");
    }

    // kick with a ban: bob's call ends long before its 30 s
    assert!(
        admin(&config, &["conference", "800", "kick", &bob_id, "--ban"])
            .status
            .success()
    );
    roster_until(&config, "bob gone", |r| r.lines().count() == 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while bob.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bob's call did not end");
        std::thread::sleep(Duration::from_millis(100));
    }

    // ending the room ends alice's call and the room
    assert!(admin(&config, &["conference", "800", "end"])
        .status
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = admin(&config, &["conferences"]);
        if String::from_utf8_lossy(&out.stderr).contains("no conference rooms") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "room still listed: {}",
            stdout(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // alice's record (over 10 s through the relay) summarizes the quality
    // samples of her leg (SPEC §21): average and worst MOS
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let csv = stdout(&admin(&config, &["cdr", "--csv"]));
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |row: &[&str], name: &str| {
            let i = header.iter().position(|h| *h == name)?;
            row.get(i).map(|v| (*v).to_owned())
        };
        let alice = lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|row| col(row, "caller").as_deref() == Some("2001"));
        let summary = alice.as_ref().and_then(|row| {
            let avg = col(row, "caller_mos_avg")?.parse::<f64>().ok()?;
            let worst = col(row, "caller_mos_worst")?.parse::<f64>().ok()?;
            Some((avg, worst))
        });
        if let Some((avg, worst)) = summary {
            assert!(avg > 3.5 && worst > 3.0 && worst <= avg, "{csv}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no quality summary for alice:\n{csv}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
