//! Ingest throughput per format (records/s and bytes/s) on the corpora of `medic_ingest::corpus`.
//! `cargo bench -p medic-ingest`; `medic bench ingest` prints the same measurement as JSON.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use medic_ingest::corpus::corpora;
use medic_ingest::{IngestConfig, SourceConfig};
use schemas::{Emitter, SourceRecord, Stage};

fn decoders(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for corpus in corpora(1) {
        let config = IngestConfig {
            sources: vec![SourceConfig {
                name: "bench".into(),
                topic: Some("bench".into()),
                format: corpus.format,
                redaction: None,
            }],
            ..IngestConfig::default()
        };
        let batch: Vec<SourceRecord> = corpus
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| SourceRecord::new("bench", 0, i as i64, p.clone()))
            .collect();
        group.throughput(Throughput::Bytes(corpus.bytes() as u64));
        group.bench_function(corpus.name, |b| {
            b.iter_batched(
                || (config.build().expect("valid"), Emitter::new()),
                |(mut stage, mut out)| {
                    stage.process_batch(&batch, &mut out);
                    out
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, decoders);
criterion_main!(benches);
