//! The shared harness of the end-to-end suite: a `pbx serve` child process with
//! its own config, ports and data dir ([`Pbx`]), sipp runs ([`Sipp`]) and a tiny
//! raw SIP-over-UDP user agent for single crafted messages ([`RawUa`]).
//!
//! Every wait is bounded; every test gets distinct ports and a distinct temp dir,
//! so the tests run in parallel.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const SIPP_HARD_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether sipp is usable. When it is not and `PBX_E2E_REQUIRE_SIPP` is unset,
/// the caller skips (with a message); when the variable is set (CI), this panics.
pub(crate) fn sipp_available() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v sipp"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_some() {
        panic!(
            "sipp is not installed but PBX_E2E_REQUIRE_SIPP is set (apt-get install -y sip-tester)"
        );
    }
    eprintln!("SKIPPED: sipp is not installed (apt-get install -y sip-tester); set PBX_E2E_REQUIRE_SIPP=1 to fail instead");
    false
}

/// Returns early from a test when sipp is missing (see [`sipp_available`]).
#[macro_export]
macro_rules! require_sipp {
    () => {
        if !$crate::harness::sipp_available() {
            return;
        }
    };
}

/// A port free for both UDP and TCP on 127.0.0.1, never handed out twice in this process.
pub(crate) fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..200 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        let port = udp.local_addr().expect("local addr").port();
        let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        drop((udp, tcp));
        let mut given = GIVEN.lock().expect("port set lock");
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free UDP+TCP port found");
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Waits for a child at most `timeout`, killing it when it overruns.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs a command to completion with a hard timeout, capturing its output.
pub(crate) fn run_bounded(mut cmd: Command, timeout: Duration) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn command");
    let status = wait_bounded(&mut child, timeout)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {timeout:?}"));
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// The base users of every server: `alice`, `bob`, `carol`, password `NAME-secret`.
pub(crate) const BASE_USERS: [&str; 3] = ["alice", "bob", "carol"];

/// The password of a base user.
pub(crate) fn password(user: &str) -> String {
    format!("{user}-secret")
}

/// `[[users]]` entries for `names` (password `NAME-secret`).
pub(crate) fn users_toml<S: AsRef<str>>(names: &[S]) -> String {
    let mut s = String::new();
    for n in names {
        let n = n.as_ref();
        let _ = write!(
            s,
            "\n[[users]]\nname = \"{n}\"\npassword = \"{}\"\n",
            password(n)
        );
    }
    s
}

/// A running `pbx serve` with its own config, ports and data dir.
pub(crate) struct Pbx {
    dir: tempfile::TempDir,
    /// SIP port (UDP and TCP).
    pub(crate) port: u16,
    /// The config file.
    pub(crate) config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Pbx {
    /// Writes a config (`extra_toml` is appended: `[security]`, `[registrar]`,
    /// more `[[users]]`...) and starts the server; returns once it answers OPTIONS.
    pub(crate) fn start(extra_toml: &str) -> Self {
        Self::start_with_metrics(extra_toml, "off")
    }

    /// Like [`Pbx::start`] with the HTTP endpoint (`/metrics`, `/calls`) on
    /// `metrics_listen` (an address, or `off`).
    pub(crate) fn start_with_metrics(extra_toml: &str, metrics_listen: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let data = dir.path().join("data");
        let config = dir.path().join("pbx.toml");
        let text = format!(
            "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\"]\n\
             data_dir = \"{}\"\nudp_threads = 1\n\n[metrics]\nlisten = \"{metrics_listen}\"\n\n{extra_toml}\n{}",
            data.display(),
            users_toml(&BASE_USERS)
        );
        std::fs::write(&config, text).expect("write config");
        let log = dir.path().join("pbx.log");
        let mut pbx = Self {
            dir,
            port,
            config,
            log,
            child: None,
        };
        pbx.spawn();
        pbx
    }

    /// The test's temp dir (sipp logs, files).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SIP address.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(env!("CARGO_BIN_EXE_pbx"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("PBX_LOG", "info,pbx_core=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn pbx serve");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let ua = RawUa::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "pbx serve exited during start-up ({status}); log:\n{}",
                    self.log_text()
                );
            }
            if ua
                .options(self.addr(), Duration::from_millis(200))
                .is_some_and(|r| r.status() == 200)
            {
                return;
            }
        }
        panic!(
            "pbx serve did not answer OPTIONS within {READY_TIMEOUT:?}; log:\n{}",
            self.log_text()
        );
    }

    /// The server's log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, no flush.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill -9 pbx");
            c.wait().expect("reap pbx");
        }
    }

    /// SIGTERM, then waits (bounded) for a graceful exit; returns whether it exited 0.
    pub(crate) fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let pid = c.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_bounded(&mut c, Duration::from_secs(10)).is_some_and(|s| s.success())
    }

    /// Starts the server again on the same config and data dir.
    pub(crate) fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Runs `pbx --config <this config> ARGS...` (an admin subcommand).
    pub(crate) fn admin(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pbx"));
        cmd.arg("--config").arg(&self.config).args(args);
        run_bounded(cmd, ADMIN_TIMEOUT)
    }

    /// `pbx registrations`, stdout, asserting success.
    pub(crate) fn registrations(&self) -> String {
        let out = self.admin(&["registrations"]);
        assert!(
            out.status.success(),
            "pbx registrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A sipp run against this server (see [`Sipp`]).
    pub(crate) fn sipp(&self, scenario: &str) -> Sipp {
        Sipp::new(self, scenario)
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- pbx log ({}) -----\n{}\n----- end of pbx log -----",
                self.log.display(),
                self.log_text()
            );
        }
        self.kill9();
    }
}

