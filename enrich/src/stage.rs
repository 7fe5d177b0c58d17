//! [`Enrich`]: the enrich stage processor — grok fields, template mining, windows.

use crate::drain::{Cluster, Drain, DrainConfig};
use crate::grok_rules::GrokRules;
use crate::mask_message;
use crate::tokens::{TokenMasker, extract_params, whitespace_tokens};
use crate::windows::{WindowOperator, window_inputs, workload_of};
use schemas::clock::{Clock, wall_clock_ns};
use schemas::compact::{CompactLog, ParsedParts};
use schemas::{
    Emitter, LogRecord, LogView, RecordKind, SCHEMA_VERSION, SourceRecord, Stage, StageError,
    StageState, compact, decode_record, id,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Mines templates and aggregates windows. Built by [`EnrichConfig::build`](crate::EnrichConfig::build).
pub struct Enrich {
    miner: Drain,
    texts: TemplateTexts,
    masker: TokenMasker,
    grok: GrokRules,
    windows: Vec<WindowOperator>,
    clock: Clock,
    /// Window states a restored checkpoint had but could not be used (definition changed).
    discarded_window_states: u64,
    /// Emit the open windows when the stage stops ([`crate::EnrichConfig::flush_on_close`]).
    flush_on_close: bool,
}

/// What an enrich checkpoint holds. Written from borrowed state; read with the window states left as JSON
/// until their definition's fingerprint is checked.
#[derive(Serialize, Deserialize)]
struct Snapshot<M, K: Ord, W> {
    miner: M,
    /// Per window definition name: the definition's fingerprint and its state.
    windows: BTreeMap<K, (String, W)>,
}

impl Enrich {
    pub(crate) fn new(miner: DrainConfig, grok: GrokRules, windows: Vec<WindowOperator>) -> Self {
        Self {
            miner: Drain::new(miner),
            texts: TemplateTexts::default(),
            masker: TokenMasker::default(),
            grok,
            windows,
            clock: wall_clock_ns,
            discarded_window_states: 0,
            flush_on_close: false,
        }
    }

    /// Emits the open windows when the stage stops, or not (see
    /// [`crate::EnrichConfig::flush_on_close`]).
    #[must_use]
    pub fn flushing_on_close(mut self, flush: bool) -> Self {
        self.flush_on_close = flush;
        self
    }

    /// Replaces the wall clock (it notices a quiet stream and bounds event times ahead of it: a fixed
    /// clock earlier than the records keeps their windows open until the stage is flushed), for tests
    /// and replays.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Templates mined so far.
    #[must_use]
    pub fn templates(&self) -> usize {
        self.miner.clusters().len()
    }

    /// Emits every open window (the end of a finite input, such as a replay).
    pub fn flush(&mut self, out: &mut Emitter) {
        for operator in &mut self.windows {
            for features in operator.flush() {
                // WindowFeatures holds only finite floats; encoding cannot fail.
                let _ = out.emit(&features);
            }
        }
    }

    /// Reads one input's log: in place when it is a compact record grok adds no field to (the common
    /// case), else as a record of `owned` (a JSON record, or one grok adds fields to).
    fn read<'a>(
        &self,
        payload: &'a [u8],
        owned: &mut Vec<LogRecord>,
    ) -> Result<Held<'a>, StageError> {
        let fields = |log: &LogView<'_>| {
            if self.grok.is_empty() {
                return None;
            }
            self.grok
                .extract(log.source.topic, log.message)
                .filter(|fields| !fields.is_empty())
        };
        let log = if compact::is_compact(payload) {
            let log = compact::decode_log_view(payload)?;
            match fields(log.view()) {
                None => return Ok(Held::InPlace(log)),
                Some(found) => {
                    let mut record = log.view().to_record();
                    record.attributes.extend(found);
                    record
                }
            }
        } else {
            let mut log: LogRecord = decode_record(payload)?;
            let found = fields(&log.view());
            log.attributes.extend(found.into_iter().flatten());
            log
        };
        owned.push(log);
        Ok(Held::Owned(owned.len() - 1))
    }

    /// The template of `log`: the miner's cluster, or per-message masking when it is full.
    fn parse<'a>(&mut self, log: LineLog<'a>, out: &mut Emitter) -> ParsedLine<'a> {
        let message = log.view().message;
        let tokens = whitespace_tokens(message);
        let matched = self.miner.add(self.masker.mask(&tokens));
        let (template_id, template, template_version, params) = match matched.cluster {
            Some(index) => {
                let cluster = &self.miner.clusters()[index];
                let root = self.miner.group_of(index);
                if cluster.size == 1 && root == index {
                    out.count("enrich.template_new", 1);
                } else if matched.changed {
                    out.count("enrich.template_changed", 1);
                }
                let mut params = Vec::new();
                for (template_token, token) in cluster.tokens.iter().zip(&tokens) {
                    extract_params(template_token, token, &mut params);
                }
                // The group's id, template and version (its oldest cluster's), so merged clusters are
                // one event with one text; `params` are the values under this cluster's own wildcards.
                let group = &self.miner.clusters()[root];
                let (id, template) = self.texts.of(root, group);
                (id, template, group.version, params)
            }
            None => {
                out.count("enrich.miner_full", 1);
                let masked = mask_message(message);
                let id = id::stable_id("tpl", &[&masked.template]);
                let params = masked.params.into_iter().map(Cow::Owned).collect();
                (id.into(), masked.template.into(), 1, params)
            }
        };
        ParsedLine {
            log,
            template_id,
            template,
            template_version,
            params,
        }
    }

    fn fingerprint(operator: &WindowOperator) -> String {
        let spec = operator.spec();
        format!("{}/{}/{}", spec.size, spec.slide_ns(), spec.sql)
    }
}

