//! The ingest stage end to end (without Kafka) on the real fixtures: every input is accounted for.

use medic_ingest::{IngestConfig, WORKLOAD_INFERRED_ATTRIBUTE};
use schemas::{
    Emitter, ErrorKind, LogRecord, LogSeverity, SourceFormat, SourceRecord, Stage, Stream,
};

const CRI: &str = include_str!("../fixtures/cri-lines.log");
const EVENTS: &str = include_str!("../fixtures/core-v1-events.jsonl");
const DOCKER: &str = include_str!("../fixtures/docker-json.log");

/// An ingest stage reading one source `k8s` in `format`.
fn stage_with(format: medic_ingest::Format) -> medic_ingest::Ingest {
    IngestConfig {
        sources: vec![medic_ingest::SourceConfig {
            name: "k8s".into(),
            topic: None,
            format,
            redaction: None,
        }],
        ..IngestConfig::default()
    }
    .build()
    .expect("valid")
}

/// `docs` as one stream's inputs, keyed by `key` when given.
fn batch_of(docs: &[serde_json::Value], key: Option<&str>) -> Vec<SourceRecord> {
    docs.iter()
        .enumerate()
        .map(|(i, doc)| {
            let record = SourceRecord::new("medic.logs.k8s", 0, i as i64, doc.to_string());
            match key {
                Some(key) => record.with_key(key),
                None => record,
            }
        })
        .collect()
}

fn ingest() -> medic_ingest::Ingest {
    IngestConfig::default()
        .build()
        .expect("default config is valid")
}

#[test]
fn auto_detection_decodes_every_fixture_line() {
    let mut stage = ingest();
    let path = "/var/log/pods/shop_checkout-7d9c7f5b9d-x2x7q_0a1b/app/0.log";
    let mut batch: Vec<SourceRecord> = CRI
        .lines()
        .enumerate()
        .map(|(i, l)| SourceRecord::new("medic.logs.k8s", 0, i as i64, l).with_key(path))
        .collect();
    let base = batch.len() as i64;
    batch.extend(
        EVENTS
            .lines()
            .enumerate()
            .map(|(i, l)| SourceRecord::new("medic.logs.k8s", 1, base + i as i64, l)),
    );
    batch.push(SourceRecord::new("medic.logs.k8s", 2, 0, DOCKER.trim_end()));

    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("records decode");
    assert!(out.rejections().is_empty(), "{:?}", out.rejections());

    let cri: Vec<_> = records
        .iter()
        .filter(|r| r.source_format == SourceFormat::Cri)
        .collect();
    assert_eq!(cri.len(), 8, "16 CRI lines reassemble into 8 messages");
    assert!(
        cri.iter()
            .all(|r| r.resource.pod.as_deref() == Some("checkout-7d9c7f5b9d-x2x7q"))
    );
    assert!(cri.iter().all(|r| {
        r.resource
            .workload
            .as_ref()
            .is_some_and(|w| w.name == "checkout")
    }));
    assert_eq!(
        cri.iter()
            .filter(|r| r.stream == Some(Stream::Stderr))
            .count(),
        4
    );

    let events = records
        .iter()
        .filter(|r| r.source_format == SourceFormat::K8sEvent)
        .count();
    assert_eq!(events, 19);
    let docker: Vec<_> = records
        .iter()
        .filter(|r| r.source_format == SourceFormat::DockerJson)
        .collect();
    assert_eq!(docker.len(), 1);
    assert_eq!(docker[0].source.partition, 2);
}