/// The outcome of a sipp run.
#[derive(Debug)]
pub(crate) struct SippResult {
    /// Exit status (0: every call succeeded).
    pub(crate) status: Option<i32>,
    /// The `-trace_err` log.
    pub(crate) errors: String,
    /// The `-trace_msg` log.
    pub(crate) messages: String,
    /// sipp's stderr/stdout.
    pub(crate) output: String,
}

impl SippResult {
    /// Panics with the logs of both sides unless both succeeded (the peer's first).
    pub(crate) fn assert_both(&self, what: &str, peer: &Self, peer_what: &str) {
        if self.status != Some(0) {
            eprintln!(
                "--- {peer_what}: status {:?}, messages ---\n{}\n--- errors ---\n{}",
                peer.status, peer.messages, peer.errors
            );
        }
        self.assert_ok(what);
        peer.assert_ok(peer_what);
    }

    /// Panics with the logs unless every call succeeded.
    pub(crate) fn assert_ok(&self, what: &str) {
        assert_eq!(
            self.status,
            Some(0),
            "{what}: sipp failed\n--- errors ---\n{}\n--- output ---\n{}\n--- messages ---\n{}",
            self.errors,
            self.output,
            self.messages
        );
    }
}

static SIPP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A sipp invocation: `-sf fixtures/sipp/NAME.xml -i 127.0.0.1 -p PORT -m N
/// -timeout 20s -timeout_error -trace_err -nostdin`, plus whatever is added.
pub(crate) struct Sipp {
    args: Vec<String>,
    /// The local port sipp binds.
    pub(crate) port: u16,
    remote: Option<SocketAddr>,
    work: PathBuf,
    name: String,
}

/// A sipp running in the background (a UAS).
pub(crate) struct SippChild {
    child: Option<Child>,
    sipp: Sipp,
}

impl Sipp {
    fn new(pbx: &Pbx, scenario: &str) -> Self {
        let seq = SIPP_SEQ.fetch_add(1, Ordering::Relaxed);
        Self {
            args: Vec::new(),
            port: free_port(),
            remote: Some(pbx.addr()),
            work: pbx.dir().to_owned(),
            name: format!("{scenario}-{seq}"),
        }
        .scenario(scenario)
    }

    fn scenario(mut self, scenario: &str) -> Self {
        let path = fixtures_dir().join("sipp").join(format!("{scenario}.xml"));
        assert!(path.exists(), "no scenario {}", path.display());
        self.args.push("-sf".into());
        self.args.push(path.display().to_string());
        self
    }

    /// Another argument.
    pub(crate) fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// `-key NAME VALUE`.
    pub(crate) fn key(self, name: &str, value: impl Into<String>) -> Self {
        self.arg("-key").arg(name).arg(value)
    }

    /// `-s SERVICE` (the user part of the Request-URI).
    pub(crate) fn service(self, s: &str) -> Self {
        self.arg("-s").arg(s)
    }

    /// `-au USER -ap PASSWORD`.
    pub(crate) fn auth(self, user: &str, password: &str) -> Self {
        self.arg("-au").arg(user).arg("-ap").arg(password)
    }

    /// `-t t1` (TCP, one connection).
    pub(crate) fn tcp(self) -> Self {
        self.arg("-t").arg("t1")
    }

    /// Use this local port instead of a fresh one (a UAS whose address was registered).
    pub(crate) fn local_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// No remote host (a UAS only answers).
    pub(crate) fn server(mut self) -> Self {
        self.remote = None;
        self
    }

