//! [`Enrich`]: the enrich stage processor.

use crate::grok_rules::GrokRules;
use crate::window::Windows;
use crate::{EnrichConfig, mask_message};
use schemas::clock::secs_to_ns;
use schemas::{
    Emitter, LogRecord, ParsedRecord, SCHEMA_VERSION, SourceRecord, Stage, decode_record, id,
};

/// Mines templates and aggregates windows. Built by [`EnrichConfig::build`].
pub struct Enrich {
    windows: Windows,
    grok: GrokRules,
}

impl Enrich {
    pub(crate) fn new(config: &EnrichConfig, grok: GrokRules) -> Self {
        Self {
            windows: Windows::new(
                secs_to_ns(config.window_secs),
                secs_to_ns(config.allowed_lateness_secs),
                config.top_templates,
                config.max_open_windows,
            ),
            grok,
        }
    }

    /// Records that arrived after their window had closed (parsed, but not aggregated).
    #[must_use]
    pub fn late_records(&self) -> u64 {
        self.windows.late()
    }
}

impl Stage for Enrich {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            let mut log: LogRecord = match decode_record(&input.payload) {
                Ok(log) => log,
                Err(error) => {
                    out.reject(input, error);
                    continue;
                }
            };
            if !self.grok.is_empty()
                && let Some(fields) = self.grok.extract(&log.source.topic, &log.message)
            {
                log.attributes.extend(fields);
            }
            let masked = mask_message(&log.message);
            let template_id = id::stable_id("tpl", &[&masked.template]);
            if let Some(mut target) = log.target() {
                // Windows aggregate per workload, not per pod.
                target.pod = None;
                target.node = None;
                for features in self.windows.add(
                    target,
                    log.event_time_ns,
                    log.severity,
                    &template_id,
                    &masked.template,
                ) {
                    out.emit_or_reject(input, &features);
                }
            }
            let parsed = ParsedRecord {
                schema_version: SCHEMA_VERSION,
                template_id,
                template: masked.template,
                template_version: 1,
                params: masked.params,
                log,
            };
            out.emit_or_reject(input, &parsed);
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        for features in self.windows.close_all() {
            // WindowFeatures holds only finite floats; encoding cannot fail.
            let _ = out.emit(&features);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{ErrorKind, LogSeverity, WindowFeatures, fixtures};

    fn log(message: &str, t_secs: i64) -> Vec<u8> {
        let mut record = fixtures::log_record(message, t_secs * 1_000_000_000);
        record.severity = LogSeverity::Error;
        serde_json::to_vec(&record).expect("encode")
    }

    #[test]
    fn grok_rules_add_fields_before_mining() {
        let config: EnrichConfig = toml::from_str(
            r#"
            [[grok]]
            topic = "medic.logs.k8s"
            pattern = "%{KLOG}"
            "#,
        )
        .expect("parses");
        let mut stage = config.build().expect("valid");
        let mut out = Emitter::new();
        let klog = log(
            "E0624 20:14:59.855669       1 reflector.go:47] watch failed",
            1,
        );
        stage.process_batch(
            &[SourceRecord::new("medic.logs.normalized", 0, 0, klog)],
            &mut out,
        );
        let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
        let attributes = &parsed[0].log.attributes;
        assert_eq!(
            attributes.get("grok.klog_source").map(String::as_str),
            Some("reflector.go:47")
        );
        assert_eq!(
            attributes.get("grok.klog_message").map(String::as_str),
            Some("watch failed")
        );
        let bad: EnrichConfig = toml::from_str("[[grok]]\npattern = \"%{NOPE}\"").expect("parses");
        assert!(bad.validate().expect_err("bad pattern")[0].starts_with("enrich.grok[0]"));
    }

    #[test]
    fn same_template_same_id_and_windows_close() {
        let mut stage = EnrichConfig::default().build().expect("valid");
        let batch = [
            SourceRecord::new("medic.logs.normalized", 0, 0, log("retry 3 of 5", 1)),
            SourceRecord::new("medic.logs.normalized", 0, 1, log("retry 4 of 5", 2)),
            SourceRecord::new("medic.logs.normalized", 0, 2, b"garbage".to_vec()),
            SourceRecord::new("medic.logs.normalized", 0, 3, log("retry 5 of 5", 200)),
        ];
        let mut out = Emitter::new();
        stage.process_batch(&batch, &mut out);
        let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
        assert_eq!(parsed.len(), 3);
        assert!(parsed.iter().all(|p| p.template_id == parsed[0].template_id && p.template == "retry <*> of <*>"));
        assert_eq!(out.rejections().len(), 1);
        assert_eq!(out.rejections()[0].error.kind, ErrorKind::Decode);
        let windows: Vec<WindowFeatures> = out.decode_all().expect("windows");
        assert_eq!(
            windows.len(),
            1,
            "the first minute closed when event time reached 200 s"
        );
        assert_eq!((windows[0].record_count, windows[0].error_count), (2, 2));
        assert_eq!(windows[0].target.name, "web");
        assert_eq!(windows[0].target.pod, None);
    }
}