/// Where enrich holds a line's log while it reads a batch.
#[allow(
    clippy::large_enum_variant,
    reason = "most lines are in place: boxing their views would allocate for every line"
)]
enum Held<'a> {
    /// In its input's bytes.
    InPlace(CompactLog<'a>),
    /// At this index of the batch's owned records.
    Owned(usize),
}

/// A line's log once the batch is read: in its input's bytes, or a view of an owned record.
#[allow(
    clippy::large_enum_variant,
    reason = "most lines are in place: boxing their views would allocate for every line"
)]
enum LineLog<'a> {
    /// In its input's bytes, which its parsed record copies.
    InPlace(CompactLog<'a>),
    /// An owned record (a JSON input, or one grok added fields to), written from its fields.
    Owned(LogView<'a>),
}

impl<'a> LineLog<'a> {
    fn view(&self) -> &LogView<'a> {
        match self {
            Self::InPlace(log) => log.view(),
            Self::Owned(view) => view,
        }
    }
}

/// A line as enrich parsed it: what a [`ParsedRecord`](schemas::ParsedRecord) holds, its log and
/// parameters borrowed.
struct ParsedLine<'a> {
    log: LineLog<'a>,
    template_id: Arc<str>,
    template: Arc<str>,
    template_version: u32,
    params: Vec<Cow<'a, str>>,
}

impl<'a> ParsedLine<'a> {
    /// The line's log.
    fn log(&self) -> &LogView<'a> {
        self.log.view()
    }

    /// What the parsed record adds to its log.
    fn parts(&self) -> ParsedParts<'_, Cow<'_, str>> {
        ParsedParts {
            schema_version: SCHEMA_VERSION,
            template_id: &self.template_id,
            template: &self.template,
            template_version: self.template_version,
            params: &self.params,
        }
    }
}

/// The id and text of each group's template ([`Cluster::template`]), by the index of the group's
/// cluster, with the version it was joined at: joined again only when the template changes, not for
/// every line, and shared by the lines of a batch that have it.
#[derive(Default)]
struct TemplateTexts(Vec<Option<TemplateText>>);

/// A group's template id and text, at a version.
struct TemplateText {
    version: u32,
    id: Arc<str>,
    text: Arc<str>,
}

