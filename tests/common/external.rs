//! Helpers for tests against the external test services: the Tansu broker (`scripts/kafka-up.sh`) and
//! `medic` child processes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::Duration;

/// The test broker's address (`MEDIC_TEST_BROKERS`, default `127.0.0.1:19092`).
///
/// # Panics
/// When nothing answers there, with how to start it.
pub fn brokers() -> String {
    let brokers =
        std::env::var("MEDIC_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    assert!(
        TcpStream::connect_timeout(
            &first.parse().expect("MEDIC_TEST_BROKERS is host:port"),
            Duration::from_secs(2)
        )
        .is_ok(),
        "no Kafka-protocol broker answers at {brokers}. Start the test broker with `scripts/kafka-up.sh` \
         (the README's test command, scripts/test.sh, does this), or point MEDIC_TEST_BROKERS at one."
    );
    brokers
}

/// A name for one test run's topics and files: `<prefix><pid>x<ms since the epoch>`.
pub fn run_id(prefix: &str) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    format!("{prefix}{}x{ms}", std::process::id())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `GET path` on 127.0.0.1:`port`: status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// Kills the child on drop so a failing test leaves no process behind.
pub struct Medic(pub Child);

impl Drop for Medic {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `medic run --pipeline <pipeline> [--stage <stage>]…` with its log in `log`.
///
/// # Panics
/// When the binary cannot start.
pub fn spawn_medic(pipeline: &std::path::Path, stages: &[&str], log: &std::path::Path) -> Medic {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_medic"));
    command.args(["run", "--pipeline"]).arg(pipeline);
    for stage in stages {
        command.args(["--stage", stage]);
    }
    Medic(
        command
            .env("MEDIC_LOG", "info,rdkafka=warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("medic run starts"),
    )
}

/// Waits until medic's admin port answers `/readyz` with 200.
///
/// # Panics
/// When medic exits or is not ready within a minute; the panic carries `log`'s content.
pub fn wait_ready(medic: &mut Medic, admin_port: u16, log: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let text = || std::fs::read_to_string(log).unwrap_or_default();
    while http_get(admin_port, "/readyz").map(|(s, _)| s) != Some(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "medic never became ready:\n{}",
            text()
        );
        assert!(
            medic.0.try_wait().expect("poll child").is_none(),
            "medic exited early:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates `topic` with `partitions` on the external broker at `brokers` (it must not exist yet).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create topics");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("cannot create {t}: {e}"));
    }
}

/// A fresh, empty directory under the system's temporary directory, named after a new run id.
pub fn scratch_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(run_id(prefix));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
