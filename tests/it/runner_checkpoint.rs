//! A stateful stage (enrich) keeps its template ids and windows across restarts: the runner restores
//! the latest checkpoint from the checkpoint topic, and skips records the checkpoint already covers when
//! the process died between writing the checkpoint and committing offsets. librdkafka's mock cluster
//! stands in for the broker so the test controls exactly which offsets are committed.

use enrich::EnrichConfig;
use medic::config::PipelineConfig;
use medic::stages::StageName;
use rdkafka::producer::{FutureProducer, FutureRecord};
use runtime::kafka::{Checkpoint, partition_checkpoint_key};
use runtime::telemetry::metrics::Metrics;
use schemas::{Emitter, ParsedRecord, RecordKind, SourceRecord, Stage, StageState, fixtures};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const INPUT: &str = "medic.logs.normalized";
const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

fn payload(i: usize) -> Vec<u8> {
    let name = NAMES[i % NAMES.len()];
    let message = match i % 3 {
        0 => format!("user {name} logged in from web"),
        1 => format!("GET /orders/{i} took {i}ms for {name}"),
        _ => format!("cache miss for {name} in region west"),
    };
    let t = i64::try_from(i).expect("small") * 7_000_000_000;
    serde_json::to_vec(&fixtures::log_record(&message, t)).expect("encodes")
}

async fn feed(producer: &FutureProducer, range: std::ops::Range<usize>) {
    for i in range {
        producer
            .send(
                FutureRecord::to(INPUT).key("shop/web").payload(&payload(i)),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("feed");
    }
}

/// Runs the enrich stage until it has produced `parsed` records, then shuts it down cleanly.
async fn run_enrich(config: &PipelineConfig, parsed: u64) -> Metrics {
    let metrics = Metrics::new();
    let runner = super::common::runner(StageName::Enrich, config, &metrics);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics.records_out("enrich", RecordKind::Parsed) < parsed {
        assert!(Instant::now() < deadline, "enrich produced too little");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything beyond the expected count would arrive within a batch linger; give it the chance.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    task.await.expect("runner task").expect("clean shutdown");
    metrics
}

/// What an uninterrupted enrich stage gives for records `0..n`.
fn uninterrupted(n: usize) -> Vec<(String, String, u32)> {
    let mut stage = EnrichConfig::default().build().expect("valid");
    let batch: Vec<SourceRecord> = (0..n)
        .map(|i| SourceRecord::new(INPUT, 0, i64::try_from(i).expect("small"), payload(i)))
        .collect();
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
    parsed
        .into_iter()
        .map(|p| (p.log.message, p.template_id, p.template_version))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrich_restores_its_state_and_skips_what_the_checkpoint_covers() {
    let (_cluster, mut config, feeder) = super::common::mock_pipeline();
    config.runner.batch_max_records = 7;

    // Run 1 and a clean restart: the second run continues the first's templates.
    feed(&feeder, 0..20).await;
    run_enrich(&config, 20).await;
    feed(&feeder, 20..40).await;
    let metrics = run_enrich(&config, 20).await;
    assert_eq!(
        metrics.records_in("enrich"),
        20,
        "committed records are not re-read"
    );
    let expected = uninterrupted(60);
    assert_eq!(super::common::parsed_on_topic(&config), expected[..40]);

    // A crash between checkpoint and commit: the checkpoint covers offsets up to 50, the group has
    // committed only 40. The restarted runner must skip 40..50 (already in the state and delivered)
    // and continue from the state with 50..60.
    feed(&feeder, 40..60).await;
    let mut ahead = EnrichConfig::default().build().expect("valid");
    let batch: Vec<SourceRecord> = (0..50)
        .map(|i| SourceRecord::new(INPUT, 0, i64::try_from(i).expect("small"), payload(i)))
        .collect();
    ahead.process_batch(&batch, &mut Emitter::new());
    let checkpoint = Checkpoint {
        offsets: [((INPUT.to_owned(), 0), 50)].into(),
        state: ahead.snapshot().expect("snapshot"),
    };
    // Enrich's state follows its input partitions: the checkpoint is the partition's.
    let key = partition_checkpoint_key("medic-enrich", &(INPUT.to_owned(), 0));
    write_checkpoint(&feeder, &config, &key, &checkpoint).await;
    let metrics = run_enrich(&config, 10).await;
    assert_eq!(metrics.records_in("enrich"), 20, "40..60 are read again");
    assert_eq!(
        metrics.records_out("enrich", RecordKind::Parsed),
        10,
        "40..50 are skipped: the checkpoint already counted them"
    );
    let on_topic = super::common::parsed_on_topic(&config);
    assert_eq!(on_topic[40..], expected[50..60]);

    // A checkpoint written late, behind the newest (by an instance the group had already expelled):
    // the newest still wins.
    let stale = Checkpoint {
        offsets: [((INPUT.to_owned(), 0), 45)].into(),
        state: b"{}".to_vec(),
    };
    write_checkpoint(&feeder, &config, &key, &stale).await;
    let loaded = runtime::kafka::load_latest(
        &config.kafka,
        &config.topics.checkpoints,
        &key,
        Duration::from_secs(30),
    )
    .expect("readable")
    .expect("a checkpoint");
    assert_eq!(loaded.offsets[&(INPUT.to_owned(), 0)], 60);
}

async fn write_checkpoint(
    feeder: &FutureProducer,
    config: &PipelineConfig,
    key: &str,
    checkpoint: &Checkpoint,
) {
    let (body, headers) = checkpoint.encode().expect("encodes");
    feeder
        .send(
            FutureRecord::to(&config.topics.checkpoints)
                .key(key)
                .payload(&body)
                .headers(headers),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("checkpoint written");
}
