//! `medic demo`: the whole loop in one process, on an in-process Kafka-protocol broker (librdkafka's mock
//! cluster, so the same client code runs as in production), fed with a bundled incident.

use crate::app::{PipelineError, run_stages};
use crate::config::{DEFAULT_PIPELINE, PipelineConfig};
use crate::health::Health;
use crate::kafka::{all_topics, consumer_config, producer_config};
use crate::metrics::Metrics;
use crate::stages::StageName;
use futures::future::try_join_all;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{ActionResult, Decision, Diagnosis, RecordKind, RemediationCommand, decode_record};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The bundled incident: `(kubelet log path, CRI lines)` per pod, and the Events (also the load of
/// `medic bench e2e`).
const INCIDENT_NAME: &str = "checkout-oom-crashloop";
pub(crate) const POD_LOGS: [(&str, &str); 2] = [
    (
        "/var/log/pods/shop_checkout-6b8f7d9c4d-7xk2p_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7c6e51/app/0.log",
        include_str!(
            "../incidents/checkout-oom-crashloop/pods/shop_checkout-6b8f7d9c4d-7xk2p_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7c6e51/app/0.log"
        ),
    ),
    (
        "/var/log/pods/shop_checkout-6b8f7d9c4d-q9w4z_a3e47b12-9c5d-4f80-b6e2-7c1d9e0f3a24/app/0.log",
        include_str!(
            "../incidents/checkout-oom-crashloop/pods/shop_checkout-6b8f7d9c4d-q9w4z_a3e47b12-9c5d-4f80-b6e2-7c1d9e0f3a24/app/0.log"
        ),
    ),
];
pub(crate) const EVENTS: &str = include_str!("../incidents/checkout-oom-crashloop/events.jsonl");

/// Options of `medic demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Partitions of each internal topic on the mock broker (the source topic has one).
    pub partitions: i32,
    /// How long the outputs must stay quiet, once every stage has drained, before the demo ends.
    pub quiet: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(100),
            partitions: 4,
            quiet: Duration::from_secs(1),
        }
    }
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The in-process broker or a client failed.
    #[error("in-process Kafka broker: {0}")]
    Kafka(#[from] KafkaError),
    /// A stage failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The loop did not close in time.
    #[error("no remediation result after {0:?}; the loop did not close (see the log above)")]
    Timeout(Duration),
    /// The pipeline stopped before the demo ended, without an error.
    #[error("the pipeline stopped before the demo ended")]
    StoppedEarly,
    /// The embedded default pipeline did not parse (a build defect).
    #[error("embedded pipeline: {0}")]
    Config(String),
}

/// What the demo saw, for its summary and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Records fed into the source topic.
    pub fed: u64,
    /// Diagnoses seen.
    pub diagnoses: u64,
    /// Decisions seen.
    pub decisions: u64,
    /// Commands seen on the actuation topic.
    pub commands: u64,
    /// Action results seen.
    pub results: u64,
    /// Dead letters seen.
    pub dead_letters: u64,
}

/// One input record: event time (for ordering), key and payload.
struct Input {
    time: String,
    key: String,
    payload: &'static str,
}

fn incident_inputs() -> Vec<Input> {
    let mut inputs: Vec<Input> = POD_LOGS
        .iter()
        .flat_map(|(path, text)| {
            text.lines().filter(|l| !l.is_empty()).map(|line| Input {
                time: line.split(' ').next().unwrap_or_default().to_owned(),
                key: (*path).to_owned(),
                payload: line,
            })
        })
        .collect();
    inputs.extend(EVENTS.lines().filter(|l| !l.is_empty()).map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let time = value["lastTimestamp"]
            .as_str()
            .unwrap_or_default()
            .replace('Z', ".000000000Z");
        let key = value["involvedObject"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Input {
            time,
            key,
            payload: line,
        }
    }));
    // RFC 3339 UTC timestamps of equal precision sort as strings; stable sort keeps file order on ties.
    inputs.sort_by(|a, b| a.time.cmp(&b.time));
    inputs
}

fn clock(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%H:%M:%S")
        .to_string()
}

fn demo_config(brokers: String) -> Result<PipelineConfig, DemoError> {
    let mut config: PipelineConfig =
        toml::from_str(DEFAULT_PIPELINE).map_err(|e| DemoError::Config(e.to_string()))?;
    config.kafka.brokers = brokers;
    config.kafka.create_topics = false;
    config.kafka.session_timeout_ms = 6_000;
    config.runner.batch_linger_ms = 20;
    config.runner.tick_interval_ms = 200;
    config.admin.enabled = false;
    Ok(config)
}

