//! The whole loop through a real external broker (Apache Kafka; start it with `scripts/kafka-up.sh`,
//! which the README's test command runs). `medic run` runs as a child process
//! exactly as an operator would start it; the test feeds real-format records, reads every output topic
//! and stops medic with SIGTERM.

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{Action, ObjectKind, RemediationCommand};
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::http::http_get;
use testkit::incident;
use testkit::kafka::{brokers, run_pipeline};
use testkit::process::{spawn_medic, wait_ready};
use testkit::scrape::Scrape;
use testkit::scratch::{free_port, run_id};

/// Real-format inputs: every complete CRI line and Event of the bundled incident, keyed like a node agent
/// keys them, plus three records no stage can read.
fn inputs() -> (Vec<(String, Vec<u8>)>, usize) {
    let mut inputs = incident::records();
    let bad = vec![
        ("bad".to_owned(), vec![0x1f, 0x8b, 0x08, 0x00, 0x01]),
        (
            "bad".to_owned(),
            br#"{"kind":"Event","reason":"BackOff"}"#.to_vec(),
        ),
        ("bad".to_owned(), b" \n \t".to_vec()),
    ];
    let n_bad = bad.len();
    inputs.extend(bad);
    (inputs, n_bad)
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_runs_through_a_real_broker_and_accounts_for_every_record() {
    let _machine = super::common::MACHINE.read().await;
    let brokers = brokers();
    let run_id = run_id("e2e");
    let topic = |name: &str| format!("{run_id}.{name}");
    let admin_port = free_port();
    let pipeline = std::env::temp_dir().join(format!("{run_id}.toml"));
    std::fs::write(
        &pipeline,
        format!(
            r#"{head}
[runner]
batch_linger = "20ms"
tick_interval = "200ms"
lag_interval = "500ms"

[admin]
listen = "127.0.0.1:{admin_port}"

[[ingest.sources]]
name = "{run_id}"
"#,
            head = run_pipeline(&run_id, &brokers, 3),
        ),
    )
    .expect("write pipeline");
    let source_topic = format!("medic.logs.{run_id}");

    let log_path = std::env::temp_dir().join(format!("{run_id}.log"));
    let _ = std::fs::remove_file(&log_path);
    // Ready once every stage has subscribed (topics are created by medic itself).
    let mut medic = spawn_medic(&pipeline, &[], &log_path);
    wait_ready(&mut medic, admin_port);
    let medic_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(http_get(admin_port, "/healthz").map(|(s, _)| s), Some(200));

    let (inputs, n_bad) = inputs();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for (key, payload) in &inputs {
        producer
            .send(
                FutureRecord::to(&source_topic).key(key).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produce input");
    }

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{run_id}-observer"))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer
        .subscribe(&[
            &topic("normalized"),
            &topic("dlq"),
            &topic("actions"),
            &topic("results"),
        ])
        .expect("subscribe");

    // Records, and the messages (frames) that carried them.
    let (mut normalized, mut normalized_messages) = (0usize, 0usize);
    let (mut dead, mut commands, mut results) = (Vec::new(), Vec::new(), 0usize);
    let is_remedy = |c: &RemediationCommand| {
        c.target.name == "checkout" && matches!(c.action, Action::RolloutRestart | Action::Rollback)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    // Read until every input is accounted for and the remedy and every result arrived; then two more
    // seconds, so a second (wrong) remedy would be seen too.
    let mut settled_at: Option<Instant> = None;
    while settled_at.is_none_or(|t| t.elapsed() < Duration::from_secs(2)) {
        let settled = normalized + dead.len() >= inputs.len()
            && commands.iter().any(is_remedy)
            && results >= commands.len();
        if settled && settled_at.is_none() {
            settled_at = Some(Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {normalized} normalised + {} dead letters of {} inputs, {} commands, {results} results\nmedic log:\n{}",
            dead.len(),
            inputs.len(),
            commands.len(),
            medic_log()
        );
        let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        else {
            continue;
        };
        let payload = message.payload().unwrap_or_default();
        match message.topic() {
            t if t == topic("normalized") => {
                normalized += testkit::kafka::payloads(&message).len();
                normalized_messages += 1;
            }
            t if t == topic("dlq") => {
                let headers: Vec<(String, String)> = message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                (
                                    x.key.to_owned(),
                                    String::from_utf8_lossy(x.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                dead.push((payload.to_vec(), headers));
            }
            t if t == topic("actions") => {
                commands.push(
                    schemas::decode_record::<RemediationCommand>(payload)
                        .expect("a command on the actuation topic"),
                );
            }
            _ => results += 1,
        }
    }

    // Every input is accounted for: one normalised record each, or a dead letter with the reason.
    assert_eq!(
        dead.len(),
        n_bad,
        "exactly the unreadable inputs are dead-lettered"
    );
    assert_eq!(normalized, inputs.len() - n_bad);
    for (payload, headers) in &dead {
        let get = |k: &str| {
            headers
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("medic.stage"), Some("ingest"));
        assert!(
            get("medic.error.kind").is_some_and(|k| ["decode", "schema", "invalid"].contains(&k)),
            "{headers:?}"
        );
        assert!(get("medic.error.reason").is_some_and(|r| !r.is_empty()));
        assert_eq!(get("medic.source.topic"), Some(source_topic.as_str()));
        assert!(
            inputs.iter().any(|(_, p)| p == payload),
            "the dead letter carries the original bytes"
        );
    }

    // The OOM-killed, crash-looping Deployment gets workload remedies on the actuation topic, each with an
    // idempotency key and the provenance back to this run's source topic. Windows are diagnosed as they
    // close, so the memory leak that kills the pod again later can earn another restart — but never two
    // within decide's 300 s cooldown (event time of the evidence).
    let remedies: Vec<_> = commands.iter().filter(|c| is_remedy(c)).collect();
    assert!(!remedies.is_empty(), "a remedy: {commands:#?}");
    let mut ends: Vec<i64> = remedies
        .iter()
        .map(|c| c.provenance.window_ns.expect("evidence window").1)
        .collect();
    ends.sort_unstable();
    assert!(
        ends.windows(2).all(|w| w[1] - w[0] >= 300_000_000_000),
        "no two remedies within the cooldown: {commands:#?}"
    );
    for remedy in &remedies {
        assert_eq!(
            (remedy.target.kind, remedy.target.name.as_str()),
            (ObjectKind::Deployment, "checkout")
        );
        assert_eq!(remedy.idempotency_key, remedy.provenance.decision_id);
        assert!(remedy.expires_at_ns > remedy.issued_at_ns);
        assert!(
            remedy
                .provenance
                .sources
                .iter()
                .all(|s| s.topic == source_topic)
        );
    }

    let (status, metrics) = http_get(admin_port, "/metrics").expect("metrics answer");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "medic_records_in_total{{stage=\"ingest\"}} {}",
            inputs.len()
        )),
        "ingest counted every input:\n{metrics}"
    );
    // The dashboard's breakdowns: diagnoses by class (as many as diagnose produced), action results by
    // outcome (every result of this run was logged), and the lag of every source partition, which
    // drains to zero once ingest has committed everything.
    let scrape = Scrape::parse(&metrics);
    let diagnoses = scrape.sum("medic_diagnoses_total", &[("stage", "diagnose")]);
    assert!(diagnoses >= 1.0, "diagnoses counted by class:\n{metrics}");
    assert_eq!(
        Some(diagnoses),
        scrape.get(r#"medic_records_out_total{kind="diagnosis",stage="diagnose"}"#),
        "every diagnosis has its class:\n{metrics}"
    );
    assert_eq!(
        scrape.get(r#"medic_action_results_total{outcome="logged",stage="actuator"}"#),
        Some(results as f64),
        "{metrics}"
    );
    let lag_of = |p: u32| {
        format!("medic_consumer_lag{{partition=\"{p}\",stage=\"ingest\",topic=\"{source_topic}\"}}")
    };
    let lag_deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, metrics) = http_get(admin_port, "/metrics").expect("metrics answer");
        let scrape = Scrape::parse(&metrics);
        let lags: Vec<Option<f64>> = (0..3).map(|p| scrape.get(&lag_of(p))).collect();
        if lags.iter().all(|l| *l == Some(0.0)) {
            break;
        }
        assert!(
            Instant::now() < lag_deadline,
            "ingest's lag per source partition should drain to 0, is {lags:?}:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // `medic explain` reads the chain of a remedy back from the topics: result, decision and policy,
    // diagnosis and model, and the raw source records.
    let explained = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["explain", &remedies[0].command_id, "--pipeline"])
        .arg(&pipeline)
        .output()
        .expect("medic explain runs");
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        explained.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&explained.stderr)
    );
    for needle in [
        format!("command   {}", remedies[0].command_id),
        "signature by key".to_owned(),
        "result    logged (log)".to_owned(),
        format!(
            "decision  {} by rules@1",
            remedies[0].provenance.decision_id
        ),
        format!("diagnosis {}", remedies[0].provenance.diagnosis_id),
        format!("source    {source_topic}/"),
    ] {
        assert!(text.contains(&needle), "explain lacks {needle:?}:\n{text}");
    }
    assert!(
        !text.contains("(not found)"),
        "every source record is read back:\n{text}"
    );

    // SIGTERM: drain, commit, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &medic.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = medic.child.try_wait().expect("poll child") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "medic did not stop after SIGTERM; log:\n{}",
            medic_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        exit.success(),
        "medic exited with {exit:?} after SIGTERM; log:\n{}",
        medic_log()
    );
    assert!(
        medic_log().contains("all stages drained and committed"),
        "{}",
        medic_log()
    );

    // The enrich stage's state was checkpointed on the way out, one checkpoint per partition, covering
    // what it consumed, each record taken into its partition's miner once.
    let (covered, absorbed) = super::common::enrich_checkpointed(
        &brokers,
        &topic("checkpoints"),
        &format!("{run_id}-enrich"),
        &topic("normalized"),
    );
    assert_eq!(
        covered, normalized_messages,
        "the checkpoints cover every normalised message"
    );
    assert_eq!(absorbed, normalized as u64, "each record absorbed once");
    let _ = std::fs::remove_file(&pipeline);
}
