//! The shipped classifiers: the fine-tuned transformer in `models/classifier`, on the real pretrained
//! encoder (installed by `scripts/model-up.sh`) — loading, batched and cached inference, evidence, the
//! windowed stage, a short fine-tuning run that must change the encoder — and the windowed stage's
//! verdict rules with the n-gram model in `models/ngram` (the default) as well.

use enrich::windows::{WindowSpec, window_source_records};
use medic_diagnose::lab::corpus::{Sample, read_jsonl};
use medic_diagnose::transformer::{
    Classifier, EmbeddingCache, TrainOptions, resolve_base_model, sha256_file, train,
};
use medic_diagnose::{DiagnoseConfig, default_classifier_dir};
use schemas::{
    Diagnosis, Emitter, FaultClass, LogSeverity, SourceFormat, SourceRecord, Stage, fixtures,
};
use std::path::Path;

/// The windows enrich closes over `records` (parsed lines), as diagnose reads them.
fn windows(records: &[SourceRecord]) -> Vec<SourceRecord> {
    window_source_records(WindowSpec::default(), records)
}

fn fixture() -> Vec<Sample> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/k8s_faults.jsonl");
    read_jsonl(&path, true).expect("fixture")
}

/// The stage with the transformer (the default pipeline uses the n-gram model).
fn transformer_config() -> DiagnoseConfig {
    DiagnoseConfig {
        model: medic_diagnose::DiagnoseModel::Transformer,
        ..DiagnoseConfig::default()
    }
}

fn classifier() -> Classifier {
    Classifier::load(&default_classifier_dir(), None).expect(
        "models/classifier and the base encoder load (run scripts/model-up.sh to install the encoder)",
    )
}

/// Ordinary lines of a healthy Spring Boot service, as the template miner leaves them.
fn background(n: usize) -> Vec<String> {
    let lines = [
        "<*> INFO 1 --- [http-nio-8080-exec-<*>] c.s.checkout.CartController : GET /cart/<*> 200 in <*> ms",
        "<*> INFO 1 --- [http-nio-8080-exec-<*>] c.s.checkout.pay.PaymentClient : payment <*> accepted",
        "<*> INFO 1 --- [scheduling-1] c.s.checkout.StockSync : synced <*> items",
    ];
    (0..n).map(|i| lines[i % lines.len()].to_owned()).collect()
}

#[test]
fn the_shipped_classifier_names_real_kubernetes_faults() {
    let classifier = classifier();
    let samples = fixture();
    let condensed: Vec<_> = samples
        .iter()
        .map(|s| classifier.condense(&s.lines))
        .collect();
    let predictions = classifier
        .predict(&condensed, &mut EmbeddingCache::new(1000))
        .expect("predict");
    assert_eq!(predictions.len(), samples.len());
    let correct = samples
        .iter()
        .zip(&predictions)
        .filter(|(s, p)| s.label == Some(p.fault))
        .count();
    assert!(correct >= 8, "{correct}/10 correct: {predictions:?}");
    assert!(
        predictions
            .iter()
            .all(|p| (0.0..=1.0).contains(&p.confidence))
    );
}

#[test]
fn cached_templates_skip_the_encoder_and_give_the_same_answer() {
    let classifier = classifier();
    let samples: Vec<_> = fixture()
        .iter()
        .map(|s| classifier.condense(&s.lines))
        .collect();
    let mut cache = EmbeddingCache::new(1000);
    let first = classifier.predict(&samples, &mut cache).expect("first");
    let misses = cache.misses;
    assert_eq!(misses as usize, cache.len());
    let second = classifier.predict(&samples, &mut cache).expect("second");
    assert_eq!(cache.misses, misses, "nothing re-encoded");
    assert!(cache.hits >= samples.len() as u64);
    assert_eq!(first, second);
}

