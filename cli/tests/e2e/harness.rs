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
        // Relay and media endpoint ports of the pbx instances under test
        // live below 45000 (tests' own ranges and the defaults).
        if port < 45_000 {
            continue;
        }
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

/// A relay port range of its own for one pbx under test (tests run in
/// parallel): 200 ports from 20000-29999, below the kernel's ephemeral
/// ports (32768-) and the default relay (30000-39999) and media endpoint
/// (40000-44999) ranges other pbx instances use.
pub(crate) fn relay_range() -> (u16, u16) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 50;
    let base = 20_000 + (n as u16) * 200;
    (base, base + 199)
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

/// Runs a command whose reader leaves early, as `cmd | head -c N` does: reads
/// `keep` bytes of its standard output, closes the pipe, and waits (bounded)
/// for the exit. Returns the exit status and the standard error.
pub(crate) fn run_reader_leaves(
    mut cmd: Command,
    keep: usize,
    timeout: Duration,
) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let err_path = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn command");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut head = vec![0; keep];
    std::io::Read::read_exact(&mut stdout, &mut head).expect("the first bytes of the output");
    drop(stdout);
    let status = wait_bounded(&mut child, timeout)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {timeout:?}"));
    let stderr =
        String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned();
    (status, stderr)
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
        Self::start_config(|port, data| {
            format!(
                "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\"]\n\
                 data_dir = \"{}\"\nudp_threads = 1\n\n[metrics]\nlisten = \"{metrics_listen}\"\n\n{extra_toml}\n{}",
                data.display(),
                users_toml(&BASE_USERS)
            )
        })
    }

    /// Starts the server on a whole config written by `text(port, data_dir)`
    /// (a fixture adapted to the test's free port and data directory).
    pub(crate) fn start_config(text: impl FnOnce(u16, &Path) -> String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let data = dir.path().join("data");
        let config = dir.path().join("pbx.toml");
        std::fs::write(&config, text(port, &data)).expect("write config");
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
    /// How long sipp may run (its own `-timeout`; the harness kills it a
    /// little later).
    limit: Duration,
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
            limit: Duration::from_secs(20),
        }
        .scenario(scenario)
        // the From user of the UAC scenarios (`[caller]`)
        .key("caller", "caller")
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

    /// `-key NAME VALUE` (replacing an earlier value of NAME).
    pub(crate) fn key(mut self, name: &str, value: impl Into<String>) -> Self {
        let earlier = self
            .args
            .windows(2)
            .position(|w| w[0] == "-key" && w[1] == name);
        match earlier {
            Some(i) => {
                self.args[i + 2] = value.into();
                self
            }
            None => self.arg("-key").arg(name).arg(value),
        }
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

    /// Let the scenario run up to `limit` (default 20 s).
    pub(crate) fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
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
            .args(["-m", "1", "-timeout"])
            .arg(format!("{}s", self.limit.as_secs()))
            .args(["-timeout_error", "-nostdin"])
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
        for _ in 0..2 {
            let mut child = self.command().spawn().expect("spawn sipp");
            let status = wait_bounded(
                &mut child,
                SIPP_HARD_TIMEOUT.max(self.limit + Duration::from_secs(10)),
            );
            let result = self.result(status);
            // A media port (-mp) taken by another test's relay meanwhile:
            // sipp gives up before sending anything; try a fresh one.
            let unbound = result.status != Some(0)
                && result.messages.is_empty()
                && result.output.to_ascii_lowercase().contains("bind");
            if !unbound {
                return result;
            }
        }
        let mut child = self.command().spawn().expect("spawn sipp");
        let status = wait_bounded(
            &mut child,
            SIPP_HARD_TIMEOUT.max(self.limit + Duration::from_secs(10)),
        );
        self.result(status)
    }

    /// Starts in the background and returns once its port is bound (bounded).
    pub(crate) fn spawn(self) -> SippChild {
        // sipp exits at once when its media port (-mp, picked fresh per
        // attempt) collides with a port another test's relay took meanwhile:
        // such an attempt is retried; a slow start gets 15 s.
        let tcp = self.args.iter().any(|a| a == "t1");
        for _ in 0..3 {
            let mut child = self.command().spawn().expect("spawn sipp");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let bound = if tcp {
                    TcpListener::bind(("127.0.0.1", self.port)).is_err()
                } else {
                    UdpSocket::bind(("127.0.0.1", self.port)).is_err()
                };
                if bound {
                    return SippChild {
                        child: Some(child),
                        sipp: self,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "sipp did not bind port {} within 15 s",
                    self.port
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "sipp exited three times before binding port {}: {}",
            self.port,
            std::fs::read_to_string(self.file("stderr")).unwrap_or_default()
        );
    }
}

impl SippChild {
    /// Waits for it to finish (bounded).
    pub(crate) fn wait(mut self) -> SippResult {
        let mut child = self.child.take().expect("sipp child present");
        let limit = SIPP_HARD_TIMEOUT.max(self.sipp.limit + Duration::from_secs(10));
        let status = wait_bounded(&mut child, limit);
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

pub(crate) use crate::raw_ua::{Alg, Msg, RawUa};