    fn file(&self, kind: &str) -> PathBuf {
        self.work.join(format!("sipp-{}-{kind}.log", self.name))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("sipp");
        cmd.current_dir(&self.work)
            .args(&self.args)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-mp",
                &free_port().to_string(),
            ])
            .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(self.file("errors"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(self.file("messages"));
        if let Some(r) = self.remote {
            cmd.arg(r.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(File::create(self.file("output")).expect("sipp output file"))
            .stderr(File::create(self.file("stderr")).expect("sipp stderr file"));
        cmd
    }

    fn result(&self, status: Option<ExitStatus>) -> SippResult {
        let read = |k: &str| std::fs::read_to_string(self.file(k)).unwrap_or_default();
        SippResult {
            status: status.and_then(|s| s.code()),
            errors: read("errors"),
            messages: read("messages"),
            output: format!("{}{}", read("stderr"), read("output")),
        }
    }

    /// Runs to completion (bounded).
    pub(crate) fn run(self) -> SippResult {
        let mut child = self.command().spawn().expect("spawn sipp");
        let status = wait_bounded(&mut child, SIPP_HARD_TIMEOUT);
        self.result(status)
    }

    /// Starts in the background and returns once its port is bound (bounded).
    pub(crate) fn spawn(self) -> SippChild {
        let child = self.command().spawn().expect("spawn sipp");
        let deadline = Instant::now() + Duration::from_secs(5);
        let tcp = self.args.iter().any(|a| a == "t1");
        loop {
            let bound = if tcp {
                TcpListener::bind(("127.0.0.1", self.port)).is_err()
            } else {
                UdpSocket::bind(("127.0.0.1", self.port)).is_err()
            };
            if bound {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sipp did not bind port {} within 5 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SippChild {
            child: Some(child),
            sipp: self,
        }
    }
}

impl SippChild {
    /// Waits for it to finish (bounded).
    pub(crate) fn wait(mut self) -> SippResult {
        let mut child = self.child.take().expect("sipp child present");
        let status = wait_bounded(&mut child, SIPP_HARD_TIMEOUT);
        self.sipp.result(status)
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A received SIP message, parsed just enough for assertions.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    /// The first line.
    pub(crate) start: String,
    /// Headers in order (name as sent, value trimmed).
    pub(crate) headers: Vec<(String, String)>,
    /// Everything.
    pub(crate) raw: String,
}

impl Msg {
    fn parse(raw: &str) -> Option<Self> {
        let head = raw.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(Self {
            start,
            headers,
            raw: raw.to_owned(),
        })
    }

    /// The status code of a response (0 for a request).
    pub(crate) fn status(&self) -> u16 {
        self.start
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The reason phrase of a response.
    pub(crate) fn reason(&self) -> &str {
        self.start.splitn(3, ' ').nth(2).unwrap_or("")
    }

    /// All values of a header (case-insensitive name).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }
}

/// Digest algorithm of a raw REGISTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
}

impl Alg {
    fn token(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    fn h(self, s: &str) -> String {
        match self {
            Self::Md5 => hex::encode(Md5::digest(s.as_bytes())),
            Self::Sha256 => hex::encode(Sha256::digest(s.as_bytes())),
        }
    }
}

/// One parameter of a `Digest a="b", c=d` challenge.
fn challenge_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let rest = challenge.trim_start().strip_prefix("Digest")?;
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"'))
    })
}

/// The outcome of [`RawUa::register`].
#[derive(Debug)]
pub(crate) struct RegisterOutcome {
    /// The 401 to the first, credential-less REGISTER.
    pub(crate) challenge: Msg,
    /// The final answer to the REGISTER with credentials (None: no answer).
    pub(crate) answer: Option<Msg>,
}

static RAW_SEQ: AtomicU64 = AtomicU64::new(0);

/// A minimal SIP UA over one UDP socket on 127.0.0.1.
pub(crate) struct RawUa {
    /// The socket.
    pub(crate) sock: UdpSocket,
}

impl Default for RawUa {
    fn default() -> Self {
        Self::new()
    }
}

impl RawUa {
    /// A UA on a fresh ephemeral port.
    pub(crate) fn new() -> Self {
        Self {
            sock: UdpSocket::bind("127.0.0.1:0").expect("bind raw UA socket"),
        }
    }

    /// The local address.
    pub(crate) fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("local addr")
    }

    /// A fresh identifier (branch suffix, Call-ID, tag).
    pub(crate) fn unique(&self) -> String {
        format!(
            "{}-{}-{}",
            std::process::id(),
            self.local().port(),
            RAW_SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A Via of this UA with a fresh branch.
    pub(crate) fn via(&self) -> String {
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK-{};rport",
            self.local(),
            self.unique()
        )
    }

    /// Sends raw bytes.
    pub(crate) fn send_bytes(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).expect("send datagram");
    }

    /// Receives one datagram within `timeout` (None: nothing, or not SIP).
    /// Retries when a signal (a child exiting) interrupts the wait.
    pub(crate) fn recv(&self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        let n = loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set timeout");
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("recv: {e}"),
            }
        };
        Msg::parse(&String::from_utf8_lossy(&buf[..n]))
    }

    /// Sends `msg` and returns the first final response with its Call-ID (provisional ones are skipped).
    pub(crate) fn transact(&self, to: SocketAddr, msg: &str, timeout: Duration) -> Option<Msg> {
        let call_id = Msg::parse(msg).and_then(|m| m.header("Call-ID").map(str::to_owned));
        self.send_bytes(to, msg.as_bytes());
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let m = self.recv(left)?;
            if m.status() >= 200 && m.header("Call-ID").map(str::to_owned) == call_id {
                return Some(m);
            }
        }
    }

    /// OPTIONS to the server itself.
    pub(crate) fn options(&self, to: SocketAddr, timeout: Duration) -> Option<Msg> {
        let id = self.unique();
        let msg = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{l}>;tag={id}\r\n\
             To: <sip:{to}>\r\nCall-ID: opt-{id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            self.via(),
            l = self.local(),
        );
        self.transact(to, &msg, timeout)
    }

    /// A REGISTER for `user` with `contact`; `auth` is an extra Authorization line.
    pub(crate) fn register_msg(
        &self,
        to: SocketAddr,
        user: &str,
        contact: &str,
        call_id: &str,
        cseq: u32,
        auth: Option<&str>,
    ) -> String {
        let mut m = format!(
            "REGISTER sip:{host} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag={call_id}\r\n\
             To: <sip:{user}@{host}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\nExpires: 3600\r\n",
            self.via(),
            host = to.ip(),
        );
        if let Some(a) = auth {
            let _ = write!(m, "Authorization: {a}\r\n");
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// REGISTER → 401 → REGISTER with digest credentials (qop=auth) of `alg`.
    /// Panics if the first answer is not a 401 offering `alg`.
    pub(crate) fn register(
        &self,
        to: SocketAddr,
        user: &str,
        password: &str,
        contact: &str,
        alg: Alg,
    ) -> RegisterOutcome {
        let call_id = format!("reg-{}", self.unique());
        let t = Duration::from_secs(2);
        let first = self.register_msg(to, user, contact, &call_id, 1, None);
        let challenge = self
            .transact(to, &first, t)
            .unwrap_or_else(|| panic!("no answer to REGISTER of {user}"));
        assert_eq!(
            challenge.status(),
            401,
            "first REGISTER of {user}: {}",
            challenge.raw
        );
        let www = challenge
            .all("WWW-Authenticate")
            .into_iter()
            .find(|c| {
                challenge_param(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case(alg.token()))
            })
            .unwrap_or_else(|| panic!("no {} challenge in {}", alg.token(), challenge.raw))
            .to_owned();
        let realm = challenge_param(&www, "realm").expect("realm in challenge");
        let nonce = challenge_param(&www, "nonce").expect("nonce in challenge");
        let uri = format!("sip:{}", to.ip());
        let cnonce = format!("c{}", self.unique().replace('-', ""));
        let ha1 = alg.h(&format!("{user}:{realm}:{password}"));
        let ha2 = alg.h(&format!("REGISTER:{uri}"));
        let response = alg.h(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        let auth = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", \
             algorithm={}, qop=auth, nc=00000001, cnonce=\"{cnonce}\"",
            alg.token()
        );
        let second = self.register_msg(to, user, contact, &call_id, 2, Some(&auth));
        let answer = self.transact(to, &second, t);
        RegisterOutcome { challenge, answer }
    }

    /// [`Self::register`] with MD5, asserting a 200.
    pub(crate) fn register_ok(&self, to: SocketAddr, user: &str, contact: &str) -> Msg {
        let out = self.register(to, user, &password(user), contact, Alg::Md5);
        let answer = out
            .answer
            .unwrap_or_else(|| panic!("no answer to authenticated REGISTER of {user}"));
        assert_eq!(answer.status(), 200, "REGISTER of {user}: {}", answer.raw);
        answer
    }

    /// An out-of-dialog INVITE to `ruri` from `from`, with `extra` header lines.
    pub(crate) fn invite_msg(&self, ruri: &str, from: &str, extra: &str) -> String {
        let id = self.unique();
        format!(
            "INVITE {ruri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <{from}>;tag={id}\r\nTo: <{ruri}>\r\n\
             Call-ID: inv-{id}\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@{}>\r\n{extra}Content-Length: 0\r\n\r\n",
            self.via(),
            self.local()
        )
    }
}