#[test]
fn evidence_is_the_line_that_points_at_the_fault() {
    let classifier = classifier();
    let mut lines = background(30);
    let oom = "Warning OOMKilling Memory cgroup out of memory: Kill process <*> (java) score <*> or sacrifice child";
    lines.insert(17, oom.to_owned());
    let sample = classifier.condense(&lines);
    let mut cache = EmbeddingCache::new(1000);
    let scores = classifier
        .text_scores(&sample, FaultClass::Oom, &mut cache)
        .expect("scores");
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .expect("scores");
    assert_eq!(sample.texts[best], oom);
}

#[test]
fn a_missing_base_model_is_a_clear_error() {
    let error = Classifier::load(
        &default_classifier_dir(),
        Some(Path::new("/nonexistent/minilm")),
    )
    .err()
    .expect("must fail");
    let text = error.to_string();
    assert!(
        text.contains("/nonexistent/minilm") && text.contains("model-up.sh"),
        "{text}"
    );
}

fn parsed(workload: &str, message: &str, event: bool, t_secs: i64, offset: i64) -> SourceRecord {
    let mut log = fixtures::log_record(message, t_secs * 1_000_000_000);
    if let Some(w) = log.resource.workload.as_mut() {
        w.name = workload.to_owned();
    }
    log.resource.pod = Some(format!("{workload}-7d9c7f5b9d-x2x7q"));
    log.source.offset = offset;
    if event {
        log.source_format = SourceFormat::K8sEvent;
        log.severity = LogSeverity::Warning;
        log.attributes
            .insert("k8s.event.reason".into(), "OOMKilling".into());
    }
    fixtures::parsed_source_record(log)
}

fn two_workloads_one_with_an_oom() -> Vec<SourceRecord> {
    let mut records = Vec::new();
    for (i, line) in background(40).iter().enumerate() {
        let i = i as i64;
        records.push(parsed("web", line, false, 1_200 + i, 2 * i));
        records.push(parsed("api", line, false, 1_200 + i, 2 * i + 1));
    }
    records.push(parsed(
        "web",
        "Memory cgroup out of memory: Kill process <*> (java) score <*> or sacrifice child",
        true,
        1_230,
        100,
    ));
    records
}

#[test]
fn the_windowed_stage_diagnoses_the_window_with_fault_evidence_only() {
    let mut stage = transformer_config().build().expect("transformer stage");
    let records = windows(&two_workloads_one_with_an_oom());
    let mut out = Emitter::new();
    stage.process_batch(&records, &mut out);
    let diagnoses: Vec<Diagnosis> = out.decode_all().expect("diagnoses");
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    let d = &diagnoses[0];
    assert_eq!((d.target.name.as_str(), d.fault), ("web", FaultClass::Oom));
    assert!(
        d.evidence[0].message.contains("out of memory"),
        "{:?}",
        d.evidence
    );
    assert!(d.model.starts_with("minilm-finetuned@"));
    assert_eq!(out.events().get("diagnose.windows_classified"), Some(&2));
}

