//! The agent desktop in a real browser: Debian's Chromium, driven by
//! Playwright (`tests/browser/desktop.mjs`), logs in at `pbx serve`'s
//! `/desktop/` with SIP credentials, registers over SIP over WebSocket and
//! calls through pbx with WebRTC media (ICE-lite, DTLS-SRTP) bridged to plain
//! RTP `pbx phone`s. Its microphone is a 440 Hz WAV; the phones play 1000 Hz.
//! Both directions are checked by spectrum: the page's remote stream with
//! WebAudio, the phones' recordings with Goertzel.
//!
//! Needs `node` and `chromium` (`scripts/deps.sh` installs Chromium and the
//! pinned playwright-core); with `PBX_E2E_REQUIRE_SIPP` set (as `test.sh`
//! does) a missing one fails the test, otherwise it is skipped.

#[path = "support/audio.rs"]
mod audio;
// only its port and PATH helpers
#[path = "support/baresip.rs"]
#[allow(dead_code)]
mod baresip;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use audio::{read_wav, tone_share, write_tone};
use baresip::{free_udp_port, have};

/// The browser's microphone and the phones' tone.
const MIC_HZ: f64 = 440.0;
const PHONE_HZ: f64 = 1000.0;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pbx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pbx"))
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether node, Chromium and playwright-core are here (installing the
/// pinned playwright-core with `npm ci` when it is missing).
fn available() -> bool {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let ready = READY.get_or_init(|| {
        for cmd in ["node", "npm", "chromium"] {
            if !have(cmd) {
                return Err(format!("{cmd} not found (scripts/deps.sh installs it)"));
            }
        }
        if !browser_dir().join("node_modules/playwright-core").is_dir() {
            let st = Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                .current_dir(browser_dir())
                .status()
                .map_err(|e| e.to_string())?;
            if !st.success() {
                return Err("npm ci in cli/tests/browser failed".into());
            }
        }
        Ok(())
    });
    match ready {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
                "the browser tests need it: {why}"
            );
            eprintln!("skipping: {why}");
            false
        }
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pbx serve` with UDP/TCP/WS listeners, the HTTP listener (desktop and
/// API), queue `support` (600, agent 2001), IVR flow `desk` (500: key 2
/// transfers to 2002) and users 2001–2003 (password `USER-pw`).
struct Desk {
    _server: Kill,
    root: PathBuf,
    config: PathBuf,
    sip_port: u16,
    http: String,
    /// The WSS listener's URL.
    wss: String,
}

impl Desk {
    fn start(root: &Path) -> Self {
        let sip_port = free_udp_port();
        let ws_port = free_tcp_port();
        let http_port = free_tcp_port();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let flows = root.join("ivr");
        std::fs::create_dir_all(&flows).unwrap();
        std::fs::write(
            flows.join("desk.toml"),
            format!(
                "[flow]\nname = \"desk\"\nstart = \"menu\"\nprompts = \"{}\"\n\
                 [nodes.menu]\ntype = \"menu\"\nprompts = [\"main_menu\"]\ntimeout = \"10s\"\nretries = 1\n\
                 [nodes.menu.exits]\n\"2\" = \"agent\"\ntimeout = \"bye\"\ndefault = \"bye\"\n\
                 [nodes.agent]\ntype = \"transfer\"\ntarget = \"ext:2002\"\n\
                 [nodes.bye]\ntype = \"hangup\"\n",
                fixtures.join("prompts").display()
            ),
        )
        .unwrap();
        // WSS with a self-signed certificate (Chromium runs with
        // --ignore-certificate-errors)
        let wss_port = free_tcp_port();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let (cert_pem, key_pem) = (root.join("cert.pem"), root.join("key.pem"));
        std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
        std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
        let config = root.join("pbx.toml");
        let mut text = format!(
            "[server]\ndomain = \"127.0.0.1\"\n\
             listen = [\"udp:127.0.0.1:{sip_port}\", \"tcp:127.0.0.1:{sip_port}\", \"ws:127.0.0.1:{ws_port}\"]\n\
             data_dir = \"{}\"\n\
             [[server.tls]]\nlisten = \"127.0.0.1:{wss_port}\"\ntransport = \"wss\"\ncert = {cert_pem:?}\nkey = {key_pem:?}\n\
             [calls]\nengine = \"b2bua\"\n\
             [media]\nanchor = \"always\"\nprompts_dir = \"{}\"\n\
             [metrics]\nlisten = \"127.0.0.1:{http_port}\"\n\
             [ivr]\nflows_dir = \"{}\"\n\
             [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"desk\"\n\
             [[dialplan]]\nextension = \"600\"\ntype = \"queue\"\nqueue = \"support\"\n\
             [[queues]]\nname = \"support\"\nring_timeout_s = 25\nwrap_up_s = 2\n\
             [[agents]]\nname = \"2001\"\nskills = [\"support:5\"]\n",
            root.join("data").display(),
            fixtures.join("prompts").display(),
            flows.display(),
        );
        for u in ["2001", "2002", "2003"] {
            text.push_str(&format!(
                "[[users]]\nname = \"{u}\"\npassword = \"{u}-pw\"\n"
            ));
        }
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(root.join("pbx.log")).unwrap();
        let server = Kill(
            pbx()
                .args(["--config", config.to_str().unwrap(), "serve"])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let http = format!("http://127.0.0.1:{http_port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !get(http_port, "/desktop/config.json").contains("\"ws\"") {
            assert!(
                Instant::now() < deadline,
                "pbx never served /desktop/config.json:\n{}",
                std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            _server: server,
            root: root.to_owned(),
            config,
            sip_port,
            http,
            wss: format!("wss://127.0.0.1:{wss_port}"),
        }
    }

    /// pbx's log and the phones' (for failure messages).
    fn log(&self) -> String {
        let mut out = std::fs::read_to_string(self.root.join("pbx.log")).unwrap_or_default();
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") && name != "pbx.log" && !name.starts_with("browser-") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                out.push_str(&format!("\n--- {name}:\n{text}"));
            }
        }
        out
    }

    /// A `pbx phone` as `user` playing the phone tone and recording what it
    /// hears to `USER.heard.wav`; `mode` is `answer …` or `call …`.
    fn phone(&self, user: &str, transport: &str, mode: &[&str]) -> (Kill, PathBuf) {
        self.phone_playing(user, transport, mode, PHONE_HZ)
    }

    /// [`Desk::phone`] playing `hz`.
    fn phone_playing(
        &self,
        user: &str,
        transport: &str,
        mode: &[&str],
        hz: f64,
    ) -> (Kill, PathBuf) {
        let tone = self.root.join(format!("phone-{hz}.wav"));
        if !tone.exists() {
            write_tone(&tone, hz, 30.0);
        }
        let heard = self.root.join(format!("{user}.heard.wav"));
        let log = std::fs::File::create(self.root.join(format!("{user}.log"))).unwrap();
        let child = pbx()
            .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
            .args(["--server", &format!("127.0.0.1:{}", self.sip_port)])
            .args(["--transport", transport])
            .args(mode)
            .arg("--play")
            .arg(&tone)
            .arg("--record")
            .arg(&heard)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        (Kill(child), heard)
    }

    fn wait_registered(&self, aor: &str) {
        self.wait_registered_via(aor, "");
    }

    /// Waits for a binding of `aor` whose line in `pbx registrations` has
    /// `via` (e.g. `via WSS`: the connection it came over).
    fn wait_registered_via(&self, aor: &str, via: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = pbx()
                .args(["--config", self.config.to_str().unwrap(), "registrations"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.lines().any(|l| l.starts_with(aor) && l.contains(via)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{aor} never registered:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Chromium on the desktop as user 2001 running `scenario` with `env`;
    /// its stdout lines arrive on the channel, its stderr goes to
    /// `browser-SCENARIO.log`, screenshots to `<root>/shots`, or to
    /// `$PBX_BROWSER_SHOTS/TEST` when that is set (to look at them).
    fn browser(&self, scenario: &str, env: &[(&str, &str)]) -> (Kill, mpsc::Receiver<String>) {
        let mic = self.root.join("mic.wav");
        write_tone(&mic, MIC_HZ, 30.0);
        let test = std::thread::current().name().unwrap_or("test").to_owned();
        let shots = match std::env::var_os("PBX_BROWSER_SHOTS") {
            Some(dir) => PathBuf::from(dir).join(test),
            None => self.root.join("shots"),
        };
        std::fs::create_dir_all(&shots).unwrap();
        let log = std::fs::File::create(self.root.join(format!("browser-{scenario}.log"))).unwrap();
        let mut child = Command::new("node")
            .arg(browser_dir().join("desktop.mjs"))
            .arg(scenario)
            .env("PBX_HTTP", &self.http)
            .env("PBX_USER", "2001")
            .env("PBX_PASSWORD", "2001-pw")
            .env("PBX_MIC_WAV", &mic)
            .env("PBX_SHOTS", &shots)
            .envs(env.iter().copied())
            .current_dir(browser_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (Kill(child), rx)
    }

    /// The browser's final JSON line (its other lines are signals).
    fn result(
        &self,
        scenario: &str,
        rx: &mpsc::Receiver<String>,
        within: Duration,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the browser gave no result:\n{}\npbx:\n{}",
                    self.browser_log(scenario),
                    self.log()
                )
            });
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v.get("ok").is_some() {
                assert_eq!(
                    v["ok"],
                    true,
                    "browser {scenario}: {v:#}\n{}\npbx:\n{}",
                    self.browser_log(scenario),
                    self.log()
                );
                assert!(
                    v.get("pageErrors").is_none(),
                    "the page threw: {}",
                    self.browser_log(scenario)
                );
                return v;
            }
        }
    }

    fn browser_log(&self, scenario: &str) -> String {
        std::fs::read_to_string(self.root.join(format!("browser-{scenario}.log")))
            .unwrap_or_default()
    }
}

/// `GET path` on 127.0.0.1:port, the whole answer ("" when refused).
fn get(port: u16, path: &str) -> String {
    http(port, "GET", path, None, "")
}

/// One HTTP/1.1 request (with a bearer token, a JSON body); the whole answer.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The status code and JSON body of an answer of [`http`].
fn status_json(answer: &str) -> (u16, serde_json::Value) {
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    (code, serde_json::from_str(body).unwrap_or_default())
}

/// The browser heard the phones' tone: the peak at PHONE_HZ and most power near it.
fn assert_browser_heard(v: &serde_json::Value) {
    let heard = &v["heard"];
    let peak = heard["peakHz"].as_f64().unwrap_or(0.0);
    let share = heard["share"].as_f64().unwrap_or(0.0);
    assert!(
        (peak - PHONE_HZ).abs() <= 30.0 && share > 0.5,
        "the browser hears {PHONE_HZ} Hz: {heard}"
    );
}

/// The phone's recording holds the browser's microphone tone for at least a
/// second of 100 ms windows with sound, and not its own tone.
fn assert_phone_heard(path: &Path, who: &str) {
    assert_hears(path, MIC_HZ, PHONE_HZ, who);
}

/// The recording at `path` holds `want` Hz (and not `own`, the recording
/// phone's own tone) in at least a second of 100 ms windows with sound.
fn assert_hears(path: &Path, want: f64, own: f64, who: &str) {
    let (rate, samples) = read_wav(path);
    let window = (rate / 10.0) as usize;
    let loud: Vec<&[i16]> = samples
        .chunks_exact(window)
        .filter(|w| w.iter().any(|s| s.unsigned_abs() > 256))
        .collect();
    assert!(
        loud.len() >= 10,
        "{who} heard {} windows of sound",
        loud.len()
    );
    let mean =
        |f: f64| loud.iter().map(|w| tone_share(w, rate, f)).sum::<f64>() / loud.len() as f64;
    let (hit, miss) = (mean(want), mean(own));
    assert!(
        hit > 0.5 && miss < 0.05,
        "{who} hears {want} Hz: share {hit:.3}, own tone {miss:.3}"
    );
}

fn hear_hz() -> String {
    (PHONE_HZ as u32).to_string()
}

#[test]
fn the_desktop_login_takes_sip_credentials_and_hands_out_an_agent_token() {
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    let port: u16 = desk.http.rsplit(':').next().unwrap().parse().unwrap();
    let page = get(port, "/desktop/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("content-security-policy") && page.contains("pbx agent desktop"));
    let (code, cfg) = status_json(&get(port, "/desktop/config.json"));
    assert_eq!(code, 200);
    assert_eq!(cfg["domain"], "127.0.0.1");
    assert_eq!(cfg["ws"][0]["scheme"], "ws", "{cfg}");

    let login = |user: &str, pw: &str| {
        status_json(&http(
            port,
            "POST",
            "/desktop/login",
            None,
            &format!("{{\"user\":\"{user}\",\"password\":\"{pw}\"}}"),
        ))
    };
    let (code, err) = login("2001", "wrong");
    assert_eq!(code, 401, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("wrong user or password"),
        "{err}"
    );
    assert_eq!(
        login("nobody", "x").0,
        401,
        "an unknown user looks like a wrong password"
    );
    let (code, bad) = status_json(&http(port, "POST", "/desktop/login", None, "{\"user\":1}"));
    assert!((400..500).contains(&code), "{code} {bad}");

    let (code, ok) = login("2001", "2001-pw");
    assert_eq!(code, 200, "{ok}");
    assert_eq!(ok["agent"], "2001", "2001 is an agent: {ok}");
    let token = ok["token"].as_str().unwrap().to_owned();
    // the token sees its own agent only, and may change only its own state
    let (code, agents) = status_json(&http(port, "GET", "/api/v1/agents", Some(&token), ""));
    assert_eq!(code, 200, "{agents}");
    let items = agents["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{agents}");
    assert_eq!(items[0]["agent"], "2001");
    let (code, _) = status_json(&http(
        port,
        "POST",
        "/api/v1/agents/2001/state",
        Some(&token),
        "{\"state\":\"login\"}",
    ));
    assert_eq!(code, 200);
    let (code, other) = status_json(&http(
        port,
        "POST",
        "/api/v1/agents/2002/state",
        Some(&token),
        "{\"state\":\"login\"}",
    ));
    assert_eq!(code, 403, "{other}");
    // a second login replaces the first token; logout revokes the live one
    let (_, again) = login("2001", "2001-pw");
    let fresh = again["token"].as_str().unwrap().to_owned();
    assert_eq!(
        status_json(&http(port, "GET", "/api/v1/agents", Some(&token), "")).0,
        401
    );
    let (code, me) = login("2002", "2002-pw");
    assert_eq!(code, 200);
    assert!(me["agent"].is_null(), "2002 is no agent: {me}");
    assert!(http(port, "POST", "/desktop/logout", Some(&fresh), "").starts_with("HTTP/1.1 204"));
    assert_eq!(
        status_json(&http(port, "GET", "/api/v1/agents", Some(&fresh), "")).0,
        401
    );
    assert_eq!(
        status_json(&http(port, "POST", "/desktop/logout", Some(&fresh), "")).0,
        401
    );
    // failed logins count towards the SIP ban of the source (20 by default)
    let codes: Vec<u16> = (0..25).map(|_| login("2001", "guess").0).collect();
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
    assert_eq!(
        login("2001", "2001-pw").0,
        429,
        "a banned source cannot log in at all"
    );
}

/// The browser (over WSS when `wss`, else WS) calls a `pbx phone` on `transport`.
fn browser_calls_a_phone(transport: &str, wss: bool) {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    let (mut phone, heard) = desk.phone(
        "2002",
        transport,
        &["answer", "--duration", "6s", "--wait", "60s"],
    );
    desk.wait_registered("2002@127.0.0.1");
    let hz = hear_hz();
    let mut env = vec![
        ("PBX_NUMBER", "2002"),
        ("PBX_HEAR_HZ", hz.as_str()),
        ("PBX_WAIT_END_MS", "15000"),
    ];
    if wss {
        env.push(("PBX_WS_URL", desk.wss.as_str()));
    }
    let (_b, rx) = desk.browser("call", &env);
    if wss {
        desk.wait_registered_via("2001@127.0.0.1", "via WSS");
    }
    let v = desk.result("call", &rx, Duration::from_secs(60));
    assert_browser_heard(&v);
    let st = phone.0.wait().unwrap();
    assert!(
        st.success(),
        "2002 ({transport}) answered and hung up cleanly"
    );
    assert_phone_heard(&heard, &format!("2002 over {transport}"));
}

#[test]
fn the_browser_over_wss_calls_a_udp_phone_and_they_hear_each_other() {
    browser_calls_a_phone("udp", true);
}

#[test]
fn the_browser_over_ws_calls_a_tcp_phone_and_they_hear_each_other() {
    browser_calls_a_phone("tcp", false);
}

#[test]
fn the_page_holds_resumes_and_blind_transfers_its_call() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    let (mut carol, carol_heard) = desk.phone_playing(
        "2003",
        "udp",
        &["answer", "--duration", "4s", "--wait", "60s"],
        1500.0,
    );
    desk.wait_registered("2003@127.0.0.1");
    let hz = hear_hz();
    // the agent's case: a call comes in, the agent holds, resumes, transfers
    let env = [
        ("PBX_HEAR_HZ", hz.as_str()),
        ("PBX_HOLD", "1"),
        ("PBX_TRANSFER", "2003"),
    ];
    let (_b, rx) = desk.browser("answer", &env);
    desk.wait_registered("2001@127.0.0.1");
    let (mut bob, _) = desk.phone("2002", "udp", &["call", "2001", "--duration", "20s"]);
    let v = desk.result("answer", &rx, Duration::from_secs(60));
    assert_browser_heard(&v);
    let after = &v["heardAfterHold"];
    assert!(
        (after["peakHz"].as_f64().unwrap_or(0.0) - PHONE_HZ).abs() <= 30.0,
        "the audio came back after the hold: {after}"
    );
    // the browser's REFER (from the page's Transfer) rang 2003, which
    // answered and hears 2002's tone: the browser's WebRTC side left the path
    let steps = v["steps"].to_string();
    assert!(
        steps.contains("transferred to 2003"),
        "the REFER was accepted: {steps}"
    );
    assert!(
        carol.0.wait().unwrap().success(),
        "2003 was rung by the transfer:\n{}\n{}",
        desk.browser_log("answer"),
        desk.log()
    );
    assert_hears(&carol_heard, PHONE_HZ, 1500.0, "2003 after the transfer");
    let _ = bob.0.wait();
}

#[test]
fn a_phone_calls_the_browser_which_answers_from_the_page() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    let hz = hear_hz();
    let (_b, rx) = desk.browser(
        "answer",
        &[("PBX_HEAR_HZ", &hz), ("PBX_WAIT_END_MS", "15000")],
    );
    desk.wait_registered("2001@127.0.0.1");
    let (mut phone, heard) = desk.phone("2002", "udp", &["call", "2001", "--duration", "6s"]);
    let v = desk.result("answer", &rx, Duration::from_secs(60));
    assert_browser_heard(&v);
    assert!(phone.0.wait().unwrap().success(), "2002's call connected");
    assert_phone_heard(&heard, "2002");
}

#[test]
fn dtmf_from_the_page_keypad_reaches_an_ivr_menu() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    // key 2 of the menu transfers the caller to 2002
    let (mut phone, heard) = desk.phone(
        "2002",
        "udp",
        &["answer", "--duration", "5s", "--wait", "60s"],
    );
    desk.wait_registered("2002@127.0.0.1");
    let (_b, rx) = desk.browser(
        "call",
        &[
            ("PBX_NUMBER", "500"),
            ("PBX_DIGITS", "2"),
            ("PBX_WAIT_END_MS", "20000"),
        ],
    );
    let v = desk.result("call", &rx, Duration::from_secs(60));
    assert!(
        phone.0.wait().unwrap().success(),
        "the menu's key 2 rang 2002: {v}"
    );
    assert_phone_heard(&heard, "2002 after the IVR");
}

#[test]
fn a_browser_agent_answers_a_queue_call_with_the_pop_filled() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let desk = Desk::start(tmp.path());
    let hz = hear_hz();
    let (_b, rx) = desk.browser(
        "agent",
        &[("PBX_HEAR_HZ", &hz), ("PBX_WAIT_END_MS", "15000")],
    );
    // the page logged the agent in and made it available
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "the agent never became available:\n{}",
                    desk.browser_log("agent")
                )
            });
        if line.contains("\"ready\":true") {
            break;
        }
    }
    let (mut caller, heard) = desk.phone("2003", "udp", &["call", "600", "--duration", "8s"]);
    let v = desk.result("agent", &rx, Duration::from_secs(60));
    assert_eq!(v["pop"]["Skill group"], "support", "{v}");
    assert!(
        v["agentState"]
            .as_str()
            .unwrap_or_default()
            .starts_with("available"),
        "{v}"
    );
    assert_browser_heard(&v);
    assert!(
        caller.0.wait().unwrap().success(),
        "the queue call connected"
    );
    assert_phone_heard(&heard, "the caller");
}