impl TemplateTexts {
    fn of(&mut self, index: usize, cluster: &Cluster) -> (Arc<str>, Arc<str>) {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        let slot = &mut self.0[index];
        let text = match slot {
            Some(text) if text.version == cluster.version => text,
            _ => slot.insert(TemplateText {
                version: cluster.version,
                id: cluster.id.as_str().into(),
                text: cluster.template().into(),
            }),
        };
        (Arc::clone(&text.id), Arc::clone(&text.text))
    }
}

impl Stage for Enrich {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        out.count(
            "checkpoint.window_state_discarded",
            std::mem::take(&mut self.discarded_window_states),
        );
        let mut owned = Vec::new();
        let held: Vec<_> = batch
            .iter()
            .map(|input| {
                self.read(&input.payload, &mut owned)
                    .map_err(|error| out.reject(input, error))
                    .ok()
            })
            .collect();
        let mut lines = Vec::with_capacity(batch.len());
        for (input, held) in batch.iter().zip(held) {
            let log = match held {
                Some(Held::InPlace(log)) => LineLog::InPlace(log),
                Some(Held::Owned(at)) => LineLog::Owned(owned[at].view()),
                None => continue,
            };
            let line = self.parse(log, out);
            let payload = match &line.log {
                LineLog::InPlace(log) => compact::encode_parsed_copying(&line.parts(), log),
                LineLog::Owned(log) => compact::encode_parsed_parts(&line.parts(), log),
            };
            out.emit_payload(RecordKind::Parsed, line.log().resource.key(), payload);
            lines.push((
                line,
                (input.coordinates.partition, input.coordinates.offset),
            ));
        }
        let targets: Vec<_> = lines
            .iter()
            .map(|(line, _)| workload_of(line.log()))
            .collect();
        // Parsed and passed on, but in no window: nothing names its workload.
        out.count(
            "windows.no_workload",
            targets.iter().filter(|t| t.is_none()).count() as u64,
        );
        let inputs = window_inputs(
            lines.iter().map(|(line, read_at)| {
                let template = (&*line.template_id, &*line.template);
                (line.log(), template, *read_at)
            }),
            &targets,
        );
        let now = (self.clock)();
        for operator in &mut self.windows {
            match operator.add_batch(&inputs, now) {
                Ok(output) => {
                    out.count("windows.late_dropped", output.late_dropped);
                    out.count("windows.late_updates", output.late_updates);
                    out.count("windows.ahead_of_clock", output.ahead_of_clock);
                    out.count("windows.evidence_unmatched", output.evidence_unmatched);
                    for features in output.windows {
                        let _ = out.emit(&features);
                    }
                }
                Err(_) => out.count("windows.query_failed", 1),
            }
        }
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        for operator in &mut self.windows {
            for features in operator.on_idle(now_ns) {
                let _ = out.emit(&features);
            }
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        if self.flush_on_close {
            self.flush(out);
        }
    }

    fn state(&mut self) -> Option<&mut dyn StageState> {
        Some(self)
    }
}

