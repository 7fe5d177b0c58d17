//! Benchmark corpora: realistic inputs per format, built from the repository's real fixtures (varied so
//! caches and dictionaries do not flatter the numbers). Used by the criterion benches and by
//! `medic bench ingest`.

use crate::Format;
use base64::Engine as _;
use std::io::Write;

/// Inputs of one format.
pub struct Corpus {
    /// Corpus name (`cri`, `cloudwatch_gzip`, …).
    pub name: &'static str,
    /// The format the source is configured with.
    pub format: Format,
    /// One Kafka payload each.
    pub inputs: Vec<Vec<u8>>,
    /// Bytes after decompression (equals the input bytes for uncompressed corpora).
    pub decoded_bytes: usize,
}

impl Corpus {
    /// Total input bytes.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.inputs.iter().map(Vec::len).sum()
    }
}

const CRI_FIXTURE: &str = include_str!("../tests/fixtures/cri-lines.log");
const EVENTS_FIXTURE: &str = include_str!("../tests/fixtures/core-v1-events.jsonl");
const GCP_FIXTURE: &str = include_str!("../tests/fixtures/gcp-cloud-run-log-entry.json");
const AKS_FIXTURE: &str = include_str!("../tests/fixtures/aks-diagnostic-logs.jsonl");

/// A realistic application message, varied by `i`.
fn message(i: usize) -> String {
    match i % 4 {
        0 => format!(
            "2026-03-14 09:0{}:{:02}.{:03}  INFO 1 --- [http-nio-8080-exec-{}] c.s.checkout.web.OrderController : POST /api/v1/orders 201 in {}ms orderId={}",
            i % 10,
            i % 60,
            i % 1000,
            i % 16,
            18 + i % 120,
            100_000 + i
        ),
        1 => format!(
            "level=warn ts=2026-03-14T09:00:{:02}Z caller=cache.go:{} msg=\"cart cache holds {} entries\" heap_used={}%",
            i % 60,
            40 + i % 90,
            1200 * i,
            60 + i % 40
        ),
        2 => format!(
            "E0314 09:00:{:02}.{:06}       1 reflector.go:{}] failed to list *v1.Pod: Get \"https://10.96.0.1:443/api/v1/pods?limit={}\": dial tcp 10.96.0.1:443: i/o timeout",
            i % 60,
            i % 1_000_000,
            100 + i % 300,
            500 + i
        ),
        _ => format!(
            "{{\"level\":\"info\",\"msg\":\"request served\",\"path\":\"/api/v1/items/{}\",\"status\":200,\"duration_ms\":{}}}",
            i,
            i % 250
        ),
    }
}

fn cri(n: usize) -> Vec<Vec<u8>> {
    let stamps: Vec<&str> = CRI_FIXTURE
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    (0..n)
        .map(|i| {
            format!(
                "{} {} F {}",
                stamps[i % stamps.len()],
                if i % 7 == 0 { "stderr" } else { "stdout" },
                message(i)
            )
            .into_bytes()
        })
        .collect()
}

fn docker_json(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            serde_json::json!({"log": format!("{}\n", message(i)), "stream": "stdout", "time": "2019-04-01T17:58:33.598656444Z"})
                .to_string()
                .into_bytes()
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// CloudWatch subscription documents of `events` log events each, gzipped (as Firehose/Kinesis deliver
/// them) and, when `lambda`, wrapped in the Lambda `awslogs` base64 envelope.
fn cloudwatch(documents: usize, events: usize, lambda: bool) -> (Vec<Vec<u8>>, usize) {
    let mut decoded = 0;
    let inputs = (0..documents)
        .map(|d| {
            let log_events: Vec<_> = (0..events)
                .map(|e| {
                    let i = d * events + e;
                    serde_json::json!({"id": format!("{:056}", i), "timestamp": 1_725_544_035_523_i64 + i as i64, "message": message(i)})
                })
                .collect();
            let doc = serde_json::json!({
                "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/containerinsights/prod/application",
                "logStream": "app", "subscriptionFilters": ["all"], "logEvents": log_events
            })
            .to_string();
            decoded += doc.len();
            let packed = gzip(doc.as_bytes());
            if lambda {
                let data = base64::engine::general_purpose::STANDARD.encode(packed);
                format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#).into_bytes()
            } else {
                packed
            }
        })
        .collect();
    (inputs, decoded)
}

fn cycled(fixture: &str, n: usize) -> Vec<Vec<u8>> {
    let lines: Vec<&str> = fixture.lines().filter(|l| !l.trim().is_empty()).collect();
    (0..n)
        .map(|i| lines[i % lines.len()].as_bytes().to_vec())
        .collect()
}

fn uncompressed(name: &'static str, format: Format, inputs: Vec<Vec<u8>>) -> Corpus {
    let decoded_bytes = inputs.iter().map(Vec::len).sum();
    Corpus {
        name,
        format,
        inputs,
        decoded_bytes,
    }
}

/// Every corpus, each about `scale` × a few MB.
#[must_use]
pub fn corpora(scale: usize) -> Vec<Corpus> {
    let scale = scale.max(1);
    let (cw, cw_bytes) = cloudwatch(40 * scale, 250, false);
    let (lambda, lambda_bytes) = cloudwatch(40 * scale, 250, true);
    let gcp: String = GCP_FIXTURE.split_whitespace().collect::<Vec<_>>().join(" ");
    vec![
        uncompressed("cri", Format::Cri, cri(20_000 * scale)),
        uncompressed(
            "docker_json",
            Format::DockerJson,
            docker_json(20_000 * scale),
        ),
        Corpus {
            name: "cloudwatch_gzip",
            format: Format::Cloudwatch,
            inputs: cw,
            decoded_bytes: cw_bytes,
        },
        Corpus {
            name: "cloudwatch_lambda_base64_gzip",
            format: Format::Cloudwatch,
            inputs: lambda,
            decoded_bytes: lambda_bytes,
        },
        uncompressed(
            "gcp_log_entry",
            Format::GcpLogEntry,
            cycled(&gcp, 10_000 * scale),
        ),
        uncompressed(
            "azure_aks_diagnostics",
            Format::AzureResourceLogs,
            cycled(AKS_FIXTURE, 10_000 * scale),
        ),
        uncompressed(
            "k8s_event",
            Format::K8sEvent,
            cycled(EVENTS_FIXTURE, 5_000 * scale),
        ),
        uncompressed("auto_mixed_cri", Format::Auto, cri(20_000 * scale)),
    ]
}
