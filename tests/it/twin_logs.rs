//! Logs rendered from the twin's events, read back through the real ingest stage: every CRI line (keyed
//! by its kubelet log path, as node agents send it) and every Event decodes, naming its workload, with
//! the severity and time it was written with.

use decide::lab::twin::logs::{RenderedLogs, render};
use decide::lab::twin::{ClusterSpec, EventKind, EvictReason, TwinEvent};
use ingest::IngestConfig;
use schemas::{Emitter, LogRecord, LogSeverity, SourceFormat, SourceRecord, Stage, Stream};

/// 2026-03-14T00:00:00Z.
const START: i64 = 1_773_446_400;
const NS: i64 = 1_000_000_000;

fn a_day_later() -> i64 {
    (START + 86_400) * NS
}

/// One pod of each deployment going through most of what the twin records.
#[rustfmt::skip]
fn run() -> Vec<TwinEvent> {
    use EventKind as K;
    let web = || "frontend-5d567cc74-b7d4k".to_owned();
    let cat = || "catalog-5d567cc74-x2x7q".to_owned();
    let pay = || "checkout-7c9f8d6b5-q8vzn".to_owned();
    let kinds = [
        K::Scaled { deployment: 1, from: 4, to: 5 },
        K::Scheduled { deployment: 1, pod: cat(), node: 2 },
        K::Started { deployment: 1, pod: cat(), node: 2, pulled: true },
        K::Scheduled { deployment: 2, pod: pay(), node: 0 },
        K::Started { deployment: 2, pod: pay(), node: 0, pulled: false },
        K::StartFailed { deployment: 2, pod: pay(), node: 0, restarts: 1, backoff_secs: 10.0 },
        K::Requests { deployment: 1, pod: cat(), ok: 2_900, errors: 0, p95_ms: 41.0, dependency_down: false },
        K::Requests { deployment: 1, pod: cat(), ok: 2_400, errors: 600, p95_ms: 380.0, dependency_down: true },
        K::Requests { deployment: 1, pod: cat(), ok: 2_400, errors: 90, p95_ms: 900.0, dependency_down: false },
        K::MemoryHigh { deployment: 1, pod: cat(), fraction: 0.93 },
        K::OomKilled { deployment: 1, pod: cat(), node: 2, restarts: 1, backoff_secs: 10.0 },
        K::Started { deployment: 1, pod: cat(), node: 2, pulled: false },
        K::NodeDiskPressure { node: 0 },
        K::Evicted { deployment: 2, pod: pay(), node: 0, reason: EvictReason::DiskPressure },
        K::NodeNotReady { node: 2 },
        K::FailedScheduling { deployment: 0, pod: web() },
        K::Evicted { deployment: 1, pod: cat(), node: 2, reason: EvictReason::NodeNotReady },
        K::NodeCordoned { node: 2 },
        K::NodeReady { node: 2 },
        K::Killing { deployment: 1, pod: cat() },
    ];
    let at = |i: usize| 30.0 * i as f64 + 0.25;
    kinds.into_iter().enumerate().map(|(i, kind)| TwinEvent { at_secs: at(i), kind }).collect()
}

/// Feeds every line and Event to the ingest stage, one input each; returns one record per input.
fn ingest(logs: &RenderedLogs) -> (Vec<LogRecord>, Emitter) {
    let mut stage = IngestConfig::default()
        .build()
        .expect("default ingest config")
        .with_clock(a_day_later);
    let lines = logs
        .container_lines
        .iter()
        .map(|l| (Some(l.path.as_str()), l.line.clone()));
    let events = logs.events.iter().map(|e| (None, e.to_string()));
    let mut emitter = Emitter::new();
    for (offset, (key, payload)) in lines.chain(events).enumerate() {
        let input = SourceRecord::new("medic.logs.k8s", 0, offset as i64, payload);
        let input = match key {
            Some(key) => input.with_key(key),
            None => input,
        };
        stage.process_batch(&[input], &mut emitter);
    }
    stage.on_close(&mut emitter);
    let records = emitter.decode_all::<LogRecord>().expect("records decode");
    (records, emitter)
}

fn ns_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("RFC 3339 time")
        .timestamp_nanos_opt()
        .expect("in range")
}

