//! [`Ingest`]: the ingest stage processor.

use crate::cri::Assembler;
use crate::decode::{Decoder, Limits};
use crate::decoded::Decoded;
use crate::log_path::PodLogPath;
use crate::redact::Redactor;
use crate::reject::{Reason, Reject};
use crate::{Format, IngestConfig, log_path, workload};
use schemas::clock::{Clock, wall_clock_ns};
use schemas::{Emitter, SourceRecord, Stage};
use std::borrow::Cow;
use std::collections::HashMap;

/// Counter event for dropped CloudWatch health checks.
const CONTROL_MESSAGE_EVENT: &str = "dropped.cloudwatch_control_message";
/// Counter event for inputs decoded from invalid UTF-8 (lossily, flagged `medic.lossy_utf8`).
const LOSSY_UTF8_EVENT: &str = "decoded.lossy_utf8";
/// Records whose content claimed pod coordinates other than their trusted identity.
const IDENTITY_MISMATCH_EVENT: &str = "identity_mismatch";
/// The attribute a record carries when its workload was named from its pod's name, not an owner.
pub const WORKLOAD_INFERRED_ATTRIBUTE: &str = "medic.workload_inferred";

/// How one source topic is read.
struct Source {
    format: Format,
    redactor: Redactor,
}

/// Decodes raw envelopes into [`schemas::LogRecord`]s. Built by [`IngestConfig::build`].
pub struct Ingest {
    sources: HashMap<String, Source>,
    /// For records from a topic no source names (tests, replays): `auto` with the default redaction.
    fallback: Source,
    assembler: Assembler,
    limits: Limits,
    infer_workloads: bool,
    clock: Clock,
}

impl Ingest {
    pub(crate) fn new(config: &IngestConfig) -> Self {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let redaction = s.redaction.as_ref().unwrap_or(&config.redaction);
                (
                    s.topic(),
                    Source {
                        format: s.format,
                        redactor: Redactor::new(redaction),
                    },
                )
            })
            .collect();
        let min_event_time_ns = chrono::NaiveDate::from_ymd_opt(config.min_event_year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .unwrap_or(0);
        Self {
            sources,
            fallback: Source {
                format: Format::Auto,
                redactor: Redactor::new(&config.redaction),
            },
            assembler: Assembler::new(
                config.max_line_bytes,
                config.max_pending_bytes,
                config.partial_flush.as_nanos(),
            ),
            limits: Limits {
                max_record_bytes: config.max_record_bytes,
                max_decompressed_bytes: config.max_decompressed_bytes,
                max_records_per_input: config.max_records_per_input,
                min_event_time_ns,
                max_future_skew_ns: config.max_future_skew.as_nanos(),
            },
            infer_workloads: config.infer_workloads,
            clock: wall_clock_ns,
        }
    }

    /// Replaces the wall clock (partial-line age, timestamp sanity) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn source(&self, topic: &str) -> &Source {
        self.sources.get(topic).unwrap_or(&self.fallback)
    }

    /// Completes a record: provenance, pod coordinates from the `path` its stream's key names, the
    /// workload, redaction.
    fn finish(
        &self,
        mut record: Decoded,
        input: Option<&SourceRecord>,
        path: Option<PodLogPath<'_>>,
        lossy: bool,
        out: &mut Emitter,
    ) {
        if let Some(input) = input
            && record.source.topic.is_empty()
        {
            record.source = input.coordinates.clone();
        }
        if complete_resource(&mut record, path, self.infer_workloads) {
            out.count(IDENTITY_MISMATCH_EVENT, 1);
        }
        if lossy {
            record
                .attributes
                .insert("medic.lossy_utf8".to_owned(), "true".to_owned());
        }
        let redactor = &self.source(&record.source.topic).redactor;
        redactor.redact(&mut record.message, |rule, n| out.count(rule.event(), n));
        for (key, value) in &mut record.attributes {
            redactor.redact_field(key, value, |event, n| out.count(event, n));
        }
        let observed = input
            .and_then(|i| i.timestamp_ms)
            .map(|ms| ms.saturating_mul(1_000_000))
            .or(record.event_time_ns)
            .unwrap_or_else(wall_clock_ns);
        let record = record.into_record(observed);
        match input {
            Some(input) => out.emit_or_reject(input, &record),
            // Flushed partial messages have no single input left to reject; encoding a LogRecord only
            // fails on non-finite floats, which it does not contain.
            None => {
                let _ = out.emit(&record);
            }
        }
    }

    /// Decodes one input; `now_ns` is the batch's wall-clock time (partial-line age, timestamp sanity).
    fn ingest(&mut self, input: &SourceRecord, now_ns: i64, out: &mut Emitter) {
        if input.payload.len() > self.limits.max_record_bytes {
            let reject = Reject::new(
                Reason::RecordTooLarge,
                format!(
                    "{} bytes exceed max_record_bytes ({})",
                    input.payload.len(),
                    self.limits.max_record_bytes
                ),
            );
            return refuse(input, reject, out);
        }
        // Only a UTF-8 key is a kubelet log path that names an identity; it is parsed once, for the
        // decoder and the identity. Another key's stream is named by its bytes in hex, which no log path
        // matches, so its partial lines, flushed later under that name, take no identity from it either;
        // its lossy form may still mark a container's stream for the decoder.
        let key = input.key.as_deref();
        let utf8_key = key.and_then(|key| std::str::from_utf8(key).ok());
        let path = utf8_key.and_then(log_path::parse);
        let stream_key: Cow<'_, str> = match (utf8_key, key) {
            (Some(key), _) => key.into(),
            (None, Some(key)) => format!("non-utf8:{}", schemas::id::hex(key)).into(),
            (None, None) => format!(
                "{}/{}",
                input.coordinates.topic, input.coordinates.partition
            )
            .into(),
        };
        let container_stream = path.is_some()
            || (utf8_key.is_none()
                && key.is_some_and(|key| log_path::parse(&String::from_utf8_lossy(key)).is_some()));
        let format = self.source(&input.coordinates.topic).format;
        let mut decoder = Decoder {
            limits: &self.limits,
            configured: format,
            assembler: &mut self.assembler,
            stream_key: &stream_key,
            source: &input.coordinates,
            container_stream,
            now_ns,
            output: crate::decode::Output::default(),
        };
        let decoded = decoder.bytes(&input.payload, 0);
        let output = decoder.output;
        // Partial messages of other streams emitted early to keep the pending bound, whatever this
        // input's own fate.
        for (stream, evicted) in self.assembler.take_evicted() {
            self.finish(evicted, None, log_path::parse(&stream), false, out);
        }
        if let Err(reject) = decoded {
            return refuse(input, reject, out);
        }
        out.count(CONTROL_MESSAGE_EVENT, output.control_messages);
        if output.lossy_utf8 {
            out.count(LOSSY_UTF8_EVENT, 1);
        }
        if output.records.is_empty() && output.control_messages > 0 {
            out.drop_record();
        }
        for record in output.records {
            self.finish(record, Some(input), path, output.lossy_utf8, out);
        }
    }
}

