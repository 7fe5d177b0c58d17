//! Every envelope fixture in `tests/fixtures/` (copied from shared/data/formats; see the README there),
//! decoded through the ingest stage. Expected values are read off the fixtures themselves.

use base64::Engine as _;
use medic_ingest::{Format, IngestConfig, SourceConfig};
use schemas::{Emitter, LogRecord, LogSeverity, SourceFormat, SourceRecord, Stage, Stream};
use std::io::Write;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// 2026-11-28T00:00:00Z: "now" for the timestamp sanity checks.
fn now() -> i64 {
    1_795_824_000_000_000_000
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("write");
    encoder.finish().expect("finish")
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn config(format: Format) -> IngestConfig {
    IngestConfig {
        sources: vec![SourceConfig {
            name: "t".into(),
            topic: Some("t".into()),
            format,
            redaction: None,
        }],
        ..IngestConfig::default()
    }
}

struct Decoded {
    records: Vec<LogRecord>,
    rejected: Vec<String>,
    dropped: u64,
    out: Emitter,
}

fn decode_with(config: &IngestConfig, payloads: &[Vec<u8>]) -> Decoded {
    let mut stage = config.build().expect("valid config").with_clock(now);
    let batch: Vec<SourceRecord> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| SourceRecord::new("t", 0, i as i64, p.clone()))
        .collect();
    let mut out = Emitter::new();
    stage.process_batch(&batch, &mut out);
    Decoded {
        records: out.decode_all().expect("records decode"),
        rejected: out
            .rejections()
            .iter()
            .map(|r| r.error.reason.clone())
            .collect(),
        dropped: out.dropped(),
        out,
    }
}

fn decode(format: Format, payload: Vec<u8>) -> Decoded {
    decode_with(&config(format), &[payload])
}

fn lines(name: &str) -> Vec<Vec<u8>> {
    String::from_utf8(fixture(name))
        .expect("utf8")
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn ms(ms: i64) -> i64 {
    ms * 1_000_000
}

fn rfc3339(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("time")
        .timestamp_nanos_opt()
        .expect("ns")
}

fn attr<'a>(record: &'a LogRecord, key: &str) -> Option<&'a str> {
    record.attributes.get(key).map(String::as_str)
}

// ---- AWS CloudWatch Logs -------------------------------------------------------------------------

fn assert_lambda_go_records(d: &Decoded) {
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let messages: Vec<_> = d.records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        ["[ERROR] First test message", "[ERROR] Second test message"]
    );
    assert_eq!(d.records[0].event_time_ns, ms(1_440_442_987_000));
    assert_eq!(d.records[1].event_time_ns, ms(1_440_442_987_001));
    for r in &d.records {
        assert_eq!(r.source_format, SourceFormat::Cloudwatch);
        assert_eq!(r.severity, LogSeverity::Error);
        assert_eq!(r.resource.cloud.as_deref(), Some("aws"));
        assert_eq!(r.resource.account.as_deref(), Some("123456789123"));
        assert_eq!(attr(r, "aws.log_group"), Some("testLogGroup"));
        assert_eq!(attr(r, "aws.log_stream"), Some("testLogStream"));
    }
    assert_eq!(attr(&d.records[0], "aws.event_id"), Some("eventId1"));
}

#[test]
fn cloudwatch_in_every_wrapping() {
    let raw = fixture("cloudwatch-decoded.json");
    for format in [Format::Auto, Format::Cloudwatch] {
        // Lambda's awslogs wrapper: base64(gzip(JSON)).
        assert_lambda_go_records(&decode(format, fixture("cloudwatch-awslogs-event.json")));
        // Raw JSON, gzip, and base64(gzip) inside a Firehose transformation record and a Kinesis record.
        assert_lambda_go_records(&decode(format, raw.clone()));
        assert_lambda_go_records(&decode(format, gzip(&raw)));
        let firehose = format!(
            r#"{{"invocationId":"i","records":[{{"recordId":"r1","data":"{}"}}]}}"#,
            b64(&gzip(&raw))
        );
        assert_lambda_go_records(&decode(format, firehose.into_bytes()));
        let kinesis = format!(
            r#"{{"Records":[{{"kinesis":{{"data":"{}"}}}}]}}"#,
            b64(&gzip(&raw))
        );
        assert_lambda_go_records(&decode(format, kinesis.into_bytes()));
    }
}

