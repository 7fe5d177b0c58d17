// Shared by every target: the ingest stage configured with one format, fed one input. Must never panic;
// every input must be accounted for (records, a rejection, a drop, or a partial chunk flushed at close).
use medic_ingest::{Format, IngestConfig, SourceConfig};
use medic_schemas::{Emitter, SourceRecord, Stage};

pub fn run(format: Format, data: &[u8]) {
    let config = IngestConfig {
        sources: vec![SourceConfig { name: "f".into(), topic: Some("f".into()), format, redaction: None }],
        max_decompressed_bytes: 1 << 20,
        ..IngestConfig::default()
    };
    let mut stage = config.build().expect("valid config");
    let mut out = Emitter::new();
    stage.process_batch(&[SourceRecord::new("f", 0, 0, data.to_vec())], &mut out);
    stage.on_close(&mut out);
    assert!(!out.emitted().is_empty() || out.rejections().len() == 1 || out.dropped() == 1, "input vanished");
}