/// Runs the demo, printing the timeline to `out`.
///
/// # Errors
/// [`DemoError`] when the broker, a stage or the loop fails.
pub async fn run_demo(
    options: &DemoOptions,
    out: &mut (dyn Write + Send),
) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let cluster = MockCluster::new(1)?;
    let config = demo_config(cluster.bootstrap_servers())?;
    let inputs = incident_inputs();
    let source_topic = config.ingest.sources[0].topic();
    for topic in all_topics(&config) {
        // The bundle is fed in event-time order into one source partition, so ingest reads it in that
        // order and the timeline is the same on every run. Internal topics are keyed by workload, which
        // keeps each workload's records in order across their partitions.
        let partitions = if topic == source_topic {
            1
        } else {
            options.partitions
        };
        cluster.create_topic(&topic, partitions, 1)?;
    }
    let _ = writeln!(
        out,
        "medic demo: replaying incident `{INCIDENT_NAME}` ({} records: CRI container lines and Kubernetes Events)\n\
         through an in-process Kafka broker: {} → {}\n",
        inputs.len(),
        source_topic,
        StageName::ALL.map(StageName::as_str).join(" → ")
    );

    let metrics = Metrics::new();
    let health = Arc::new(Health::new(Duration::from_secs(60)));
    let shutdown = CancellationToken::new();
    let pipeline = {
        let (config, metrics, health, shutdown) = (
            config.clone(),
            metrics.clone(),
            Arc::clone(&health),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            run_stages(&config, &StageName::ALL, &metrics, &health, shutdown).await
        })
    };

    let monitor: StreamConsumer = consumer_config(&config.kafka, "medic-demo-monitor").create()?;
    let t = &config.topics;
    monitor.subscribe(&[&t.diagnoses, &t.decisions, &t.actions, &t.results, &t.dlq])?;

    let producer: FutureProducer = producer_config(&config.kafka, &config.runner).create()?;
    try_join_all(inputs.iter().map(|input| {
        let record = FutureRecord::to(&source_topic)
            .key(&input.key)
            .payload(input.payload);
        let delivery = producer.send_result(record).map_err(|(e, _)| e);
        async move {
            match delivery?.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error),
                Err(_) => Err(KafkaError::Canceled),
            }
        }
    }))
    .await?;
    let fed = inputs.len() as u64;

    let mut summary = DemoSummary {
        fed,
        ..DemoSummary::default()
    };
    let mut last_output = Instant::now();
    loop {
        if started.elapsed() > options.timeout {
            shutdown.cancel();
            let _ = pipeline.await;
            return Err(DemoError::Timeout(options.timeout));
        }
        if pipeline.is_finished() {
            return Err(match pipeline.await {
                Ok(Err(error)) => error.into(),
                Ok(Ok(())) => DemoError::StoppedEarly,
                Err(join) => PipelineError::Panicked(join.to_string()).into(),
            });
        }
        if drained(&metrics, &summary) && last_output.elapsed() > options.quiet {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(250), monitor.recv()).await {
            Err(_) => continue,
            Ok(Err(error)) => tracing::warn!(error = %error, "monitor consumer error"),
            Ok(Ok(message)) => {
                last_output = Instant::now();
                print_record(out, t, &message, &mut summary);
            }
        }
    }
    shutdown.cancel();
    match pipeline.await {
        Ok(result) => result?,
        Err(join) => {
            return Err(DemoError::Pipeline(PipelineError::Panicked(
                join.to_string(),
            )));
        }
    }
    print_summary(out, &metrics, &summary, started.elapsed());
    print_twin_comparison(out);
    Ok(summary)
}

/// The policies on the digital twin: one simulated day with every fault type.
fn print_twin_comparison(out: &mut (dyn Write + Send)) {
    let _ = writeln!(
        out,
        "\ndigital twin: one simulated day (diurnal trace, peak 1000 req/s, every fault type of \
         decide/scenarios/mixed.toml), same seed for every policy:"
    );
    let _ = writeln!(
        out,
        "  {:<18} {:>9} {:>8} {:>9} {:>13} {:>8} {:>12}",
        "policy", "SLA min", "MTTR s", "CPU util", "replica-min", "actions", "escalations"
    );
    for (policy, report) in decide::evaluate::demo_comparison(std::path::Path::new("models")) {
        let _ = match report {
            Ok(r) => writeln!(
                out,
                "  {policy:<18} {:>9.1} {:>8.0} {:>9.3} {:>13.0} {:>8} {:>12}",
                r.sla_violation_minutes,
                r.mttr_s,
                r.mean_cpu_utilisation,
                r.replica_minutes,
                r.actions,
                r.escalations
            ),
            Err(e) => writeln!(out, "  {policy:<18} not available: {e}"),
        };
    }
}