#[test]
fn firehose_concatenated_documents_and_extracted_fields() {
    let d = decode(
        Format::Auto,
        fixture("firehose-cwlog-multiple-records.ndjson"),
    );
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let messages: Vec<_> = d.records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Hello world, here is our first log message!",
            "Hello world, here is our second log message!"
        ]
    );
    assert_eq!(d.records[0].event_time_ns, ms(1_725_544_035_523));
    assert_eq!(d.records[1].event_time_ns, ms(1_725_554_035_523));
    assert_eq!(
        attr(&d.records[1], "aws.event_id"),
        Some("38480917865042697267627490045603633139480491071049695233")
    );

    let d = decode(
        Format::Cloudwatch,
        fixture("firehose-cwlog-extracted-fields.json"),
    );
    assert_eq!(d.records.len(), 1);
    assert_eq!(
        d.records[0].resource.account.as_deref(),
        Some("999888777666")
    );
    assert_eq!(d.records[0].resource.region.as_deref(), Some("us-west-2"));
}

#[test]
fn cloudwatch_control_messages_are_dropped_and_counted() {
    let d = decode(
        Format::Cloudwatch,
        fixture("firehose-cwlog-only-control.json"),
    );
    assert!(d.records.is_empty() && d.rejected.is_empty());
    assert_eq!(d.dropped, 1);
    assert_eq!(
        d.out.events().get("dropped.cloudwatch_control_message"),
        Some(&1)
    );
}

#[test]
fn kinesis_and_firehose_envelopes_of_plain_data() {
    for name in ["kinesis-event.json", "kinesis-firehose-event.json"] {
        let d = decode(Format::Auto, fixture(name));
        assert!(d.rejected.is_empty(), "{name}: {:?}", d.rejected);
        let messages: Vec<_> = d.records.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, ["Hello World", "Hello World"], "{name}");
        assert!(
            d.records
                .iter()
                .all(|r| r.source_format == SourceFormat::PlainText)
        );
    }
}

#[test]
fn firehose_http_endpoint_delivery_requests() {
    // The Firehose documentation's example request: direct-put bytes, one record each.
    let d = decode(Format::Auto, fixture("firehose-http-endpoint-request.json"));
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let messages: Vec<_> = d.records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages, ["hello", "hello world"]);
    assert!(
        d.records
            .iter()
            .all(|r| r.source_format == SourceFormat::PlainText)
    );
    // CloudWatch subscription documents (gzip, base64) in the same request shape: the records are
    // decoded, the CONTROL_MESSAGE dropped and counted.
    for format in [Format::Auto, Format::Cloudwatch] {
        let d = decode(format, fixture("firehose-http-endpoint-cwlogs.json"));
        assert_lambda_go_records(&d);
        assert_eq!(
            d.out.events().get("dropped.cloudwatch_control_message"),
            Some(&1),
            "{format:?}"
        );
    }
}

// ---- GCP Cloud Logging ---------------------------------------------------------------------------

fn assert_cloud_run_entry(d: &Decoded) {
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(d.records.len(), 1);
    let r = &d.records[0];
    assert_eq!(r.source_format, SourceFormat::GcpLogEntry);
    assert_eq!(r.severity, LogSeverity::Error);
    assert_eq!(r.event_time_ns, rfc3339("2024-05-05T10:32:19.440152Z"));
    assert_eq!(r.observed_time_ns, rfc3339("2024-05-05T10:32:19.45570687Z"));
    assert_eq!(r.resource.project.as_deref(), Some("gcp-project"));
    assert_eq!(r.resource.region.as_deref(), Some("europe-west1"));
    let workload = r.resource.workload.as_ref().expect("Cloud Run service");
    assert_eq!(
        (workload.kind.as_str(), workload.name.as_str()),
        ("CloudRunService", "otelcol")
    );
    assert_eq!(attr(r, "gcp.log_id"), Some("run.googleapis.com/requests"));
    assert_eq!(attr(r, "http.status"), Some("503"));
    assert_eq!(attr(r, "gcp.insertId"), Some("663760330006df7c63521728"));
    assert!(
        r.message.starts_with("GET https://example.a.run.app/ 503"),
        "{}",
        r.message
    );
}