#[test]
fn fine_tuning_changes_the_top_layer_and_round_trips_through_disk() {
    let base = resolve_base_model(None).expect("base model (scripts/model-up.sh)");
    let mut samples = fixture();
    samples.push(Sample {
        id: "bg/1".into(),
        lines: background(12),
        label: Some(FaultClass::Normal),
        source: None,
    });
    let options = TrainOptions {
        epochs: 2,
        encoder_epochs: 1,
        ..TrainOptions::default()
    };
    let (trained, report) =
        train(&base, &samples, &samples, &options, &mut |_| {}).expect("training runs");
    assert_eq!(report.history.len(), 2);
    let dir = std::env::temp_dir().join(format!("medic-classifier-{}", std::process::id()));
    let spec = trained.save(&dir).expect("save");
    assert_eq!(
        spec.weights_sha256,
        sha256_file(&dir.join("model.safetensors")).expect("hash")
    );
    let tuned =
        candle_core::safetensors::load(dir.join("model.safetensors"), &candle_core::Device::Cpu)
            .expect("weights");
    let original =
        candle_core::safetensors::load(base.weights(), &candle_core::Device::Cpu).expect("base");
    let name = "attention.self.query.weight";
    let delta = (&tuned[&format!("upper.layer.0.{name}")]
        - &original[&format!("encoder.layer.5.{name}")])
        .and_then(|d| d.abs()?.sum_all()?.to_scalar::<f32>())
        .expect("delta");
    assert!(
        delta > 0.0,
        "the fine-tuned layer must differ from the base layer"
    );
    assert!(
        !tuned
            .keys()
            .any(|k| k.starts_with("encoder.") || k.starts_with("embeddings.")),
        "only what changed is stored"
    );
    let loaded = Classifier::load(&dir, Some(&base.dir)).expect("loads back");
    let sample = loaded.condense(&samples[0].lines);
    assert_eq!(
        loaded
            .predict(&[sample], &mut EmbeddingCache::new(10))
            .expect("predict")
            .len(),
        1
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The stage with `model` fed the windows of `records` in one batch: its diagnoses and what it counted.
fn run_stage(
    model: medic_diagnose::DiagnoseModel,
    records: &[SourceRecord],
) -> (Vec<Diagnosis>, Emitter) {
    let config = DiagnoseConfig {
        model,
        ..DiagnoseConfig::default()
    };
    let mut stage = config.build().expect("stage");
    let mut out = Emitter::new();
    stage.process_batch(&windows(records), &mut out);
    let diagnoses = out.decode_all().expect("diagnoses");
    (diagnoses, out)
}

/// A kubelet or controller Event of type Normal about the web Deployment's pod.
fn normal_event(reason: &str, message: &str, t_secs: i64, offset: i64) -> SourceRecord {
    let mut log = fixtures::log_record(message, t_secs * 1_000_000_000);
    log.source_format = SourceFormat::K8sEvent;
    log.source.offset = offset;
    log.attributes
        .insert("k8s.event.reason".into(), reason.into());
    log.attributes
        .insert("k8s.event.type".into(), "Normal".into());
    fixtures::parsed_source_record(log)
}

#[test]
fn normal_events_and_ordinary_traffic_make_no_diagnosis() {
    // A rollout as the kubelet and the controllers report it, among a service's ordinary INFO lines.
    let events = [
        (
            "Scheduled",
            "Successfully assigned shop/web-7d9c7f5b9d-x2x7q to worker-2",
        ),
        (
            "Pulling",
            "Pulling image \"registry.example.com/shop/web:1.4.2\"",
        ),
        (
            "Pulled",
            "Container image \"registry.example.com/shop/web:1.4.2\" already present on machine",
        ),
        (
            "Pulled",
            "Successfully pulled image \"registry.example.com/shop/web:1.4.2\" in 2.1s",
        ),
        ("Created", "Created container web"),
        ("Started", "Started container web"),
        ("Killing", "Stopping container web"),
        ("SuccessfulCreate", "Created pod: web-7d9c7f5b9d-x2x7q"),
        (
            "ScalingReplicaSet",
            "Scaled up replica set web-7d9c7f5b9d to 3",
        ),
        (
            "ScalingReplicaSet",
            "Scaled down replica set web-5f4d8c7b6a to 0",
        ),
    ];
    let mut records: Vec<SourceRecord> = events
        .iter()
        .enumerate()
        .map(|(i, (reason, message))| normal_event(reason, message, 1_200 + i as i64, i as i64))
        .collect();
    for (i, line) in background(30).iter().enumerate() {
        records.push(parsed("web", line, false, 1_210 + i as i64, 100 + i as i64));
    }
    for model in [
        medic_diagnose::DiagnoseModel::Ngram,
        medic_diagnose::DiagnoseModel::Transformer,
        medic_diagnose::DiagnoseModel::KeywordRules,
    ] {
        let (diagnoses, out) = run_stage(model, &records);
        assert!(diagnoses.is_empty(), "{model:?}: {diagnoses:#?}");
        assert_eq!(
            out.events().get("diagnose.normal_events"),
            Some(&(events.len() as u64)),
            "{model:?}: the Events were read as context"
        );
    }
}

#[test]
fn an_info_line_alone_never_decides_a_busy_window() {
    // The same fault-like line among 40 ordinary ones: at Warning it decides its window; logged at INFO
    // (a healthy service that reports, e.g. "HikariPool-1 - Start completed") it does not.
    let diagnoses_with = |model: medic_diagnose::DiagnoseModel, severity: LogSeverity| {
        let mut records = Vec::new();
        for (i, line) in background(40).iter().enumerate() {
            records.push(parsed("web", line, false, 1_200 + i as i64, i as i64));
        }
        let mut log = fixtures::log_record(
            "Memory cgroup out of memory: Kill process <*> (java) score <*> or sacrifice child",
            1_230 * 1_000_000_000,
        );
        log.severity = severity;
        log.source.offset = 100;
        records.push(fixtures::parsed_source_record(log));
        run_stage(model, &records).0
    };
    for model in [
        medic_diagnose::DiagnoseModel::Ngram,
        medic_diagnose::DiagnoseModel::Transformer,
    ] {
        let warned = diagnoses_with(model, LogSeverity::Warning);
        assert_eq!(
            warned.iter().map(|d| d.fault).collect::<Vec<_>>(),
            [FaultClass::Oom],
            "{model:?}"
        );
        assert!(
            diagnoses_with(model, LogSeverity::Info).is_empty(),
            "{model:?}"
        );
    }
}

#[test]
fn a_node_turning_not_ready_is_a_fault_though_its_event_is_typed_normal() {
    // The node controller reports it as `Normal NodeNotReady` on the Node.
    let mut log =
        fixtures::log_record("Node node-3 status is now: NodeNotReady", 1_200_000_000_000);
    log.source_format = SourceFormat::K8sEvent;
    log.resource.namespace = None;
    log.resource.pod = None;
    log.resource.node = Some("node-3".into());
    log.resource.workload = Some(schemas::Workload {
        kind: "Node".into(),
        name: "node-3".into(),
    });
    for (key, value) in [
        ("k8s.event.type", "Normal"),
        ("k8s.event.reason", "NodeNotReady"),
        ("k8s.object.kind", "Node"),
    ] {
        log.attributes.insert(key.into(), value.into());
    }
    assert!(!log.is_normal_event());
    let (diagnoses, _) = run_stage(
        medic_diagnose::DiagnoseModel::KeywordRules,
        &[fixtures::parsed_source_record(log)],
    );
    assert_eq!(
        diagnoses.iter().map(|d| d.fault).collect::<Vec<_>>(),
        [FaultClass::NodeFailure],
        "{diagnoses:#?}"
    );
}

#[test]
fn a_diagnosis_names_the_pod_whose_lines_decided_it_not_the_last_to_speak() {
    // A bare pod named like web's pods crash-loops in web's window; a real web pod logs ordinary lines
    // after it. The actuator confirms the named pod's owner before restarting web: it must be the pod
    // the evidence came from.
    let impostor = "web-5d567cc74c-abcde";
    let mut records = Vec::new();
    for i in 0..3 {
        let mut log = fixtures::log_record(
            "Back-off restarting failed container app in pod web-5d567cc74c-abcde",
            (1_200 + i) * 1_000_000_000,
        );
        log.severity = LogSeverity::Warning;
        log.resource.pod = Some(impostor.to_owned());
        log.source.offset = i;
        records.push(fixtures::parsed_source_record(log));
    }
    for (i, line) in background(20).iter().enumerate() {
        records.push(parsed("web", line, false, 1_210 + i as i64, 10 + i as i64));
    }
    for model in [
        medic_diagnose::DiagnoseModel::Ngram,
        medic_diagnose::DiagnoseModel::KeywordRules,
    ] {
        let (diagnoses, _) = run_stage(model, &records);
        assert!(!diagnoses.is_empty(), "{model:?}");
        for d in &diagnoses {
            assert_eq!(d.target.pod.as_deref(), Some(impostor), "{model:?}: {d:#?}");
        }
    }
}

#[test]
fn a_diagnosis_says_when_its_workload_was_last_rolled_out() {
    // The deployment controller's Events of a rollout (a new ReplicaSet up, the old one down), then the
    // new revision crash-loops: decide may roll back only with this.
    let crash_lines = |from: i64| -> Vec<SourceRecord> {
        (0..3)
            .map(|i| {
                parsed(
                    "web",
                    "Back-off restarting failed container app in pod web-7d9c7f5b9d-x2x7q",
                    true,
                    1_200 + i,
                    from + i,
                )
            })
            .collect()
    };
    let mut records = vec![
        normal_event(
            "ScalingReplicaSet",
            "Scaled up replica set web-7d9c7f5b9d to 1",
            1_100,
            0,
        ),
        normal_event(
            "ScalingReplicaSet",
            "Scaled down replica set web-5f4d8c7b6a to 2",
            1_105,
            1,
        ),
    ];
    records.extend(crash_lines(2));
    for model in [
        medic_diagnose::DiagnoseModel::Ngram,
        medic_diagnose::DiagnoseModel::KeywordRules,
    ] {
        let (diagnoses, _) = run_stage(model, &records);
        assert!(!diagnoses.is_empty(), "{model:?}");
        assert!(
            diagnoses
                .iter()
                .all(|d| d.last_rollout_ns == Some(1_105_000_000_000)),
            "{model:?}: {diagnoses:#?}"
        );
        let (quiet, _) = run_stage(model, &crash_lines(0));
        assert!(
            quiet.iter().all(|d| d.last_rollout_ns.is_none()),
            "{model:?}"
        );
    }
}

/// A line of TrainTicket's ts-contacts-service (incidents/trainticket-contacts-return, Nezha, MIT) in
/// minute `minute`, as enrich passes it on (its template as the message, the severity read).
fn contacts_line(
    template: &str,
    error: bool,
    minute: i64,
    second: i64,
    offset: i64,
) -> SourceRecord {
    let mut log = fixtures::log_record(template, (minute * 60 + second) * 1_000_000_000);
    if let Some(w) = log.resource.workload.as_mut() {
        w.name = "ts-contacts-service".to_owned();
    }
    log.resource.pod = Some("ts-contacts-service-866bd68c97-xcqfx".to_owned());
    log.source.offset = offset;
    if error {
        log.severity = LogSeverity::Error;
    }
    fixtures::parsed_source_record(log)
}

#[test]
fn an_error_new_or_jumping_in_a_workload_and_sustained_is_diagnosed_by_change_and_only_then() {
    const ORDINARY: [&str; 4] = [
        "[ContactsService][Contacts Id Print][id: <*>]",
        "[ContactsService][VerifyLogin Success]",
        "FIND CONTACTS BY ID: <*>",
        "[findContactsById][contactsRepository.findById][Find contacts]",
    ];
    const FAILED: &str =
        "[findContactsById][contactsRepository.findById][No contacts according to contactsId]";
    let minute = |minute: i64, errors: usize, offset: &mut i64| -> Vec<SourceRecord> {
        let mut records = Vec::new();
        for (i, text) in ORDINARY.iter().cycle().take(16).enumerate() {
            *offset += 1;
            records.push(contacts_line(text, false, minute, i as i64 * 3, *offset));
        }
        for i in 0..errors {
            *offset += 1;
            records.push(contacts_line(
                FAILED,
                true,
                minute,
                1 + (i as i64 * 5) % 59,
                *offset,
            ));
        }
        records
    };
    let mut offset = 0;
    // The error appears in the second minute and is there again in the third.
    let changed: Vec<SourceRecord> = [(20, 0), (21, 7), (22, 4)]
        .into_iter()
        .flat_map(|(m, errors)| minute(m, errors, &mut offset))
        .collect();
    let (diagnoses, out) = run_stage(medic_diagnose::DiagnoseModel::Ngram, &changed);
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    let d = &diagnoses[0];
    assert_eq!(d.target.name, "ts-contacts-service");
    assert!(
        matches!(
            d.fault,
            FaultClass::ApplicationError | FaultClass::DependencyFailure
        ),
        "{d:#?}"
    );
    assert_eq!(
        d.window_start_ns,
        22 * 60 * 1_000_000_000,
        "the second minute in a row"
    );
    assert!(
        d.evidence[0].message.contains("No contacts"),
        "{:?}",
        d.evidence
    );
    assert!(d.evidence[0].rationale.contains("decided by change"));
    assert_eq!(
        d.target.pod.as_deref(),
        Some("ts-contacts-service-866bd68c97-xcqfx")
    );
    assert_eq!(out.events().get("diagnose.decided_by_change"), Some(&1));

    // The same error from the first minute on is the workload's baseline; once, it is a stray.
    for shape in [[(20, 3), (21, 7), (22, 4)], [(20, 0), (21, 7), (22, 0)]] {
        let mut offset = 0;
        let records: Vec<SourceRecord> = shape
            .into_iter()
            .flat_map(|(m, errors)| minute(m, errors, &mut offset))
            .collect();
        let (diagnoses, _) = run_stage(medic_diagnose::DiagnoseModel::Ngram, &records);
        assert!(diagnoses.is_empty(), "{shape:?}: {diagnoses:#?}");
    }

    // Known from the first minute, once or twice a minute; then thirty a minute, twice in a row: a jump,
    // diagnosed once, in its second minute.
    let mut offset = 0;
    let jumped: Vec<SourceRecord> = (20..32)
        .map(|m| (m, if m >= 29 { 30 } else { 1 + m as usize % 2 }))
        .flat_map(|(m, errors)| minute(m, errors, &mut offset))
        .collect();
    let (diagnoses, _) = run_stage(medic_diagnose::DiagnoseModel::Ngram, &jumped);
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    assert_eq!(diagnoses[0].window_start_ns, 30 * 60 * 1_000_000_000);
    assert!(
        diagnoses[0].evidence[0]
            .rationale
            .contains("times a window"),
        "{:?}",
        diagnoses[0].evidence
    );
}

#[test]
fn what_a_workload_logged_before_survives_a_restart_through_a_checkpoint() {
    // The error first appears in minute 21; the stage restarts before minute 22, where it is sustained.
    let mut offset = 0;
    let minute = |minute: i64, errors: usize, offset: &mut i64| -> Vec<SourceRecord> {
        (0..8)
            .map(|i| ("FIND CONTACTS BY ID: <*>", false, i * 7))
            .chain((0..errors as i64).map(|i| {
                (
                    "[findContactsById][No contacts according to contactsId]",
                    true,
                    1 + i * 5,
                )
            }))
            .map(|(text, error, second)| {
                *offset += 1;
                contacts_line(text, error, minute, second, *offset)
            })
            .collect()
    };
    let records: Vec<SourceRecord> = [(20, 0), (21, 7), (22, 4)]
        .into_iter()
        .flat_map(|(m, errors)| minute(m, errors, &mut offset))
        .collect();
    let windows = windows(&records);
    assert_eq!(windows.len(), 3);
    let config = DiagnoseConfig::default();
    let diagnose = |stage: &mut medic_diagnose::Diagnose, windows: &[SourceRecord]| {
        let mut out = Emitter::new();
        stage.process_batch(windows, &mut out);
        out.decode_all::<Diagnosis>().expect("diagnoses")
    };
    let uninterrupted = diagnose(&mut config.build().expect("stage"), &windows);
    assert_eq!(uninterrupted.len(), 1, "{uninterrupted:#?}");

    let mut before = config.build().expect("stage");
    assert!(diagnose(&mut before, &windows[..2]).is_empty());
    let snapshot = before
        .state()
        .expect("stateful")
        .snapshot()
        .expect("snapshot");
    let mut after = config.build().expect("stage");
    after
        .state()
        .expect("stateful")
        .restore(&snapshot)
        .expect("restore");
    assert_eq!(diagnose(&mut after, &windows[2..]), uninterrupted);
    let mut forgetful = config.build().expect("stage");
    assert!(
        diagnose(&mut forgetful, &windows[2..]).is_empty(),
        "without the history, minute 22 alone is no change"
    );
}