/// Whether every stage has consumed everything upstream produced and the monitor has seen every output:
/// the loop is closed for all the records fed.
fn drained(metrics: &Metrics, seen: &DemoSummary) -> bool {
    let handoffs = [
        (StageName::Ingest, StageName::Enrich, RecordKind::Log),
        (StageName::Enrich, StageName::Diagnose, RecordKind::Parsed),
        (
            StageName::Diagnose,
            StageName::Decide,
            RecordKind::Diagnosis,
        ),
        (StageName::Decide, StageName::Act, RecordKind::Decision),
        (StageName::Act, StageName::Actuator, RecordKind::Command),
    ];
    let out = |stage: StageName, kind| metrics.records_out(stage.as_str(), kind);
    metrics.records_in(StageName::Ingest.as_str()) >= seen.fed
        && handoffs
            .iter()
            .all(|&(from, to, kind)| metrics.records_in(to.as_str()) >= out(from, kind))
        && seen.diagnoses >= out(StageName::Diagnose, RecordKind::Diagnosis)
        && seen.decisions >= out(StageName::Decide, RecordKind::Decision)
        && seen.commands >= out(StageName::Act, RecordKind::Command)
        && seen.results >= out(StageName::Actuator, RecordKind::ActionResult)
        && seen.results > 0
}

fn print_record(
    out: &mut (dyn Write + Send),
    topics: &crate::config::TopicsConfig,
    message: &rdkafka::message::BorrowedMessage<'_>,
    summary: &mut DemoSummary,
) {
    let payload = message.payload().unwrap_or_default();
    let topic = message.topic();
    let line = if topic == topics.diagnoses {
        decode_record::<Diagnosis>(payload).ok().map(|d| {
            summary.diagnoses += 1;
            let evidence = d.evidence.first().map(|e| e.message.as_str()).unwrap_or_default();
            format!(
                "{}  DIAGNOSIS  {:<34} {} (severity {:?}, confidence {:.2}{})\n          evidence: {:?}",
                clock(d.window_end_ns),
                d.target.to_string(),
                d.fault,
                d.severity,
                d.confidence,
                if d.uncertain { ", uncertain" } else { "" },
                evidence.chars().take(110).collect::<String>()
            )
        })
    } else if topic == topics.decisions {
        decode_record::<Decision>(payload).ok().map(|d| {
            summary.decisions += 1;
            format!(
                "{}  DECISION   {:<34} {} [{}]\n          why: {}",
                clock(d.decided_at_ns),
                d.target.to_string(),
                d.action,
                d.policy_id,
                d.reason
            )
        })
    } else if topic == topics.actions {
        decode_record::<RemediationCommand>(payload).ok().map(|c| {
            summary.commands += 1;
            format!(
                "          COMMAND    {:<34} {} (key {}, expires in {}s)",
                c.target.to_string(),
                c.action,
                c.idempotency_key,
                (c.expires_at_ns - c.issued_at_ns) / 1_000_000_000
            )
        })
    } else if topic == topics.results {
        decode_record::<ActionResult>(payload).ok().map(|r| {
            summary.results += 1;
            format!(
                "          RESULT     {:<34} {:?}: {}",
                r.target.to_string(),
                r.outcome,
                r.message
            )
        })
    } else {
        summary.dead_letters += 1;
        let header = |name: &str| {
            message
                .headers()
                .and_then(|h| h.iter().find(|x| x.key == name).and_then(|x| x.value))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        Some(format!(
            "          DEAD-LETTER from {} ({}): {}",
            header("medic.stage"),
            header("medic.error.kind"),
            header("medic.error.reason")
        ))
    };
    if let Some(line) = line {
        let _ = writeln!(out, "{line}");
    }
}

fn print_summary(
    out: &mut (dyn Write + Send),
    metrics: &Metrics,
    summary: &DemoSummary,
    elapsed: Duration,
) {
    let stage_line = |stage: StageName, kind: RecordKind| {
        let name = stage.as_str();
        format!(
            "  {name:<9} {:>4} in → {:>4} {} out, {} dead-lettered",
            metrics.records_in(name),
            metrics.records_out(name, kind),
            kind.as_str(),
            metrics.dead_lettered(name)
        )
    };
    let _ = writeln!(out, "\nsummary ({:.1}s):", elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "  fed       {:>4} records into the source topic",
        summary.fed
    );
    for (stage, kind) in [
        (StageName::Ingest, RecordKind::Log),
        (StageName::Enrich, RecordKind::Parsed),
        (StageName::Diagnose, RecordKind::Diagnosis),
        (StageName::Decide, RecordKind::Decision),
        (StageName::Act, RecordKind::Command),
        (StageName::Actuator, RecordKind::ActionResult),
    ] {
        let _ = writeln!(out, "{}", stage_line(stage, kind));
    }
    let _ = writeln!(
        out,
        "  enrich    {:>4} window_features out\n\nThe actuator ran in `log` mode: nothing was changed; each command above is what medic would apply.",
        metrics.records_out(StageName::Enrich.as_str(), RecordKind::Window)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_incident_is_ordered_by_event_time_and_keyed() {
        let inputs = incident_inputs();
        assert!(inputs.len() > 300, "a few hundred records");
        assert!(inputs.windows(2).all(|w| w[0].time <= w[1].time));
        assert!(inputs.iter().all(|i| !i.key.is_empty()));
        assert!(
            inputs
                .iter()
                .any(|i| i.payload.contains("OutOfMemoryError"))
        );
        assert!(
            inputs
                .iter()
                .any(|i| i.payload.contains("\"reason\":\"BackOff\""))
        );
    }
}