#[test]
fn gcp_log_entry_direct_and_in_a_pubsub_push() {
    let entry = fixture("gcp-cloud-run-log-entry.json");
    assert_cloud_run_entry(&decode(Format::Auto, entry.clone()));
    assert_cloud_run_entry(&decode(Format::GcpLogEntry, entry.clone()));
    let push = format!(
        r#"{{"message":{{"data":"{}","messageId":"1","attributes":{{"logging.googleapis.com/timestamp":"2024-05-05T10:32:19Z"}}}},"subscription":"projects/p/subscriptions/s"}}"#,
        b64(&entry)
    );
    assert_cloud_run_entry(&decode(Format::GcpLogEntry, push.into_bytes()));
}

#[test]
fn gcp_k8s_container_entries() {
    // The fixture's timestamp is the Unix epoch: absurd under the default sanity range…
    let d = decode(Format::Auto, fixture("gcp-k8s-container-entries.json"));
    assert!(d.records.is_empty());
    assert!(
        d.rejected[0].starts_with("[absurd_timestamp]"),
        "{:?}",
        d.rejected
    );
    assert_eq!(d.out.events().get("rejected.absurd_timestamp"), Some(&1));
    // …and decodes when the operator allows it.
    let config = IngestConfig {
        min_event_year: 1970,
        ..config(Format::GcpLogEntry)
    };
    let d = decode_with(&config, &[fixture("gcp-k8s-container-entries.json")]);
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let r = &d.records[0];
    assert_eq!(r.resource.cluster.as_deref(), Some("rabbitmq-test-dev"));
    assert_eq!(r.resource.namespace.as_deref(), Some("kube-system"));
    assert_eq!(
        r.resource.pod.as_deref(),
        Some("event-exporter-gke-664546f4f8-4s526")
    );
    assert_eq!(
        r.resource.container.as_deref(),
        Some("prometheus-to-sd-exporter")
    );
    assert_eq!(r.resource.region.as_deref(), Some("us-central1-c"));
    assert_eq!(r.resource.project.as_deref(), Some("fakeprojectid"));
    assert_eq!(
        r.resource
            .workload
            .as_ref()
            .map(|w| (w.kind.as_str(), w.name.as_str())),
        Some(("Deployment", "event-exporter-gke"))
    );
    assert!(r.message.contains("k8s_container log"), "{}", r.message);
    assert_eq!(attr(r, "gcp.label.test.monitoredresource"), Some("true"));
}

// ---- Azure Monitor -------------------------------------------------------------------------------

#[test]
fn azure_resource_logs_with_casing_variants() {
    let d = decode(Format::AzureResourceLogs, fixture("azure-log-maximum.json"));
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(d.records.len(), 2);
    let r = &d.records[0];
    assert_eq!(r.source_format, SourceFormat::AzureResourceLog);
    assert_eq!(r.severity, LogSeverity::Warning, "`Level` with a capital L");
    assert_eq!(r.event_time_ns, rfc3339("2022-11-11T04:48:27.6767145Z"));
    assert_eq!(
        attr(r, "azure.duration_ms"),
        Some("1234"),
        "durationMs is a string in the fixture"
    );
    assert_eq!(attr(r, "azure.category"), Some("AuditEvent"));
    assert_eq!(attr(r, "azure.operation"), Some("SecretGet"));
    assert_eq!(r.resource.region.as_deref(), Some("ukso"));
    assert_eq!(
        d.records[1].event_time_ns,
        rfc3339("2022-11-11T04:48:29.6767145Z")
    );

    let d = decode(Format::Auto, fixture("azure-appserviceplatformlogs.json"));
    let r = &d.records[0];
    assert_eq!(r.severity, LogSeverity::Info, "`level: Informational`");
    assert_eq!(
        r.message,
        "Initiating warmup request to container fbehtestapp_1_b8a27b37 for site fbehtestapp"
    );
    assert_eq!(
        r.resource.account.as_deref(),
        Some("da2dd5cc-e7bc-4db6-94d9-0afb3bd30577")
    );
    assert_eq!(r.resource.project.as_deref(), Some("fretbadger"));
}

