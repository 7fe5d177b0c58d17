//! Least privilege on Apache Kafka: a broker that authenticates (SCRAM-SHA-512) and authorises by ACLs
//! alone, one principal per stage with exactly the ACLs `medic kafka acls` prints, topics created by an
//! administrator (`medic kafka create-topics`). The whole loop runs as six processes, each as its own
//! principal, and what a stage's principal must not do (ingest writing commands, the actuator minting
//! them, decide reading raw records) the broker refuses.

use super::common::MACHINE;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{ActionResult, RecordKind};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::kafka::{client, observer_as, produce_all_as, run_pipeline};
use testkit::process::{Launch, Medic};
use testkit::scratch::{free_port, run_id, scratch_dir};

const ADMIN: (&str, &str) = ("admin", "admin-secret");
const STAGES: [&str; 6] = ["ingest", "enrich", "diagnose", "decide", "act", "actuator"];

fn password(stage: &str) -> String {
    format!("{stage}-secret")
}

/// `medic <args>` as the administrator, with the pipeline's SASL settings; its stdout.
fn medic_as_admin(pipeline: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new(testkit::process::medic_bin())
        .args(args)
        .args(["--pipeline", &pipeline.display().to_string()])
        .env("MEDIC__KAFKA__PROPERTIES__SASL.USERNAME", ADMIN.0)
        .env("MEDIC__KAFKA__PROPERTIES__SASL.PASSWORD", ADMIN.1)
        .env("MEDIC_LOG", "warn")
        .output()
        .expect("medic runs");
    assert!(
        output.status.success(),
        "medic {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Adds the ACLs `medic kafka acls --format lines` prints, as the administrator, with
/// scripts/kafka/AclApply.java on the broker's own jars.
fn add_acls(dir: &Path, pipeline: &Path, brokers: &str) {
    let acls = medic_as_admin(pipeline, &["kafka", "acls", "--format", "lines"]);
    let install = Command::new("bash")
        .arg(testkit::repository().join("scripts/kafka-up.sh"))
        .arg("--install")
        .output()
        .expect("kafka-up --install");
    let home = String::from_utf8_lossy(&install.stdout).trim().to_owned();
    let properties = dir.join("admin.properties");
    std::fs::write(
        &properties,
        format!(
            "bootstrap.servers={brokers}\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"{}\" password=\"{}\";\n",
            ADMIN.0, ADMIN.1
        ),
    )
    .expect("admin properties");
    let mut java = Command::new("java")
        .arg("-cp")
        .arg(format!("{home}/libs/*"))
        .arg(testkit::repository().join("scripts/kafka/AclApply.java"))
        .arg(&properties)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs");
    std::io::Write::write_all(&mut java.stdin.take().expect("stdin"), &acls).expect("acls in");
    let output = java.wait_with_output().expect("java ends");
    assert!(
        output.status.success(),
        "AclApply: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether producing one record to `topic` as `user` is refused for authorisation.
async fn write_refused(brokers: &str, user: (&str, &str), topic: &str) -> bool {
    let producer: FutureProducer = client(brokers, Some(user))
        .set("message.timeout.ms", "15000")
        .create()
        .expect("producer");
    let sent = producer
        .send(
            FutureRecord::to(topic).key("probe").payload("{}"),
            Duration::from_secs(15),
        )
        .await;
    match sent {
        Err((KafkaError::MessageProduction(code), _)) => {
            code == RDKafkaErrorCode::TopicAuthorizationFailed
        }
        Err((other, _)) => panic!("{} writing {topic}: {other}", user.0),
        Ok(_) => false,
    }
}

/// Whether reading `topic` in `group` as `user` is refused for authorisation.
async fn read_refused(brokers: &str, user: (&str, &str), group: &str, topic: &str) -> bool {
    let consumer = observer_as(client(brokers, Some(user)), group, &[topic]);
    match tokio::time::timeout(Duration::from_secs(15), consumer.recv()).await {
        Ok(Err(KafkaError::MessageConsumption(code))) => matches!(
            code,
            RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::GroupAuthorizationFailed
        ),
        Ok(Err(other)) => panic!("{} reading {topic}: {other}", user.0),
        Ok(Ok(_)) | Err(_) => false,
    }
}

/// Starts `stage` as its own principal, creating nothing, with command keys `keys`; and its admin port.
fn launch(stage: &str, pipeline: &Path, dir: &Path, keys: &str) -> (Medic, u16) {
    let port = free_port();
    let user = format!("medic-{stage}");
    let secret = password(stage);
    let listen = format!("127.0.0.1:{port}");
    let medic = Launch::new(pipeline, &[stage], &dir.join(format!("{stage}.log")))
        .envs(&[
            ("MEDIC__KAFKA__CREATE_TOPICS", "false"),
            ("MEDIC__KAFKA__PROPERTIES__SASL.USERNAME", &user),
            ("MEDIC__KAFKA__PROPERTIES__SASL.PASSWORD", &secret),
            ("MEDIC__ADMIN__LISTEN", &listen),
            (act::signing::KEYS_ENV, keys),
        ])
        .start()
        .expect("medic starts");
    (medic, port)
}

#[ignore = "needs Apache Kafka installed: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_runs_as_its_own_principal_with_only_the_acls_medic_prints() {
    let _alone = MACHINE.write().await;
    let started = Instant::now();
    let dir = scratch_dir("acls");
    let users: Vec<(String, String)> = STAGES
        .iter()
        .map(|s| (format!("medic-{s}"), password(s)))
        .collect();
    let users: Vec<(&str, &str)> = std::iter::once(ADMIN)
        .chain(users.iter().map(|(u, p)| (u.as_str(), p.as_str())))
        .collect();
    let broker = testkit::durable::DurableBroker::start_with_users(&dir, &users);
    let brokers = broker.address();
    let run = run_id("acls");
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "{}\n[kafka.properties]\n\"security.protocol\" = \"SASL_PLAINTEXT\"\n\
             \"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\n[runner]\nbatch_linger = \"20ms\"\n\
             checkpoint_interval = \"1s\"\n\n[[ingest.sources]]\nname = \"{run}\"\n",
            run_pipeline(&run, &brokers, 2)
        ),
    )
    .expect("pipeline");
    medic_as_admin(&pipeline, &["kafka", "create-topics"]);
    add_acls(&dir, &pipeline, &brokers);
    eprintln!("broker, topics and ACLs after {:?}", started.elapsed());

    let config = medic::config::load_pipeline(Some(&pipeline), std::iter::empty())
        .expect("valid")
        .config;
    let topics = &config.topics;
    let ingest = ("medic-ingest", password("ingest"));
    let actuator = ("medic-actuator", password("actuator"));
    let decide = ("medic-decide", password("decide"));
    // What each principal must not do, refused by the broker.
    assert!(write_refused(&brokers, (ingest.0, &ingest.1), &topics.actions).await);
    assert!(write_refused(&brokers, (ingest.0, &ingest.1), &topics.decisions).await);
    assert!(write_refused(&brokers, (actuator.0, &actuator.1), &topics.actions).await);
    assert!(
        read_refused(
            &brokers,
            (decide.0, &decide.1),
            &config.kafka.group_id("decide"),
            &topics.normalized
        )
        .await
    );

    // The loop, each stage as its own principal, creating nothing.
    let private = act::KeyRing::generate_line("acls");
    let public = act::KeyRing::parse(&private)
        .and_then(|ring| ring.public_lines())
        .expect("ed25519 keys");
    let mut medics: Vec<(&str, Medic)> = Vec::new();
    for stage in STAGES {
        let keys = if stage == "actuator" {
            &public
        } else {
            &private
        };
        let (mut medic, port) = launch(stage, &pipeline, &dir, keys);
        medic
            .wait_ready(port, Instant::now() + Duration::from_secs(60))
            .unwrap_or_else(|log| panic!("{stage}: {log}"));
        medics.push((stage, medic));
    }
    let source = format!("medic.logs.{run}");
    let mut records = testkit::incident::records();
    // One unreadable Event: ingest writes it to the dead-letter topic (an ACL of its own).
    records.push((
        "events".to_owned(),
        b"{\"kind\": \"Event\", not json".to_vec(),
    ));
    // The shipper writes the source topic; here the administrator stands in for it.
    produce_all_as(client(&brokers, Some(ADMIN)), &source, &records).await;

    let results = observer_as(
        client(&brokers, Some(ADMIN)),
        &format!("{run}-observer"),
        &[topics.for_kind(RecordKind::ActionResult)],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let result: ActionResult = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let logs: String = medics
            .iter()
            .map(|(stage, m)| format!("--- {stage}\n{}", m.log_tail()))
            .collect();
        let message = tokio::time::timeout(left, results.recv())
            .await
            .unwrap_or_else(|_| panic!("no action result within 90 s; the stages' logs:\n{logs}"))
            .expect("results readable");
        if let Some(payload) = rdkafka::Message::payload(&message) {
            break schemas::decode_record(payload).expect("an action result");
        }
    };
    assert_eq!(result.outcome, schemas::ActionOutcome::Logged, "{result:?}");
    let dead = observer_as(
        client(&brokers, Some(ADMIN)),
        &format!("{run}-dlq"),
        &[&topics.dlq],
    );
    tokio::time::timeout(Duration::from_secs(30), dead.recv())
        .await
        .expect("ingest dead-lettered the unreadable Event")
        .expect("the dead-letter topic is readable");
    for (stage, medic) in &mut medics {
        assert!(medic.is_running(), "{stage} stopped:\n{}", medic.log_tail());
    }
    // A stateful stage restarted under its principal reads its checkpoint back.
    let (_, enrich) = medics
        .iter_mut()
        .find(|(stage, _)| *stage == "enrich")
        .expect("enrich");
    enrich.stop();
    assert!(
        enrich
            .wait_exit(Duration::from_secs(30))
            .is_some_and(|s| s.success()),
        "enrich did not stop cleanly:\n{}",
        enrich.log_tail()
    );
    let mut restarted = launch("enrich", &pipeline, &dir, &private);
    restarted
        .0
        .wait_ready(restarted.1, Instant::now() + Duration::from_secs(60))
        .unwrap_or_else(|log| panic!("enrich restarted: {log}"));
    // Its partitions' states are restored once the group has assigned them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !restarted.0.log().contains("partition state restored") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = restarted.0.log();
    assert!(log.contains("partition state restored"), "{log}");
    assert!(!log.contains("AuthorizationFailed"), "{log}");
    results.unsubscribe();
    eprintln!(
        "the loop under least privilege after {:?}",
        started.elapsed()
    );
}