impl StageState for Enrich {
    fn snapshot(&self) -> Result<Vec<u8>, StageError> {
        let windows: BTreeMap<&str, _> = self
            .windows
            .iter()
            .map(|operator| {
                let state = (Self::fingerprint(operator), operator.snapshot());
                (operator.spec().name.as_str(), state)
            })
            .collect();
        serde_json::to_vec(&Snapshot {
            miner: self.miner.snapshot(),
            windows,
        })
        .map_err(|e| StageError::internal(format!("enrich snapshot: {e}")))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError> {
        let bad = |e: serde_json::Error| StageError::schema(format!("enrich checkpoint: {e}"));
        let Snapshot::<serde_json::Value, String, serde_json::Value> { miner, mut windows } =
            serde_json::from_slice(snapshot).map_err(bad)?;
        self.miner.restore(miner).map_err(bad)?;
        self.texts = TemplateTexts::default();
        for operator in &mut self.windows {
            match windows.remove(&operator.spec().name) {
                Some((fingerprint, state)) if fingerprint == Self::fingerprint(operator) => {
                    operator.restore(state).map_err(bad)?;
                }
                Some(_) => self.discarded_window_states += 1,
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EnrichConfig;
    use schemas::{ErrorKind, LogSeverity, ParsedRecord, WindowFeatures, WireRecord, fixtures};

    fn log_record(message: &str, t_secs: i64) -> LogRecord {
        let mut record = fixtures::log_record(message, t_secs * 1_000_000_000);
        record.severity = LogSeverity::Error;
        record
    }

    /// A line as ingest writes it (compact).
    fn log(message: &str, t_secs: i64) -> Vec<u8> {
        compact::encode_log(&log_record(message, t_secs))
    }

    fn input(offset: i64, payload: Vec<u8>) -> SourceRecord {
        SourceRecord::new("medic.logs.normalized", 0, offset, payload)
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
        stage.process_batch(&[input(0, klog)], &mut out);
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
        assert!(
            bad.validate().expect_err("bad pattern")[0]
                .path
                .starts_with("enrich.grok[0]")
        );
    }

    /// Every parsed record enrich writes is the one encoding of what it decodes to, keyed as that
    /// record is, whichever way its log was read: in place and copied (compact, grok adding nothing),
    /// or owned and written from its fields (JSON; grok adding fields or replacing one; the miner full).
    #[test]
    fn parsed_records_are_written_as_their_records_encode_and_key() {
        let config: EnrichConfig = toml::from_str(
            r#"
            max_templates = 2
            [[grok]]
            pattern = "user %{WORD:user} from %{IP:ip}"
            "#,
        )
        .expect("parses");
        let mut stage = config.build().expect("valid");
        let mut many = log_record("user alice from 10.0.0.1", 4);
        for i in 0..6 {
            many.attributes
                .insert(format!("field.{i}"), format!("value {i}"));
        }
        // More attributes than a view holds in place: read in place all the same (grok finds nothing).
        let quiet = LogRecord {
            message: "session closed for alice".into(),
            ..many.clone()
        };
        many.attributes
            .insert("grok.user".into(), "replaced".into());
        let batch = [
            input(0, log("session opened for alice", 1)),
            input(
                1,
                serde_json::to_vec(&log_record("session opened for bob", 2)).expect("json"),
            ),
            input(2, log("user carol from 10.0.0.2", 3)),
            input(3, compact::encode_log(&many)),
            input(4, log("disk sda1 is 93% full", 5)),
            input(5, log("a third shape entirely, 7 of them", 6)),
            input(6, compact::encode_log(&quiet)),
        ];
        let mut out = Emitter::new();
        stage.process_batch(&batch, &mut out);
        let collected = out.take();
        assert_eq!(collected.rejections.len(), 0);
        let parsed: Vec<_> = collected
            .emitted
            .iter()
            .filter(|e| e.kind == RecordKind::Parsed)
            .collect();
        assert_eq!(parsed.len(), batch.len());
        for emitted in parsed {
            let record: ParsedRecord = decode_record(&emitted.payload).expect("decodes");
            assert_eq!(emitted.payload, compact::encode_parsed(&record));
            assert_eq!(emitted.key, record.key());
        }
        let grokked: ParsedRecord = decode_record(&collected.emitted[3].payload).expect("decodes");
        assert_eq!(
            grokked.log.attributes.len(),
            8,
            "six fields, the ip and the user"
        );
        assert_eq!(grokked.log.attributes["grok.user"], "alice");
        let masked_alone = collected.events.get("enrich.miner_full").copied();
        assert!(masked_alone >= Some(1), "some lines found the miner full");
    }

    #[test]
    fn the_miner_names_templates_versions_them_and_extracts_params() {
        let mut stage = EnrichConfig::default().build().expect("valid");
        let batch = [
            input(0, log("session opened for user alice by web", 1)),
            // A line as JSON, as the ingest of an older release wrote it.
            input(
                1,
                serde_json::to_vec(&log_record("session opened for user bob by web", 2))
                    .expect("json"),
            ),
            input(2, b"garbage".to_vec()),
            input(3, log("retry 5 of 5 to 10.0.0.1:8080", 3)),
        ];
        let mut out = Emitter::new();
        stage.process_batch(&batch, &mut out);
        let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            parsed[0].log,
            log_record("session opened for user alice by web", 1)
        );
        assert_eq!(
            parsed[1].log,
            log_record("session opened for user bob by web", 2)
        );
        assert_eq!(parsed[0].template_id, parsed[1].template_id);
        assert_eq!(parsed[0].template, "session opened for user alice by web");
        assert_eq!(
            (parsed[1].template.as_str(), parsed[1].template_version),
            ("session opened for user <*> by web", 2)
        );
        assert_eq!(parsed[1].params, ["bob"]);
        assert_eq!(parsed[2].template, "retry <*> of <*> to <*>:<*>");
        assert_eq!(parsed[2].params, ["5", "5", "10.0.0.1", "8080"]);
        assert_eq!(out.rejections().len(), 1);
        assert_eq!(out.rejections()[0].error.kind, ErrorKind::Decode);
        assert_eq!(out.events().get("enrich.template_new"), Some(&2));
        assert_eq!(out.events().get("enrich.template_changed"), Some(&1));
    }

    #[test]
    fn lists_of_any_length_are_one_event_with_their_own_params() {
        let mut stage = EnrichConfig::default().build().expect("valid");
        let batch = [
            input(0, log("evicting pods web-7d9c-x2 web-7d9c-y7", 1)),
            input(1, log("evicting pods web-7d9c-z1", 2)),
            input(2, log("evicting nodes", 3)),
        ];
        let mut out = Emitter::new();
        stage.process_batch(&batch, &mut out);
        let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
        assert_eq!(parsed[0].template_id, parsed[1].template_id);
        assert_ne!(parsed[0].template_id, parsed[2].template_id);
        assert_eq!(
            (parsed[1].template.as_str(), parsed[1].params.as_slice()),
            (
                "evicting pods <*> <*>",
                ["web-7d9c-z1".to_owned()].as_slice()
            ),
            "the group's template, this message's values"
        );
        assert_eq!(stage.templates(), 3, "two clusters, one group, and another");
        assert_eq!(
            out.events().get("enrich.template_new"),
            Some(&2),
            "joining a group is no new event"
        );
    }

    #[test]
    fn a_restored_stage_gives_the_same_ids_and_windows() {
        let lines: Vec<Vec<u8>> = (0..40)
            .map(|i| {
                let message = match i % 3 {
                    0 => format!("GET /api/orders/{i} took {i}ms"),
                    1 => format!("user u{i} logged in from 10.0.0.{i}"),
                    _ => format!("cache miss for key k{i}"),
                };
                log(&message, i * 5)
            })
            .collect();
        let inputs: Vec<SourceRecord> = lines
            .into_iter()
            .enumerate()
            .map(|(i, payload)| input(i as i64, payload))
            .collect();
        let run = |stage: &mut Enrich, batch: &[SourceRecord]| {
            let mut out = Emitter::new();
            stage.process_batch(batch, &mut out);
            let parsed: Vec<ParsedRecord> = out.decode_all().expect("parsed");
            let windows: Vec<WindowFeatures> = out.decode_all().expect("windows");
            (
                parsed
                    .into_iter()
                    .map(|p| (p.template_id, p.template_version))
                    .collect::<Vec<_>>(),
                windows,
            )
        };
        let mut uninterrupted = EnrichConfig::default().build().expect("valid");
        let (ids_a1, windows_a1) = run(&mut uninterrupted, &inputs[..20]);
        let (ids_a2, windows_a2) = run(&mut uninterrupted, &inputs[20..]);

        let mut first = EnrichConfig::default().build().expect("valid");
        let (ids_b1, windows_b1) = run(&mut first, &inputs[..20]);
        let snapshot = first.snapshot().expect("snapshot");
        drop(first);
        let mut restarted = EnrichConfig::default().build().expect("valid");
        restarted.restore(&snapshot).expect("restores");
        let (ids_b2, windows_b2) = run(&mut restarted, &inputs[20..]);

        assert_eq!((ids_a1, windows_a1), (ids_b1, windows_b1));
        assert_eq!(
            ids_a2, ids_b2,
            "template ids and versions survive the restart"
        );
        assert_eq!(windows_a2, windows_b2, "open windows survive the restart");
        assert!(!windows_a2.is_empty());
        assert!(restarted.restore(b"{}").is_err());
    }
}
