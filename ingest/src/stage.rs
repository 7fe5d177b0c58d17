//! [`Ingest`]: the ingest stage processor.

use crate::cri::{self, Assembler};
use crate::decoded::Decoded;
use crate::{
    Format, IngestConfig, docker_json, format, json_line, k8s_event, log_path, severity, workload,
};
use schemas::clock::{Clock, millis_to_ns, wall_clock_ns};
use schemas::{Emitter, SourceFormat, SourceRecord, Stage, StageError};
use std::collections::HashMap;

/// Decodes raw envelopes into [`schemas::LogRecord`]s. Built by [`IngestConfig::build`].
pub struct Ingest {
    formats: HashMap<String, Format>,
    assembler: Assembler,
    clock: Clock,
}

impl Ingest {
    pub(crate) fn new(config: &IngestConfig) -> Self {
        let flush_after_ns = millis_to_ns(config.partial_flush_ms);
        Self {
            formats: config
                .sources
                .iter()
                .map(|s| (s.topic(), s.format))
                .collect(),
            assembler: Assembler::new(config.max_line_bytes, flush_after_ns),
            clock: wall_clock_ns,
        }
    }

    /// Replaces the wall clock (used for the partial-line age bound) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Decodes one input into zero or more complete records.
    fn decode(&mut self, input: &SourceRecord) -> Result<Vec<Decoded>, StageError> {
        let text = std::str::from_utf8(&input.payload)
            .map_err(|e| StageError::decode(format!("payload is not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            return Err(StageError::invalid("empty payload"));
        }
        let configured = self
            .formats
            .get(&input.coordinates.topic)
            .copied()
            .unwrap_or(Format::Auto);
        let format = match configured {
            Format::Auto => format::detect(text.lines().next().unwrap_or_default()),
            Format::Cri => SourceFormat::Cri,
            Format::DockerJson => SourceFormat::DockerJson,
            Format::K8sEvent => SourceFormat::K8sEvent,
            Format::JsonLine => SourceFormat::JsonLine,
            Format::PlainText => SourceFormat::PlainText,
        };
        let decoded = match format {
            SourceFormat::Cri | SourceFormat::DockerJson => {
                return self.decode_container_lines(input, text, format);
            }
            SourceFormat::K8sEvent => k8s_event::decode(text)?,
            SourceFormat::JsonLine => json_line::decode(text)?,
            _ => {
                let message = text.trim_end_matches(['\n', '\r']).to_owned();
                let mut decoded = Decoded::new(SourceFormat::PlainText, message);
                decoded.severity = severity::detect_in_text(&decoded.message);
                decoded
            }
        };
        Ok(vec![decoded])
    }

    /// CRI and docker lines: one payload may hold several lines; each is a chunk of its log stream.
    /// Every line is checked before any is used, so a bad line rejects the whole record.
    fn decode_container_lines(
        &mut self,
        input: &SourceRecord,
        text: &str,
        format: SourceFormat,
    ) -> Result<Vec<Decoded>, StageError> {
        let mut chunks = Vec::new();
        for (number, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let chunk = if format == SourceFormat::Cri {
                cri::parse_line(line).map(|parsed| {
                    let mut chunk = Decoded::new(SourceFormat::Cri, parsed.message.to_owned());
                    chunk.event_time_ns = Some(parsed.time_ns);
                    chunk.stream = Some(parsed.stream);
                    chunk.severity = severity::detect_in_text(parsed.message);
                    (chunk, parsed.partial)
                })
            } else {
                docker_json::decode(line).map(|(mut chunk, partial)| {
                    chunk.severity = severity::detect_in_text(&chunk.message);
                    (chunk, partial)
                })
            };
            chunks.push(chunk.map_err(|e| {
                StageError::new(e.kind, format!("line {}: {}", number + 1, e.reason))
            })?);
        }
        let stream_key = input
            .key
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_else(|| {
                format!(
                    "{}/{}",
                    input.coordinates.topic, input.coordinates.partition
                )
                .into()
            });
        let now = (self.clock)();
        Ok(chunks
            .into_iter()
            .filter_map(|(mut chunk, partial)| {
                chunk.source = input.coordinates.clone();
                complete_resource(&mut chunk, input.key.as_deref());
                self.assembler.push(&stream_key, chunk, partial, now)
            })
            .collect())
    }
}

/// Fills pod coordinates from a kubelet log path in the message key, and the workload from the pod name.
fn complete_resource(decoded: &mut Decoded, key: Option<&[u8]>) {
    let resource = &mut decoded.resource;
    if let Some(path) = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .and_then(log_path::parse)
    {
        resource.namespace.get_or_insert(path.namespace);
        resource.pod.get_or_insert(path.pod);
        resource.container.get_or_insert(path.container);
    }
    if resource.workload.is_none() {
        resource.workload = resource.pod.as_deref().and_then(workload::from_pod_name);
    }
}

fn emit(out: &mut Emitter, input: Option<&SourceRecord>, decoded: Decoded) {
    let observed = input
        .and_then(|i| i.timestamp_ms)
        .map(|ms| ms.saturating_mul(1_000_000))
        .or(decoded.event_time_ns)
        .unwrap_or_else(wall_clock_ns);
    let record = decoded.into_record(observed);
    match input {
        Some(input) => out.emit_or_reject(input, &record),
        // Flushed partial messages have no single input left to reject; encoding a LogRecord only fails
        // on non-finite floats, which it does not contain.
        None => {
            let _ = out.emit(&record);
        }
    }
}

impl Stage for Ingest {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            match self.decode(input) {
                Ok(records) => {
                    for mut decoded in records {
                        if decoded.source.topic.is_empty() {
                            decoded.source = input.coordinates.clone();
                        }
                        complete_resource(&mut decoded, input.key.as_deref());
                        emit(out, Some(input), decoded);
                    }
                }
                Err(error) => out.reject(input, error),
            }
        }
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        for decoded in self.assembler.flush_expired(now_ns) {
            emit(out, None, decoded);
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        for decoded in self.assembler.flush_all() {
            emit(out, None, decoded);
        }
    }
}
