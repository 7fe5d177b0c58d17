// Shared by every target: the ingest stage configured with one format, fed one input. Must never panic;
// every input must be accounted for (records, a rejection, a drop, or a partial chunk flushed at close).
// The stage is built once per format (compiling the redaction rules per input would dominate the run)
// and `on_close` flushes its partial-line state after every input, so runs stay independent.
use medic_ingest::{Format, Ingest, IngestConfig, SourceConfig};
use medic_schemas::{Emitter, SourceRecord, Stage};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static STAGES: RefCell<HashMap<&'static str, Ingest>> = RefCell::new(HashMap::new());
}

fn build(format: Format) -> Ingest {
    let config = IngestConfig {
        sources: vec![SourceConfig { name: "f".into(), topic: Some("f".into()), format, redaction: None }],
        max_record_bytes: 1 << 16,
        max_decompressed_bytes: 1 << 20,
        ..IngestConfig::default()
    };
    config.build().expect("valid config")
}

pub fn run(format: Format, data: &[u8]) {
    STAGES.with(|stages| {
        let mut stages = stages.borrow_mut();
        let stage = stages.entry(format.name()).or_insert_with(|| build(format));
        let mut out = Emitter::new();
        stage.process_batch(&[SourceRecord::new("f", 0, 0, data.to_vec())], &mut out);
        stage.on_close(&mut out);
        assert!(!out.emitted().is_empty() || out.rejections().len() == 1 || out.dropped() == 1, "input vanished");
    });
}