#[test]
fn rendered_twin_logs_decode_through_ingest_with_identity_severity_and_time() {
    let cluster = ClusterSpec::default();
    let events = run();
    let logs = render(&events, &cluster, START);
    assert!(
        logs.container_lines.len() >= 12,
        "{}",
        logs.container_lines.len()
    );
    assert!(logs.events.len() >= 25, "{}", logs.events.len());

    let (records, emitter) = ingest(&logs);
    let refused: Vec<String> = emitter
        .rejections()
        .iter()
        .map(|r| r.error.to_string())
        .collect();
    assert!(refused.is_empty(), "rejected: {refused:?}");
    assert_eq!(
        records.len(),
        logs.container_lines.len() + logs.events.len()
    );
    let event_times: Vec<i64> = events
        .iter()
        .map(|e| START * NS + (e.at_secs * 1e9) as i64)
        .collect();

    let (lines, objects) = records.split_at(logs.container_lines.len());
    for (record, line) in lines.iter().zip(&logs.container_lines) {
        let mut fields = line.line.splitn(4, ' ');
        let (time, stream, _, message) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            fields.next(),
            fields.next().unwrap_or_default(),
        );
        assert_eq!(record.source_format, SourceFormat::Cri);
        assert_eq!(
            record.message, message,
            "the message arrives unchanged (nothing redacted)"
        );
        assert_eq!(record.event_time_ns, ns_of(time));
        assert!(
            event_times.contains(&record.event_time_ns),
            "{time} is a twin event's time"
        );
        // Workload identity comes from the kubelet path in the key, and from the pod name.
        let r = &record.resource;
        let pod = r.pod.as_deref().expect("pod from the path");
        let deployment = cluster
            .deployments
            .iter()
            .find(|d| pod.starts_with(&format!("{}-", d.name)))
            .expect("pod of a deployment");
        assert_eq!(r.namespace.as_deref(), Some(deployment.namespace.as_str()));
        assert_eq!(r.container.as_deref(), Some(deployment.name.as_str()));
        let workload = r
            .workload
            .as_ref()
            .map(|w| (w.kind.as_str(), w.name.as_str()));
        assert_eq!(
            workload,
            Some(("Deployment", deployment.name.as_str())),
            "{line:?}"
        );
        let expected = match stream {
            "stderr" => LogSeverity::Error,
            _ if message.contains(" WARN 1 --- ") => LogSeverity::Warning,
            _ => LogSeverity::Info,
        };
        assert_eq!(record.severity, expected, "{message}");
        let want_stream = if stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        assert_eq!(record.stream, Some(want_stream));
    }
    let errors: Vec<&str> = lines
        .iter()
        .filter(|r| r.severity == LogSeverity::Error)
        .map(|r| r.message.as_str())
        .collect();
    for needle in [
        "OutOfMemoryError",
        "missing key DATABASE_URL",
        "upstream connect error",
        "503",
    ] {
        assert!(
            errors.iter().any(|m| m.contains(needle)),
            "an error line mentions {needle}"
        );
    }

    for (record, event) in objects.iter().zip(&logs.events) {
        assert_eq!(record.source_format, SourceFormat::K8sEvent);
        assert_eq!(
            record.message,
            event["message"].as_str().unwrap_or_default()
        );
        assert_eq!(
            record.event_time_ns,
            ns_of(event["lastTimestamp"].as_str().unwrap_or_default())
        );
        let reason = record
            .attributes
            .get("k8s.event.reason")
            .map(String::as_str);
        assert_eq!(reason, event["reason"].as_str());
        let severity = match event["type"].as_str() {
            Some("Warning") => LogSeverity::Warning,
            _ => LogSeverity::Info,
        };
        assert_eq!(record.severity, severity, "{event}");
        let object = &event["involvedObject"];
        let r = &record.resource;
        let workload = r
            .workload
            .as_ref()
            .map(|w| (w.kind.as_str(), w.name.as_str()));
        match object["kind"].as_str() {
            Some("Node") => {
                assert_eq!(
                    (r.node.as_deref(), r.namespace.as_deref()),
                    (object["name"].as_str(), None)
                );
            }
            Some("Pod") => {
                assert_eq!(r.pod.as_deref(), object["name"].as_str());
                let owner = object["name"].as_str().and_then(|p| p.split('-').next());
                assert_eq!(workload, owner.map(|o| ("Deployment", o)), "{event}");
                assert_eq!(r.namespace.as_deref(), Some("shop"));
            }
            _ => assert_eq!(workload, Some(("Deployment", "catalog"))),
        }
    }
    let warnings: Vec<&str> = objects
        .iter()
        .filter(|r| r.severity == LogSeverity::Warning)
        .filter_map(|r| r.attributes.get("k8s.event.reason").map(String::as_str))
        .collect();
    for reason in [
        "BackOff",
        "OOMKilling",
        "Evicted",
        "FailedScheduling",
        "NodeNotReady",
    ] {
        assert!(
            warnings.contains(&reason),
            "a Warning {reason} Event in {warnings:?}"
        );
    }
}