#[test]
fn azure_functions_records_with_us_times_and_single_quoted_properties() {
    for format in [Format::Auto, Format::AzureResourceLogs] {
        let d = decode(format, fixture("azure-functionapplogs.json"));
        assert!(d.rejected.is_empty(), "{format:?}: {:?}", d.rejected);
        assert_eq!(d.records.len(), 2, "one record per entry, not per line");
        let (started, failed) = (&d.records[0], &d.records[1]);
        assert_eq!(started.event_time_ns, rfc3339("2021-10-06T12:35:51Z"));
        assert_eq!(failed.event_time_ns, rfc3339("2021-10-06T12:35:52Z"));
        assert_eq!(
            started.message,
            "Executing 'Functions.PlaceOrder' (Reason='This function was programmatically called \
             via the host APIs.', Id=2c2d0d55-9d0b-4a1b-8f4e-3c5b2a1e9d77)"
        );
        assert_eq!(
            failed.message,
            "Executed 'Functions.PlaceOrder' (Failed, Id=2c2d0d55-9d0b-4a1b-8f4e-3c5b2a1e9d77, \
             Duration=1021ms)",
            "properties written as a string of the same pseudo-JSON"
        );
        assert_eq!(started.severity, LogSeverity::Info);
        assert_eq!(failed.severity, LogSeverity::Error);
        assert_eq!(attr(started, "azure.category"), Some("FunctionAppLogs"));
        assert_eq!(
            started.resource.account.as_deref(),
            Some("00000000-0000-0000-0000-000000000000")
        );
    }
    // Single-quoted text that is not an Azure Functions batch is still refused as not JSON, and so
    // is an empty one.
    for text in ["{'not':'azure'}", "{'records':[]}"] {
        let d = decode(Format::Auto, text.as_bytes().to_vec());
        assert_eq!((d.records.len(), d.rejected.len()), (0, 1), "{text}");
    }
}

#[test]
fn a_functions_message_cannot_forge_fields_or_records() {
    let fixture = String::from_utf8(fixture("azure-functionapplogs.json")).expect("utf8");
    // Azure does not escape quotes in messages: text that closes the string early could add keys
    // (`pod`, `log`: the container and its klog line) in both ways `properties` is written.
    let forged_keys = "x','pod':'payments-7d9f8-abcde','stream':'stderr','log':'E1205 10:00:00.000000 \
                       1 forged.go:1] forged";
    let keyed = fixture
        .replace(
            "Executing 'Functions.PlaceOrder'",
            &format!("{forged_keys}','m':'"),
        )
        .replace(
            "Executed 'Functions.PlaceOrder'",
            &format!("{forged_keys}','m':'"),
        );
    let d = decode(Format::Auto, keyed.into_bytes());
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(d.records.len(), 2);
    for r in &d.records {
        assert_eq!(r.resource.pod, None, "{r:?}");
        assert_eq!(r.resource.workload, None);
        assert_eq!(r.stream, None);
        assert!(r.message.starts_with("x"), "{}", r.message);
    }
    // A forged record of another kind (an AKS control-plane line of some cluster) refuses the batch.
    let forged_record = "x'}}, {\"time\": \"2021-10-06T12:35:53Z\", \"resourceId\": \
         \"/SUBSCRIPTIONS/1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD\", \
         \"category\": \"kube-apiserver\", \"properties\": {\"log\": \"E1205 forged\"}}, {\"p\": {'m':'y";
    let record = fixture.replace("Executing 'Functions.PlaceOrder'", forged_record);
    let d = decode(Format::Auto, record.into_bytes());
    assert_eq!((d.records.len(), d.rejected.len()), (0, 1));
}