fn refuse(input: &SourceRecord, reject: Reject, out: &mut Emitter) {
    out.count(reject.reason.event(), 1);
    out.reject(input, reject.into());
}

/// Completes the record's identity from what the shipper decides, never from what the content says: a
/// kubelet log `path` of the message key (the shipper keys each tailed file by it) overrides the pod
/// coordinates the payload carries; content claims ([`Claims`](crate::decoded::Claims)) are checked
/// against the identity and kept, where they differ, as `medic.claimed.<field>` attributes, never
/// adopted. An owner — the agent's, else a claimed one — names the workload only when it is a kind that
/// owns pods and the pod is named after it; else the workload falls back to the pod-name convention.
/// Returns whether anything claimed disagreed.
fn complete_resource(
    decoded: &mut Decoded,
    path: Option<PodLogPath<'_>>,
    infer_workloads: bool,
) -> bool {
    let claims = std::mem::take(&mut decoded.claims);
    let resource = &mut decoded.resource;
    let mut claimed: Vec<(&'static str, String)> = Vec::new();
    if let Some(path) = path {
        for (field, slot, trusted) in [
            ("namespace", &mut resource.namespace, path.namespace),
            ("pod", &mut resource.pod, path.pod),
            ("container", &mut resource.container, path.container),
        ] {
            if slot.as_deref() != Some(trusted)
                && let Some(said) = slot.replace(trusted.to_owned())
            {
                claimed.push((field, said));
            }
        }
    }
    for (field, said, actual) in [
        ("namespace", claims.namespace, &resource.namespace),
        ("pod", claims.pod, &resource.pod),
        ("container", claims.container, &resource.container),
        ("node", claims.node, &resource.node),
    ] {
        if let (Some(said), Some(actual)) = (said, actual)
            && &said != actual
        {
            claimed.push((field, said));
        }
    }
    // A payload whose pod was not the trusted one does not name the workload either.
    if claimed.iter().any(|(field, _)| *field == "pod") {
        resource.workload = None;
    }
    let pod = resource.pod.as_deref().unwrap_or_default();
    let decoder_guess = decoded
        .inferred_workload
        .filter(|_| resource.workload.is_some());
    let (found, inferred_from) = if let Some(how) = decoder_guess {
        // A decoder's guess from a name (an Event's Pod or ReplicaSet) follows the same rule as the
        // stage's.
        if infer_workloads {
            (resource.workload.take(), Some(how))
        } else {
            (None, None)
        }
    } else if resource.workload.is_some() {
        (resource.workload.take(), None)
    } else {
        let agent_owner = decoded
            .owner
            .as_ref()
            .map(|(k, n)| (k.as_str(), n.as_str()));
        let claimed_owner = claims.owner.as_deref().and_then(|o| o.split_once('/'));
        let owner_of_pod = |owner: Option<(&str, &str)>| {
            owner
                .filter(|(_, name)| workload::named_after(pod, name))
                .and_then(|(kind, name)| workload::from_owner(kind, name))
        };
        // The agent's owner reference is trusted; an owner claimed by content, or the pod's name, are
        // guesses (the pod is named after them either way), made only with `infer_workloads`.
        match owner_of_pod(agent_owner) {
            Some(owner) => (Some(owner), None),
            None if infer_workloads => match owner_of_pod(claimed_owner) {
                Some(owner) => (Some(owner), Some("owner_claim")),
                None => (workload::from_pod_name(pod), Some("pod_name")),
            },
            None => (None, None),
        }
    };
    resource.workload = found;
    if let Some(from) = inferred_from.filter(|_| resource.workload.is_some()) {
        decoded
            .attributes
            .insert(WORKLOAD_INFERRED_ATTRIBUTE.to_owned(), from.to_owned());
    }
    let mismatched = !claimed.is_empty();
    for (field, said) in claimed {
        decoded
            .attributes
            .insert(format!("medic.claimed.{field}"), said);
    }
    mismatched
}

impl Stage for Ingest {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        let now_ns = (self.clock)();
        for input in batch {
            self.ingest(input, now_ns, out);
        }
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        for (stream, decoded) in self.assembler.flush_expired(now_ns) {
            self.finish(decoded, None, log_path::parse(&stream), false, out);
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        for (stream, decoded) in self.assembler.flush_all() {
            self.finish(decoded, None, log_path::parse(&stream), false, out);
        }
    }
}