#[test]
fn bad_input_is_rejected_with_a_reason_and_the_rest_goes_on() {
    let mut stage = ingest();
    let batch = [
        SourceRecord::new("medic.logs.k8s", 0, 0, vec![0xff, 0xfe, 0x00]),
        SourceRecord::new("medic.logs.k8s", 0, 1, "   "),
        SourceRecord::new(
            "medic.logs.k8s",
            0,
            2,
            r#"{"kind":"Event","reason":"BackOff"}"#,
        ),
        SourceRecord::new(
            "medic.logs.k8s",
            0,
            3,
            "2019-05-07T18:57:50Z stdout F ok\n2019-05-07T18:57:50Z stdin F bad",
        ),
        SourceRecord::new(
            "medic.logs.k8s",
            0,
            4,
            "E0624 20:14:59.855669 1 reflector.go:47] watch failed",
        ),
    ];
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let kinds: Vec<_> = out
        .rejections()
        .iter()
        .map(|r| (r.coordinates.offset, r.error.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, ErrorKind::Invalid),
            (2, ErrorKind::Schema),
            (3, ErrorKind::Schema)
        ]
    );
    assert!(
        out.rejections()[2].error.reason.contains("line 2:"),
        "{}",
        out.rejections()[2].error.reason
    );
    assert_eq!(
        out.rejections()[0].payload,
        b"   ".to_vec(),
        "the DLQ gets the original bytes"
    );
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(
        records.len(),
        2,
        "invalid UTF-8 is decoded lossily, not dropped"
    );
    assert_eq!(
        records[0]
            .attributes
            .get("medic.lossy_utf8")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(records[1].source_format, SourceFormat::PlainText);
    assert_eq!(records[1].severity, LogSeverity::Error);
}

#[test]
fn pending_partial_lines_flush_on_tick_and_close() {
    const NOW: i64 = 1_795_824_000_000_000_000; // 2026-11-28
    fn frozen() -> i64 {
        NOW
    }
    let mut stage = ingest().with_clock(frozen);
    let mut out = Emitter::new();
    let partial = SourceRecord::new(
        "medic.logs.k8s",
        0,
        7,
        "2019-05-07T18:57:50Z stdout P half a line",
    )
    .with_key("/var/log/pods/shop_checkout-5d567cc74c-x7k2p_1f0e/app/0.log");
    stage.process_batch(std::slice::from_ref(&partial), &mut out);
    assert!(out.emitted().is_empty());
    stage.on_tick(NOW + 1_000_000, &mut out);
    assert!(out.emitted().is_empty(), "younger than partial_flush");
    stage.on_tick(NOW + 5_000_000_000, &mut out);
    let flushed: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].message, "half a line");
    // A flushed message keeps its first chunk's coordinates and its stream's identity.
    assert_eq!(flushed[0].source.offset, 7);
    assert_eq!(flushed[0].resource.namespace.as_deref(), Some("shop"));
    assert_eq!(
        flushed[0]
            .resource
            .workload
            .as_ref()
            .map(|w| w.name.as_str()),
        Some("checkout")
    );
    assert_eq!(
        flushed[0]
            .attributes
            .get("medic.partial")
            .map(String::as_str),
        Some("true")
    );

    let mut out = Emitter::new();
    stage.process_batch(&[partial], &mut out);
    stage.on_close(&mut out);
    assert_eq!(out.emitted().len(), 1, "close flushes what is pending");
}

#[test]
fn a_key_that_is_not_utf8_names_no_identity_for_whole_or_flushed_lines() {
    let mut key = b"/var/log/pods/shop_checkout-5d567cc74c-x7k2p_1f0e/app/0.log".to_vec();
    key[20] = 0xff; // inside the pod name
    let line = |offset, text: &str| {
        SourceRecord::new("medic.logs.k8s", 0, offset, text.to_owned()).with_key(key.clone())
    };
    let mut stage = ingest();
    let mut out = Emitter::new();
    stage.process_batch(
        &[
            line(0, "2019-05-07T18:57:50Z stdout F a whole line"),
            line(1, "2019-05-07T18:57:51Z stdout P half a line"),
        ],
        &mut out,
    );
    stage.on_close(&mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages, ["a whole line", "half a line"]);
    for record in &records {
        let resource = &record.resource;
        assert_eq!(
            (&resource.namespace, &resource.pod, &resource.workload),
            (&None, &None, &None),
            "{record:?}"
        );
    }
}

