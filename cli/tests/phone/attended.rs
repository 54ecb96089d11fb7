//! Attended transfer (RFC 5589 §7) between three `pbx phone` consoles
//! through `pbx serve`: A talks to B, holds B, consults C, then `atransfer`:
//! B calls C with `Replaces`, C takes the call over and hangs up on A.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use super::{pbx, start_server_with, wait_registered, Kill};

fn console(server: &str, user: &str) -> (Child, ChildStdin) {
    let mut child = pbx()
        .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
        .args(["--server", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// What a console printed, once it has quit.
fn output(k: &mut Kill) -> String {
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = k.0.stdout.take() {
        o.read_to_string(&mut out).unwrap();
    }
    if let Some(mut e) = k.0.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    let status = k.0.wait().unwrap();
    format!("{out}\n--- stderr ({status}):\n{err}")
}

#[test]
fn attended_transfer_hands_the_held_call_to_the_consulted_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let users = "[[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n";
    let (_server, port, config) = start_server_with(root, users);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let (c, mut c_in) = console(&server, "2003");
    let c = Kill(c);
    let (b, mut b_in) = console(&server, "2002");
    let b = Kill(b);
    wait_registered(&config, "2003@127.0.0.1", root);
    wait_registered(&config, "2002@127.0.0.1", root);
    let (a, mut a_in) = console(&server, "2001");
    let a = Kill(a);
    std::thread::sleep(Duration::from_millis(500));
    let pause = |ms| std::thread::sleep(Duration::from_millis(ms));
    writeln!(a_in, "dial 2002").unwrap();
    pause(1200);
    writeln!(b_in, "answer").unwrap();
    pause(1000);
    writeln!(a_in, "hold").unwrap();
    pause(800);
    writeln!(a_in, "dial 2003").unwrap();
    pause(1200);
    writeln!(c_in, "answer").unwrap();
    pause(1000);
    writeln!(a_in, "atransfer").unwrap();
    pause(3000);
    for w in [&mut a_in, &mut b_in, &mut c_in] {
        writeln!(w, "status").unwrap();
    }
    pause(300);
    for w in [&mut a_in, &mut b_in, &mut c_in] {
        writeln!(w, "quit").unwrap();
    }
    drop((a_in, b_in, c_in));
    let (mut a, mut b, mut c) = (a, b, c);
    let (a, b, c) = (output(&mut a), output(&mut b), output(&mut c));
    let all = format!("A:\n{a}\nB:\n{b}\nC:\n{c}");
    for want in [
        "attended transfer of call",
        "call ended: remote hangup",
        "held call ended",
    ] {
        assert!(a.contains(want), "A: {want:?} missing\n{all}");
    }
    assert!(b.contains("transfer requested to sip:2003@"), "{all}");
    assert!(
        b.matches("connected").count() >= 2,
        "B connected to C:\n{all}"
    );
    assert!(
        c.contains("call replaced by a call from sip:2002@"),
        "{all}"
    );
    let c_status = c.rsplit("2003@127.0.0.1: registered").next().unwrap_or("");
    assert!(c_status.contains(": connected;"), "C talks to B:\n{all}");
    let b_status = b.rsplit("2002@127.0.0.1: registered").next().unwrap_or("");
    assert!(b_status.contains(": connected;"), "B talks to C:\n{all}");
}
