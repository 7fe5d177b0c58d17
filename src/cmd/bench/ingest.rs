//! `medic bench ingest`: ingest throughput per format on realistic corpora, with a baseline measured in
//! the same run (the least work any decoder of that input must do), printed as JSON.

use ingest::corpus::{Corpus, corpora};
use ingest::{IngestConfig, RedactionConfig, SourceConfig};
use schemas::{Emitter, SourceRecord, Stage};
use serde::Serialize;
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One corpus' measurement.
#[derive(Debug, Serialize)]
pub struct IngestBench {
    /// Corpus name.
    pub name: &'static str,
    /// Configured format.
    pub format: String,
    /// Kafka payloads fed.
    pub inputs: usize,
    /// Log records produced.
    pub records: usize,
    /// Payload bytes.
    pub input_bytes: usize,
    /// Bytes after decompression.
    pub decoded_bytes: usize,
    /// Median seconds for the whole corpus through the ingest stage (decode, normalise, redact, encode).
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// Payload MB/s (10^6 bytes).
    pub input_mb_per_sec: f64,
    /// Decompressed MB/s.
    pub decoded_mb_per_sec: f64,
    /// What the baseline does.
    pub baseline: &'static str,
    /// Median seconds of the baseline over the same corpus.
    pub baseline_seconds: f64,
    /// `seconds / baseline_seconds`: how many times the minimal work the stage costs.
    pub ratio_to_baseline: f64,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn time_stage(corpus: &Corpus, redaction: &RedactionConfig, rounds: usize) -> (Duration, usize) {
    let config = IngestConfig {
        sources: vec![SourceConfig {
            name: "bench".into(),
            topic: Some("bench".into()),
            format: corpus.format,
            redaction: Some(redaction.clone()),
        }],
        ..IngestConfig::default()
    };
    let batches: Vec<Vec<SourceRecord>> = corpus
        .inputs
        .chunks(500)
        .enumerate()
        .map(|(b, chunk)| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, p)| SourceRecord::new("bench", 0, (b * 500 + i) as i64, p.clone()))
                .collect()
        })
        .collect();
    let mut records = 0;
    let samples = (0..rounds)
        .map(|_| {
            let mut stage = config.build().expect("bench config is valid");
            let started = Instant::now();
            records = 0;
            for batch in &batches {
                let mut out = Emitter::new();
                stage.process_batch(batch, &mut out);
                records += out.emitted().len();
            }
            started.elapsed()
        })
        .collect();
    (median(samples), records)
}

/// The minimal work for the corpus: inflate gzip, parse JSON without building values, or find lines.
fn time_baseline(corpus: &Corpus, rounds: usize) -> (Duration, &'static str) {
    let first = corpus.inputs.first().map(Vec::as_slice).unwrap_or_default();
    let lambda = first.starts_with(br#"{"awslogs""#);
    let gzip = lambda || first.starts_with(&[0x1f, 0x8b]);
    let json = first.starts_with(b"{");
    let label = match (lambda, gzip, json) {
        (true, _, _) => "base64 decode + gzip inflate + JSON scan (serde IgnoredAny)",
        (false, true, _) => "gzip inflate + JSON scan (serde IgnoredAny)",
        (false, false, true) => "JSON scan (serde IgnoredAny)",
        _ => "line split + UTF-8 check",
    };
    let samples = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            let mut sink = 0usize;
            for payload in &corpus.inputs {
                let unwrapped = if lambda {
                    lambda_data(payload)
                } else {
                    Vec::new()
                };
                let packed: &[u8] = if lambda { &unwrapped } else { payload };
                let mut inflated = Vec::new();
                let bytes: &[u8] = if gzip {
                    let _ = flate2::read::MultiGzDecoder::new(packed).read_to_end(&mut inflated);
                    &inflated
                } else {
                    packed
                };
                if gzip || json {
                    sink +=
                        usize::from(serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok());
                } else {
                    sink += std::str::from_utf8(bytes).map_or(0, |t| t.lines().count());
                }
            }
            std::hint::black_box(sink);
            started.elapsed()
        })
        .collect();
    (median(samples), label)
}

/// The gzip bytes inside a Lambda `{"awslogs":{"data":"<base64>"}}` envelope.
fn lambda_data(payload: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let envelope: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let data = envelope["awslogs"]["data"].as_str().unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap_or_default()
}

/// Measures every corpus at `scale`, `rounds` times each (median reported).
#[must_use]
pub fn bench_ingest(scale: usize, rounds: usize, redaction: bool) -> Vec<IngestBench> {
    let redaction = RedactionConfig {
        enabled: redaction,
        ..RedactionConfig::default()
    };
    let rounds = rounds.max(1);
    corpora(scale)
        .iter()
        .map(|corpus| {
            let (elapsed, records) = time_stage(corpus, &redaction, rounds);
            let (baseline, label) = time_baseline(corpus, rounds);
            let secs = elapsed.as_secs_f64().max(1e-9);
            #[allow(clippy::cast_precision_loss, reason = "corpus sizes far below 2^52")]
            IngestBench {
                name: corpus.name,
                format: corpus.format.to_string(),
                inputs: corpus.inputs.len(),
                records,
                input_bytes: corpus.bytes(),
                decoded_bytes: corpus.decoded_bytes,
                seconds: secs,
                records_per_sec: records as f64 / secs,
                input_mb_per_sec: corpus.bytes() as f64 / secs / 1e6,
                decoded_mb_per_sec: corpus.decoded_bytes as f64 / secs / 1e6,
                baseline: label,
                baseline_seconds: baseline.as_secs_f64(),
                ratio_to_baseline: secs / baseline.as_secs_f64().max(1e-9),
            }
        })
        .collect()
}

/// `medic bench ingest`: the table on stderr, the report as JSON on stdout.
///
/// # Errors
/// When the report cannot be serialised.
pub fn run(scale: usize, rounds: usize, redaction: bool) -> anyhow::Result<ExitCode> {
    let results = bench_ingest(scale, rounds, redaction);
    eprintln!(
        "{:<30} {:>9} {:>12} {:>10} {:>10} {:>8}",
        "corpus", "records", "records/s", "in MB/s", "raw MB/s", "x base"
    );
    for r in &results {
        eprintln!(
            "{:<30} {:>9} {:>12.0} {:>10.1} {:>10.1} {:>8.1}",
            r.name,
            r.records,
            r.records_per_sec,
            r.input_mb_per_sec,
            r.decoded_mb_per_sec,
            r.ratio_to_baseline
        );
    }
    let report = serde_json::json!({
        "bench": "ingest",
        "scale": scale,
        "rounds": rounds,
        "redaction": redaction,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "corpora": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