#[test]
fn gzip_members_of_one_input_share_one_decompression_budget() {
    // The probe: a Kinesis batch of many gzip members, each small enough alone, together far beyond
    // max_decompressed_bytes (an 872 KB payload once became 40 × 16 MiB records).
    use base64::Engine as _;
    use std::io::Write as _;
    let member = |text: &str| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).expect("gzip");
        base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"))
    };
    let kinesis = |members: usize| {
        let line = format!("ERROR {}", "x".repeat(1_990));
        let records: Vec<String> = (0..members)
            .map(|_| format!(r#"{{"kinesis":{{"data":"{}"}}}}"#, member(&line)))
            .collect();
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    };
    let mut stage = IngestConfig {
        max_record_bytes: 4_096,
        max_decompressed_bytes: 5_000,
        ..IngestConfig::default()
    }
    .build()
    .expect("valid");
    let batch = [
        SourceRecord::new("medic.logs.k8s", 0, 0, kinesis(2)),
        SourceRecord::new("medic.logs.k8s", 0, 1, kinesis(3)),
    ];
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(records.len(), 2, "two members of 1,996 bytes fit in 5,000");
    let rejected: Vec<_> = out
        .rejections()
        .iter()
        .map(|r| (r.coordinates.offset, r.error.kind))
        .collect();
    assert_eq!(
        rejected,
        [(1, ErrorKind::TooLarge)],
        "three do not: the whole input is refused, none of its records emitted"
    );
}

#[test]
fn content_never_chooses_a_records_namespace_pod_node_or_workload() {
    // The probes: an application in tenant-a whose JSON a shipper merged into the record root (Fluent Bit
    // `Merge_Log`, Vector `parse_json` + merge) names another namespace, node and owner; agent metadata
    // in the payload that disagrees with the kubelet log path the shipper keyed the stream by.
    let key = "/var/log/pods/tenant-a_checkout-5d567cc74c-x7k2p_1f0e/app/0.log";
    let merged = serde_json::json!({
        "log": "ERROR payment failed",
        "kubernetes.pod_namespace": "payments",
        "kubernetes.pod_name": "postgres-0",
        "kubernetes.pod_node_name": "control-plane-1",
        "kubernetes.pod_owner": "StatefulSet/postgres",
        "kubernetes": {"namespace_name": "tenant-a", "pod_name": "checkout-5d567cc74c-x7k2p"}
    });
    let nested_forgery = serde_json::json!({
        "msg": "ERROR disk full",
        "kubernetes": {"namespace_name": "kube-system", "pod_name": "coredns-565d847f94-abcde",
                       "ownerReferences": [{"kind": "StatefulSet", "name": "postgres", "controller": true}]}
    });
    let owner_of_the_pod = serde_json::json!({
        "msg": "ERROR upstream timeout",
        "kubernetes.pod_owner": "ReplicaSet/checkout-5d567cc74c"
    });
    let mut stage = stage_with(medic_ingest::Format::JsonLine);
    let batch = batch_of(&[merged, nested_forgery, owner_of_the_pod], Some(key));
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.resource.namespace.as_deref(), Some("tenant-a"), "{r:?}");
        assert_eq!(r.resource.pod.as_deref(), Some("checkout-5d567cc74c-x7k2p"));
        let workload = r.resource.workload.as_ref().expect("workload");
        assert_eq!(
            (workload.kind.as_str(), workload.name.as_str()),
            ("Deployment", "checkout"),
            "{r:?}"
        );
        assert_eq!(r.resource.node, None, "no node from content");
    }
    fn claimed<'r>(r: &'r LogRecord, field: &str) -> Option<&'r str> {
        r.attributes
            .get(&format!("medic.claimed.{field}"))
            .map(String::as_str)
    }
    assert_eq!(claimed(&records[0], "namespace"), Some("payments"));
    assert_eq!(claimed(&records[0], "pod"), Some("postgres-0"));
    assert_eq!(claimed(&records[1], "namespace"), Some("kube-system"));
    assert_eq!(claimed(&records[2], "namespace"), None, "nothing disagreed");
    assert_eq!(out.events().get("identity_mismatch"), Some(&2));
    // None of the three had an owner reference from the agent: each workload is a guess, and says so
    // (the actuator confirms it with the API server before a workload-wide action).
    let inferred: Vec<_> = records
        .iter()
        .map(|r| {
            r.attributes
                .get(WORKLOAD_INFERRED_ATTRIBUTE)
                .map(String::as_str)
        })
        .collect();
    assert_eq!(
        inferred,
        [Some("pod_name"), Some("pod_name"), Some("owner_claim")]
    );

    // With ingest.infer_workloads = false, no guess: the records stay at pod level.
    let config = IngestConfig {
        infer_workloads: false,
        ..IngestConfig::default()
    };
    let mut strict = config.build().expect("valid");
    let mut out = Emitter::new();
    strict.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.resource.pod.as_deref(), Some("checkout-5d567cc74c-x7k2p"));
        assert_eq!(r.resource.workload, None, "{r:?}");
        assert_eq!(r.attributes.get(WORKLOAD_INFERRED_ATTRIBUTE), None);
    }
}