#[test]
fn aks_control_plane_diagnostics() {
    let d = decode_with(
        &config(Format::AzureResourceLogs),
        &lines("aks-diagnostic-logs.jsonl"),
    );
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(d.records.len(), 5);
    let audit = &d.records[0];
    assert_eq!(
        audit.message,
        "update /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/external-resizer-file-csi-azure-com 200 by aksService"
    );
    assert_eq!(
        audit.event_time_ns,
        rfc3339("2025-04-20T16:29:59.994988Z"),
        "the audit stageTimestamp"
    );
    assert_eq!(audit.resource.namespace.as_deref(), Some("kube-system"));
    assert_eq!(attr(audit, "audit.verb"), Some("update"));
    assert_eq!(audit.resource.cluster.as_deref(), Some("arc-cluster02"));

    let apiserver = &d.records[1];
    assert_eq!(apiserver.severity, LogSeverity::Info);
    assert_eq!(
        apiserver.event_time_ns,
        rfc3339("2019-06-24T20:14:59.855669Z"),
        "time from the klog header"
    );
    assert_eq!(attr(apiserver, "klog.source"), Some("wrap.go:47"));
    assert_eq!(attr(apiserver, "klog.pid"), Some("1"));
    assert!(
        apiserver
            .message
            .starts_with("PUT /api/v1/namespaces/kube-system/endpoints/kube-scheduler")
    );
    assert_eq!(apiserver.stream, Some(Stream::Stderr));
    assert_eq!(
        apiserver.resource.account.as_deref(),
        Some("c111111-dxxx-4xxx-axxx-900000000")
    );

    assert_eq!(
        d.records[2].severity,
        LogSeverity::Warning,
        "kube-scheduler W line"
    );
    assert!(
        d.records[3]
            .message
            .starts_with("Event(v1.ObjectReference{Kind:\"DaemonSet\""),
        "{}",
        d.records[3].message
    );
    assert!(
        d.records[4]
            .message
            .starts_with("ScaleUpToNodeGroupMinSize: scale up not needed")
    );
}

// ---- Node agents ---------------------------------------------------------------------------------

#[test]
fn kubernetes_event_lists() {
    let list = fixture("k8s-eventlist.json");
    let expected = [
        "Scaled up replica set px-5d567cc74c to 1",
        "Created pod: px-5d567cc74c-ss4lb",
        "Successfully assigned default/px-5d567cc74c-ss4lb to kind-control-plane",
    ];
    for format in [Format::Auto, Format::K8sEvent] {
        let d = decode(format, list.clone());
        assert!(d.rejected.is_empty(), "{format:?}: {:?}", d.rejected);
        let messages: Vec<_> = d.records.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, expected, "{format:?}");
        assert!(
            d.records
                .iter()
                .all(|r| r.source_format == SourceFormat::K8sEvent)
        );
    }
    // `kubectl get events -o json` writes the same items under `kind: List`.
    let mut doc: serde_json::Value = serde_json::from_slice(&list).expect("json");
    doc["kind"] = "List".into();
    let d = decode(Format::Auto, doc.to_string().into_bytes());
    assert_eq!(d.records.len(), 3);
    // An empty list holds no entry: refused, not silently dropped.
    doc["items"] = serde_json::json!([]);
    let d = decode(Format::Auto, doc.to_string().into_bytes());
    assert_eq!((d.records.len(), d.rejected.len()), (0, 1));
    // An application's own lists and request records stay one JSON log line each.
    let app_lines = [
        r#"{"msg":"saved","kind":"ShoppingList","items":["milk"]}"#,
        r#"{"msg":"saved","kind":"List","apiVersion":"v1","items":["milk"]}"#,
        r#"{"requestId":"r-1","records":[{"data":{"sku":7}}],"msg":"batch stored"}"#,
        r#"{"requestId":"r-1","timestamp":1,"records":[{"data":"not base64!"}]}"#,
    ];
    for line in app_lines {
        for format in [Format::Auto, Format::JsonLine] {
            let d = decode(format, line.as_bytes().to_vec());
            let formats: Vec<_> = d.records.iter().map(|r| r.source_format).collect();
            if line.contains("not base64") {
                // The exact delivery-request shape with bad data is refused, not guessed at.
                assert_eq!(d.rejected.len(), 1, "{line}");
                continue;
            }
            assert_eq!(formats, [SourceFormat::JsonLine], "{format:?} {line}");
        }
    }
}

