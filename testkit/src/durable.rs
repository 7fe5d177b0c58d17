//! A private Apache Kafka broker whose data outlives it, for tests that kill and restart the broker: the
//! test broker of `scripts/kafka-up.sh`, run in the foreground (`--foreground`) on its own ports and its
//! own log directory, so a SIGKILL hits the broker itself and a restart recovers from the same log dirs.

use crate::scratch::free_port;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Apache Kafka on 127.0.0.1:`port`, its data under a directory of the test's.
pub struct DurableBroker {
    /// The broker's port.
    pub port: u16,
    controller_port: u16,
    dir: PathBuf,
    /// `MEDIC_KAFKA_SCRAM_USERS` of `scripts/kafka-up.sh`, when the broker authenticates and authorises.
    scram_users: Option<String>,
    broker: Option<Child>,
    /// How many times the broker was started.
    pub starts: u32,
}

impl DurableBroker {
    /// Starts a broker whose configuration, data and log (`server.log`) live in `<dir>/kafka`.
    ///
    /// # Panics
    /// When it does not come up within 60 s (`scripts/kafka-up.sh --install` must have run).
    pub fn start(dir: &Path) -> Self {
        Self::start_as(dir, None)
    }

    /// Starts a broker like [`DurableBroker::start`] whose clients authenticate as one of `users`
    /// (name, password; SCRAM-SHA-512 over SASL_PLAINTEXT) and are authorised by ACLs alone: the first
    /// user is the super user, the others may do nothing until an ACL allows it.
    ///
    /// # Panics
    /// As [`DurableBroker::start`].
    pub fn start_with_users(dir: &Path, users: &[(&str, &str)]) -> Self {
        let users: Vec<String> = users.iter().map(|(u, p)| format!("{u}={p}")).collect();
        Self::start_as(dir, Some(users.join(" ")))
    }

    fn start_as(dir: &Path, scram_users: Option<String>) -> Self {
        let port = free_port();
        let controller_port = free_port();
        let mut broker = Self {
            port,
            controller_port,
            dir: dir.join("kafka"),
            scram_users,
            broker: None,
            starts: 0,
        };
        std::fs::create_dir_all(&broker.dir).expect("broker dir");
        broker.up();
        broker
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker on its ports and log dirs; waits until it answers.
    ///
    /// # Panics
    /// When it does not within 60 s (its port can stay taken for a moment after a kill: retried).
    pub fn up(&mut self) {
        let log_path = self.dir.join("server.log");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("broker log");
            let mut child = Command::new("bash")
                .arg(crate::repository().join("scripts/kafka-up.sh"))
                .arg("--foreground")
                .env("MEDIC_KAFKA_PORT", self.port.to_string())
                .env(
                    "MEDIC_KAFKA_CONTROLLER_PORT",
                    self.controller_port.to_string(),
                )
                .env("MEDIC_KAFKA_DIR", &self.dir)
                .env(
                    "MEDIC_KAFKA_SCRAM_USERS",
                    self.scram_users.as_deref().unwrap_or_default(),
                )
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("the broker starts");
            while !answers(self.port) && child.try_wait().expect("poll").is_none() {
                if Instant::now() >= deadline {
                    kill(&mut child);
                    panic!(
                        "the broker did not come up within 60 s; its log:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
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
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the broker with SIGKILL (its log dirs stay).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.broker.take() {
            kill(&mut child);
        }
    }
}

impl Drop for DurableBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
