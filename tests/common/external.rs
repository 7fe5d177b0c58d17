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
    http(port, "GET", path)
}

/// `<method> path` (no body) on 127.0.0.1:`port`: status and body.
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
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
    spawn_medic_with(pipeline, stages, log, &[])
}

/// [`spawn_medic`] with extra environment variables (e.g. `MEDIC__<SECTION>__<KEY>` overrides).
///
/// # Panics
/// When the binary cannot start.
pub fn spawn_medic_with(
    pipeline: &std::path::Path,
    stages: &[&str],
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Medic {
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
    command.envs(env.iter().copied());
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

/// The value of one sample on medic's `/metrics` at 127.0.0.1:`admin_port`, e.g.
/// `medic_records_out_total{kind="log_record",stage="ingest"}` (labels sorted by name); `None` when
/// medic does not answer, 0 when the sample is not there yet.
pub fn metric(admin_port: u16, sample: &str) -> Option<f64> {
    let (status, body) = http_get(admin_port, "/metrics")?;
    if status != 200 {
        return None;
    }
    Some(
        body.lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|value| value.trim().parse().ok())
            })
            .unwrap_or(0.0),
    )
}

/// Resident memory of process `pid` from `/proc/<pid>/status`: (`VmRSS`, `VmHWM`) in KiB — now and the
/// peak since it started.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            line.strip_prefix(name)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Creates `topic` with `partitions` partitions on `brokers` unless it exists.
///
/// # Panics
/// When the broker refuses for another reason.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topics");
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => panic!("cannot create {topic}: {code}"),
        }
    }
}

/// Produces every `(key, payload)` to `topic` with an idempotent producer (in order per key, all in
/// flight at once) and returns where each landed: (partition, offset), in input order.
///
/// # Panics
/// When a record cannot be delivered within 60 s.
pub async fn produce_all(
    brokers: &str,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Vec<(i32, i64)> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let sends = records.iter().map(|(key, payload)| {
        producer.send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(60),
        )
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|delivered| {
            let delivered = delivered.map_err(|(e, _)| e).expect("produce");
            (delivered.partition, delivered.offset)
        })
        .collect()
}

/// A consumer in its own group reading `topics` from the beginning (for reading what medic wrote).
///
/// # Panics
/// When the consumer cannot be created or subscribed.
pub fn observer(brokers: &str, group: &str, topics: &[&str]) -> rdkafka::consumer::StreamConsumer {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer.subscribe(topics).expect("subscribe");
    consumer
}

/// Sends SIGTERM to `medic` and waits up to `limit` for it to exit; its exit status.
///
/// # Panics
/// When it does not exit in time.
pub fn terminate(medic: &mut Medic, limit: Duration) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &medic.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(exit) = medic.0.try_wait().expect("poll child") {
            return exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "medic did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The latest checkpoint stored under `key` (e.g. `medic-enrich`) on the checkpoint topic `topic`.
///
/// # Panics
/// When the topic cannot be read.
pub fn latest_checkpoint(
    brokers: &str,
    topic: &str,
    key: &str,
) -> Option<medic::kafka::Checkpoint> {
    let kafka = medic::config::KafkaConfig {
        brokers: brokers.to_owned(),
        ..medic::config::KafkaConfig::default()
    };
    medic::kafka::load_latest(&kafka, topic, key, Duration::from_secs(30)).expect("readable")
}

/// A fresh, empty directory under the system's temporary directory, named after a new run id.
pub fn scratch_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(run_id(prefix));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The `[topics]` entries of a pipeline file naming every internal topic `<run_id>.<name>`, so a run
/// has topics of its own.
pub fn run_topics(run_id: &str) -> String {
    medic::config::TopicsConfig::default()
        .named()
        .iter()
        .map(|(name, _)| format!("{name} = \"{run_id}.{name}\"\n"))
        .collect()
}