/// Runs the twin with one fault and the HPA alone (nothing repairs it), renders its logs, reads them back
/// through ingest, and has the fine-tuned classifier classify the affected workload's (or node's) records
/// in each one-minute window of the ten minutes after the fault starts.
fn diagnosed_from_the_logs(
    classifier: &diagnose::transformer::Classifier,
    kind: decide::lab::twin::FaultKind,
    deployment: Option<usize>,
    node: Option<usize>,
) -> Vec<schemas::FaultClass> {
    use decide::lab::arbitration::SafetyConfig;
    use decide::lab::baselines::{Hpa, HpaConfig};
    use decide::lab::control::{EpisodeSpec, run_episode_recording};
    use decide::lab::twin::{PlannedFault, Trace, TwinOptions};
    let cluster = ClusterSpec::default();
    let spec = EpisodeSpec {
        cluster: cluster.clone(),
        trace: Trace::diurnal(1).scaled_to_peak(700.0),
        plan: vec![PlannedFault {
            kind,
            at_secs: 600.0,
            duration_secs: kind.default_duration_secs(),
            deployment,
            node,
            factor: 3.0,
        }],
        horizon_secs: 1_800.0,
        options: TwinOptions {
            record_events: true,
            ..TwinOptions::default()
        },
    };
    let (_, events) = run_episode_recording(
        &spec,
        &mut Hpa::new(HpaConfig::default()),
        &SafetyConfig::default(),
        |_, _| {},
    );
    let (records, _) = ingest(&render(&events, &cluster, START));
    let from = (START + 600) * NS;
    let deployment = deployment.map(|d| cluster.deployments[d].name.clone());
    let node = node.map(|n| cluster.nodes[n].name.clone());
    let relevant: Vec<&LogRecord> = records
        .iter()
        .filter(|r| match (&deployment, &node) {
            (Some(d), _) => r.resource.workload.as_ref().is_some_and(|w| &w.name == d),
            (None, Some(n)) => {
                r.resource.node.as_ref() == Some(n) || r.message.contains(n.as_str())
            }
            (None, None) => false,
        })
        .collect();
    // One-minute windows, as the diagnose stage cuts them, over the ten minutes after the fault starts.
    let windows: Vec<_> = (0..10)
        .map(|w| from + w * 60 * NS)
        .map(|start| {
            let lines: Vec<&str> = relevant
                .iter()
                .filter(|r| (start..start + 60 * NS).contains(&r.event_time_ns))
                .map(|r| r.message.as_str())
                .collect();
            lines
        })
        .filter(|lines| !lines.is_empty())
        .map(|lines| classifier.condense(&lines))
        .collect();
    let mut cache = diagnose::transformer::EmbeddingCache::new(10_000);
    classifier
        .predict(&windows, &mut cache)
        .expect("classifies")
        .into_iter()
        .map(|p| p.fault)
        .collect()
}

#[test]
fn the_classifier_names_the_twins_faults_from_its_logs() {
    use decide::lab::twin::FaultKind as F;
    use schemas::FaultClass as C;
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/classifier");
    let classifier =
        diagnose::transformer::Classifier::load(&model, None).expect("run scripts/model-up.sh");
    let cases = [
        (F::MemoryLeak, Some(2), None, C::Oom),
        (F::BadRollout, Some(1), None, C::CrashLoop),
        (F::NodeFailure, None, Some(1), C::NodeFailure),
        (F::DiskPressure, None, Some(2), C::DiskPressure),
        (F::DependencyOutage, Some(2), None, C::DependencyFailure),
    ];
    let named: Vec<(F, C, Vec<C>)> = cases
        .into_iter()
        .map(|(kind, d, n, want)| (kind, want, diagnosed_from_the_logs(&classifier, kind, d, n)))
        .collect();
    eprintln!("{named:?}");
    let right = named
        .iter()
        .filter(|(_, want, got)| got.contains(want))
        .count();
    // Measured: node failure, disk pressure and the dependency outage are named; a memory leak and a bad
    // rollout are not — the healthy pods' request lines dominate those workloads' windows (a known weakness
    // of the classifier, see README). The bar is what it does today, so a regression fails.
    assert!(
        right >= 3,
        "the classifier named {right} of 5 faults from the twin's logs: {named:?}"
    );
}