#[test]
fn no_log_line_or_tenant_event_makes_a_node_the_target() {
    let container = "/var/log/pods/tenant-a_checkout-5d567cc74c-x7k2p_1f0e/app/0.log";
    // A container's JSON output: an owner claim of kind Node, and an Event-shaped document.
    let owner_node = serde_json::json!({
        "msg": "no space left on device", "kubernetes.pod_owner": "Node/checkout"
    });
    let event_shaped = serde_json::json!({
        "kind": "Event", "type": "Warning", "reason": "NodeNotReady", "message": "node down",
        "involvedObject": {"kind": "Node", "name": "worker-7"}
    });
    let mut stage = stage_with(medic_ingest::Format::Auto);
    let batch = batch_of(&[owner_node, event_shaped], Some(container));
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    for r in &records {
        assert_eq!(
            r.source_format,
            SourceFormat::JsonLine,
            "a container's JSON is its own"
        );
        let target = r.target().expect("target");
        assert_eq!(
            (target.kind, target.name.as_str()),
            (schemas::ObjectKind::Deployment, "checkout"),
            "{r:?}"
        );
        assert_eq!(r.resource.node, None);
    }

    // Events: one about a Node written in a tenant's namespace, one about a pod naming a host.
    let tenant_node_event = serde_json::json!({
        "kind": "Event", "type": "Warning", "reason": "NodeNotReady", "message": "node down",
        "metadata": {"namespace": "tenant-a"},
        "involvedObject": {"kind": "Node", "name": "worker-7", "namespace": "tenant-a"}
    });
    let pod_event_with_host = serde_json::json!({
        "kind": "Event", "type": "Warning", "reason": "Evicted", "message": "disk pressure",
        "metadata": {"namespace": "tenant-a"}, "source": {"host": "control-plane-1"},
        "involvedObject": {"kind": "Pod", "name": "ghost", "namespace": "tenant-a"}
    });
    let node_controller_event = serde_json::json!({
        "kind": "Event", "type": "Normal", "reason": "NodeNotReady", "message": "Node worker-7 status is now: NodeNotReady",
        "metadata": {"namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "worker-7"}
    });
    // An Event written in tenant-a about another namespace's Deployment (events.k8s.io does not check
    // that they agree): it stays tenant-a's record, the other namespace a claim.
    let cross_namespace = serde_json::json!({
        "kind": "Event", "type": "Normal", "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-7d9c7f5b9d to 1", "eventTime": "2026-03-14T09:00:00.000000Z",
        "metadata": {"namespace": "tenant-a"},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "payments"}
    });
    let mut stage = stage_with(medic_ingest::Format::K8sEvent);
    let batch = batch_of(
        &[
            tenant_node_event,
            pod_event_with_host,
            node_controller_event,
            cross_namespace,
        ],
        None,
    );
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    let records: Vec<LogRecord> = out.decode_all().expect("decode");
    assert_eq!(
        records[0].target(),
        None,
        "a tenant's Event about a Node is not about the Node"
    );
    assert_eq!(
        records[0]
            .attributes
            .get("medic.claimed.node")
            .map(String::as_str),
        Some("worker-7")
    );
    assert_eq!(
        records[1].resource.node, None,
        "source.host is not the pod's node"
    );
    assert_eq!(
        records[1].target().map(|t| t.kind),
        Some(schemas::ObjectKind::Pod)
    );
    let node = records[2].target().expect("the node controller's Event");
    assert_eq!(
        (node.kind, node.namespace),
        (schemas::ObjectKind::Node, None)
    );
    assert_eq!(records[3].resource.namespace.as_deref(), Some("tenant-a"));
    assert_eq!(
        records[3]
            .attributes
            .get("medic.claimed.namespace")
            .map(String::as_str),
        Some("payments")
    );
}