#[test]
fn fluent_bit_and_vector_kubernetes_enrichment() {
    let d = decode(Format::Auto, fixture("fluent-bit-enriched.out"));
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let r = &d.records[0];
    assert_eq!(r.message, "Fluent Bit is logging");
    assert_eq!(
        (r.resource.pod.as_deref(), r.resource.namespace.as_deref()),
        (Some("base"), Some("core"))
    );
    assert_eq!(r.resource.container.as_deref(), Some("fluent-bit"));
    assert_eq!(
        r.resource.node.as_deref(),
        Some("ip-10-49-18-80.eu-west-1.compute.internal")
    );
    assert_eq!(r.stream, Some(Stream::Stdout));
    assert!(
        (r.event_time_ns - 1_554_141_513_598_656_000).abs() < 1_000,
        "{}",
        r.event_time_ns
    );

    // The owner reference names the workload only for a pod named after it, as controllers name theirs:
    // in Fluent Bit's test record the pod (`base-with-owner-references`) is not, so a payload cannot
    // make any pod count as some other workload.
    let raw = fixture("fluent-bit-enriched-owner-references.out");
    let d = decode(Format::Auto, raw.clone());
    assert_eq!(d.records[0].resource.workload, None);
    let named = String::from_utf8(raw)
        .expect("utf-8")
        .replace("base-with-owner-references", "fluentbit-max-x7k2p");
    let d = decode(Format::Auto, named.into_bytes());
    let owner = d.records[0]
        .resource
        .workload
        .as_ref()
        .expect("owner reference");
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("DaemonSet", "fluentbit-max")
    );

    let sample: serde_json::Value =
        serde_json::from_slice(&fixture("vector-kubernetes-logs.json")).expect("json");
    let d = decode(Format::JsonLine, sample["output"].to_string().into_bytes());
    let r = &d.records[0];
    assert_eq!(
        r.message,
        sample["input_line"].as_str().expect("input line")
    );
    assert_eq!(r.severity, LogSeverity::Critical, "klog F line");
    assert_eq!(r.resource.pod.as_deref(), Some("storage-provisioner"));
    assert_eq!(r.resource.namespace.as_deref(), Some("kube-system"));
    // Namespace, pod and container come from the kubelet path in `file`; the sample's flat
    // `kubernetes.*` keys are only claims (an application's merged JSON can write them), so its node is
    // not taken from them.
    assert_eq!(r.resource.node, None);
    assert!(!r.attributes.keys().any(|k| k.starts_with("medic.claimed.")));
    assert_eq!(r.stream, Some(Stream::Stderr));
    assert_eq!(r.event_time_ns, rfc3339("2020-10-15T11:01:46.499555308Z"));
}

// ---- Bad input -----------------------------------------------------------------------------------

#[test]
fn bad_input_is_dead_lettered_with_its_reason_and_counted() {
    let raw = fixture("cloudwatch-decoded.json");
    let packed = gzip(&raw);
    let cases: Vec<(&str, Format, Vec<u8>, &str)> =
        vec![
        (
            "invalid base64",
            Format::Auto,
            br#"{"awslogs":{"data":"not base64!!"}}"#.to_vec(),
            "invalid_base64",
        ),
        (
            "truncated gzip",
            Format::Auto,
            packed[..packed.len() / 2].to_vec(),
            "bad_gzip",
        ),
        (
            "malformed JSON",
            Format::Cloudwatch,
            b"{\"messageType\": ".to_vec(),
            "malformed_json",
        ),
        (
            "wrong types",
            Format::Cloudwatch,
            br#"{"messageType":"DATA_MESSAGE","logEvents":[{"timestamp":"soon","message":"x"}]}"#
                .to_vec(),
            "wrong_shape",
        ),
        (
            "format mismatch",
            Format::GcpLogEntry,
            raw.clone(),
            "wrong_shape",
        ),
        (
            "absurd past",
            Format::Auto,
            b"1900-01-01T00:00:00Z stdout F old".to_vec(),
            "absurd_timestamp",
        ),
        (
            "absurd future",
            Format::Auto,
            b"2999-01-01T00:00:00Z stdout F later".to_vec(),
            "absurd_timestamp",
        ),
        (
            "bad timestamp",
            Format::Cri,
            b"2019-13-45T00:00:00Z stdout F x".to_vec(),
            "bad_timestamp",
        ),
        ("empty", Format::Auto, b" \n\t ".to_vec(), "empty_payload"),
        // Found by the gcp_log_entry fuzz target: an empty array vanished without a trace.
        ("empty array", Format::GcpLogEntry, b"[] \n ".to_vec(), "empty_payload"),
        ("empty batch", Format::AzureResourceLogs, br#"{"records":[]}"#.to_vec(), "empty_payload"),
        (
            "too large",
            Format::Auto,
            vec![b'a'; (4 << 20) + 1],
            "record_too_large",
        ),
    ];
    for (name, format, payload, reason) in cases {
        let d = decode(format, payload);
        assert!(d.records.is_empty(), "{name}: {:?}", d.records);
        assert_eq!(d.rejected.len(), 1, "{name}");
        assert!(
            d.rejected[0].starts_with(&format!("[{reason}]")),
            "{name}: {}",
            d.rejected[0]
        );
        assert_eq!(
            d.out.events().get(format!("rejected.{reason}").as_str()),
            Some(&1),
            "{name}"
        );
    }
}

#[test]
fn gzip_bombs_and_nesting_and_fan_out_are_bounded() {
    let bomb = gzip(&vec![b' '; 32 << 20]);
    let d = decode(Format::Auto, bomb);
    assert!(
        d.rejected[0].starts_with("[gzip_too_large]"),
        "{:?}",
        d.rejected
    );

    let mut nested = fixture("cloudwatch-decoded.json");
    for _ in 0..8 {
        nested = format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, b64(&gzip(&nested))).into_bytes();
    }
    assert!(decode(Format::Auto, nested).rejected[0].starts_with("[too_deep]"));

    let config = IngestConfig {
        max_records_per_input: 1,
        ..config(Format::Cloudwatch)
    };
    let d = decode_with(&config, &[fixture("cloudwatch-decoded.json")]);
    assert!(
        d.rejected[0].starts_with("[too_many_records]"),
        "{:?}",
        d.rejected
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_flagged() {
    let d = decode(
        Format::Auto,
        b"2024-01-01T00:00:00Z stdout F caf\xe9 ok".to_vec(),
    );
    assert!(d.rejected.is_empty());
    assert_eq!(d.records[0].message, "caf\u{fffd} ok");
    assert_eq!(attr(&d.records[0], "medic.lossy_utf8"), Some("true"));
    assert_eq!(d.out.events().get("decoded.lossy_utf8"), Some(&1));
}

#[test]
fn secrets_are_redacted_before_records_leave_ingest() {
    let doc = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
        "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000_i64,
            "message": "login failed user=bob password=hunter2 from bob@example.com trace_id=4bf92f3577b34da6a3ce929d0e0e4736"}]
    });
    let d = decode(Format::Cloudwatch, doc.to_string().into_bytes());
    assert_eq!(
        d.records[0].message,
        "login failed user=bob password=[REDACTED] from [REDACTED] trace_id=4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(d.out.events().get("redacted.secret_key_value"), Some(&1));
    assert_eq!(d.out.events().get("redacted.email"), Some(&1));
}
