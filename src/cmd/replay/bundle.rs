//! Incident bundles: a directory of logs in their source formats, with a timeline and the expected
//! outcome (`incident.toml`), read into one list of inputs in event-time order.
//!
//! ```text
//! incidents/<name>/
//!   incident.toml                                   title, summary, source, [[timeline]], [expected], [twin]
//!   pods/<namespace>_<pod>_<uid>/<container>/N.log  CRI or docker json-file lines (key: the kubelet path)
//!   events.jsonl                                    Kubernetes Events, one per line (key: the object's name)
//!   states.jsonl                                    optional: what an observer wrote to `medic.state`, one
//!                                                   WorkloadState per line (key: its workload)
//! ```
//!
//! Each line's event time is read by the ingest stage itself (the same decoder the pipeline runs), so
//! the replay orders and paces inputs exactly as the pipeline will see them. A state's time is when it
//! was observed.

use schemas::span::Span;
use schemas::{Emitter, LogRecord, SourceRecord, Stage, WireRecord, WorkloadState, decode_record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest of a bundle (`incident.toml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// One line: what happened.
    pub title: String,
    /// A paragraph a person reads first.
    #[serde(default)]
    pub summary: String,
    /// Where the lines come from, and their licence.
    #[serde(default)]
    pub source: String,
    /// Ground truth, in time order.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// What a good pipeline concludes.
    #[serde(default)]
    pub expected: Option<Expected>,
    /// How a counterfactual re-enacts the incident on the digital twin.
    #[serde(default)]
    pub twin: Option<TwinReenactment>,
}

/// One ground-truth moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// When (RFC 3339).
    pub at: chrono::DateTime<chrono::Utc>,
    /// `fault`, `recovery` or `note`.
    pub kind: TimelineKind,
    /// What happened.
    pub what: String,
}

/// What a timeline entry marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The fault starts.
    Fault,
    /// The service recovered.
    Recovery,
    /// Anything else worth showing.
    Note,
}

/// The outcome a good pipeline reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// `<namespace>/<workload>` the fault is on.
    pub workload: String,
    /// Diagnosis classes that count as detecting it (snake_case `FaultClass` names).
    pub faults: Vec<String>,
    /// Remediations that count as right (snake_case `Action` names).
    pub actions: Vec<String>,
    /// Detection must come within this long of the fault (`"2m"`). Default: `5m`. Bundles written
    /// before durations carried their unit say `detect_within_secs = 120`, which is read as seconds.
    #[serde(
        default = "default_detect_within",
        alias = "detect_within_secs",
        deserialize_with = "span_or_seconds"
    )]
    pub detect_within: Span,
}

/// A duration with its unit, or (as older bundles wrote it) a whole number of seconds.
fn span_or_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Seconds(u32),
    }
    match Written::deserialize(deserializer)? {
        Written::Text(text) => Span::parse(&text).map_err(serde::de::Error::custom),
        Written::Seconds(secs) => Ok(Span::secs(i64::from(secs))),
    }
}

fn default_detect_within() -> Span {
    Span::secs(300)
}

/// The twin's version of the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinReenactment {
    /// The twin's fault kind (`memory_leak`, `bad_rollout`, …).
    pub fault: decide::lab::twin::FaultKind,
    /// How long the cause lasts unless fixed (e.g. `30m`; default per kind).
    #[serde(default)]
    pub duration: Option<String>,
}

/// One record to feed: its event time, Kafka key and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Event time, ns since the epoch (as the ingest stage reads it).
    pub event_time_ns: i64,
    /// Message key (the kubelet log path for container lines).
    pub key: String,
    /// The line, unchanged.
    pub payload: Vec<u8>,
}

/// A bundle read from disk.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The directory.
    pub dir: PathBuf,
    /// Its `incident.toml`.
    pub manifest: Manifest,
    /// Every input, in event-time order (ties keep file order).
    pub inputs: Vec<Input>,
    /// The workload states of `states.jsonl`, in the order observed (none without it).
    pub states: Vec<Input>,
}

/// The file of a bundle's workload states.
pub const STATES_FILE: &str = "states.jsonl";

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `incident.toml` is invalid.
    #[error("{path}: {message}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// A line of `states.jsonl` is not a workload state of this schema version.
    #[error("{path}:{line}: not a workload state: {message}")]
    State {
        /// The file.
        path: PathBuf,
        /// Its line number, from 1.
        line: usize,
        /// Why.
        message: String,
    },
    /// No log line in the bundle has an event time.
    #[error(
        "{0}: no log line with an event time (expected pods/<ns>_<pod>_<uid>/<container>/N.log or events.jsonl)"
    )]
    Empty(PathBuf),
}

impl Bundle {
    /// Reads the bundle in `dir`.
    ///
    /// # Errors
    /// [`BundleError`] for an unreadable file, an invalid manifest or a bundle without logs.
    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let manifest = read_text(&dir.join("incident.toml"))?;
        let mut paths = Vec::new();
        collect_logs(&dir.join("pods"), &mut paths)?;
        paths.push(dir.join("events.jsonl"));
        paths.push(dir.join(STATES_FILE));
        let mut files = Vec::new();
        for path in paths {
            if path.exists() {
                let text = read_text(&path)?;
                files.push((path.strip_prefix(dir).unwrap_or(&path).to_path_buf(), text));
            }
        }
        Self::from_files(dir, &manifest, files)
    }

    /// A bundle from its manifest text and its files (paths relative to the bundle directory `dir`):
    /// `pods/…/*.log` are container logs keyed by their kubelet path, `events.jsonl` Events,
    /// [`STATES_FILE`] workload states.
    ///
    /// # Errors
    /// [`BundleError`] for an invalid manifest or state, or a bundle without logs.
    pub fn from_files(
        dir: &Path,
        manifest: &str,
        mut files: Vec<(PathBuf, String)>,
    ) -> Result<Self, BundleError> {
        let manifest: Manifest = toml::from_str(manifest).map_err(|e| BundleError::Manifest {
            path: dir.join("incident.toml"),
            message: e.to_string(),
        })?;
        files.sort();
        let mut inputs = Vec::new();
        let mut states = Vec::new();
        for (path, text) in &files {
            if path == Path::new(STATES_FILE) {
                states = workload_states(&dir.join(path), text)?;
            } else if path.starts_with("pods") {
                let key = Path::new("/var/log").join(path).display().to_string();
                inputs.extend(timed(text.lines().map(|l| (key.clone(), l))));
            } else {
                inputs.extend(timed(text.lines().map(|l| (event_key(l), l))));
            }
        }
        if inputs.is_empty() {
            return Err(BundleError::Empty(dir.to_path_buf()));
        }
        inputs.sort_by_key(|i| i.event_time_ns);
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            inputs,
            states,
        })
    }

    /// The bundle's name (its directory's).
    #[must_use]
    pub fn name(&self) -> String {
        self.dir.file_name().map_or_else(
            || self.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// When the first fault of the timeline starts, ns.
    #[must_use]
    pub fn fault_start_ns(&self) -> Option<i64> {
        self.manifest
            .timeline
            .iter()
            .find(|e| e.kind == TimelineKind::Fault)
            .and_then(|e| e.at.timestamp_nanos_opt())
    }
}

fn read_text(path: &Path) -> Result<String, BundleError> {
    std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn collect_logs(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), BundleError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry
            .map_err(|source| BundleError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            collect_logs(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "log") {
            files.push(path);
        }
    }
    Ok(())
}

/// The workload states of `text` (the file at `path`), keyed as the observer keys them, in time order.
fn workload_states(path: &Path, text: &str) -> Result<Vec<Input>, BundleError> {
    let mut states = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        states.push(
            workload_state(line.as_bytes()).map_err(|message| BundleError::State {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            })?,
        );
    }
    states.sort_by_key(|s| s.event_time_ns);
    Ok(states)
}

/// A workload state's input: at the time it was observed, keyed as the observer keys it.
///
/// # Errors
/// Why `payload` is not a workload state of this schema version.
pub fn workload_state(payload: &[u8]) -> Result<Input, String> {
    let state: WorkloadState = decode_record(payload).map_err(|e| e.to_string())?;
    Ok(Input {
        event_time_ns: state.observed_at_ns,
        key: state.key().unwrap_or_default(),
        payload: payload.to_vec(),
    })
}

/// An Event's key: the name of the object it is about (as event exporters key them).
fn event_key(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| {
            v.pointer("/involvedObject/name")
                .or_else(|| v.pointer("/regarding/name"))
                .and_then(|n| n.as_str().map(str::to_owned))
        })
        .unwrap_or_default()
}

/// Gives each `(key, line)` of one file its event time, as the ingest stage decodes it. A line that
/// yields no record of its own (a partial CRI chunk) takes the time of the record it completes.
fn timed<'a>(lines: impl Iterator<Item = (String, &'a str)>) -> Vec<Input> {
    let lines: Vec<(String, &str)> = lines.filter(|(_, l)| !l.trim().is_empty()).collect();
    let mut stage = ingest::IngestConfig {
        sources: vec![ingest::SourceConfig {
            name: "replay".into(),
            topic: Some("replay".into()),
            format: ingest::Format::Auto,
            redaction: None,
        }],
        ..ingest::IngestConfig::default()
    }
    .build()
    .expect("the built-in ingest configuration is valid");
    let mut emitter = Emitter::new();
    for (offset, (key, line)) in lines.iter().enumerate() {
        let mut record = SourceRecord::new("replay", 0, offset as i64, line.as_bytes());
        record.key = Some(key.as_bytes().to_vec());
        stage.process_batch(&[record], &mut emitter);
    }
    stage.on_close(&mut emitter);
    let times: BTreeMap<i64, i64> = emitter
        .emitted()
        .iter()
        .filter_map(|e| decode_record::<LogRecord>(&e.payload).ok())
        .map(|r| (r.source.offset, r.event_time_ns))
        .collect();
    lines
        .into_iter()
        .enumerate()
        .filter_map(|(offset, (key, line))| {
            // A line that made no record of its own is usually the last chunk of a message recorded at an
            // earlier offset (the record keeps its first chunk's coordinates): it takes the time of the
            // nearest earlier record in its file — its message's, unless a line of the other stream
            // came between — and so is fed with the chunks before it, not with the next message, which
            // may come much later. Lines before any record take the first record's time.
            let time = times
                .range(..=offset as i64)
                .next_back()
                .or_else(|| times.range(offset as i64..).next())
                .map(|(_, t)| *t)?;
            Some(Input {
                event_time_ns: time,
                key,
                payload: line.as_bytes().to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("incidents/checkout-oom-crashloop")
    }

    #[test]
    fn a_bundle_is_read_in_event_time_order_with_its_keys() {
        let bundle = Bundle::load(&checkout()).expect("bundle");
        assert!(bundle.inputs.len() > 300);
        assert!(
            bundle
                .inputs
                .windows(2)
                .all(|w| w[0].event_time_ns <= w[1].event_time_ns)
        );
        assert!(
            bundle
                .inputs
                .iter()
                .any(|i| i.key.starts_with("/var/log/pods/shop_checkout-"))
        );
        assert!(bundle.inputs.iter().any(|i| i.key.starts_with("checkout-")));
        assert!(bundle.fault_start_ns().is_some());
        assert_eq!(bundle.name(), "checkout-oom-crashloop");
    }

    #[test]
    fn partial_chunks_take_the_time_of_the_line_they_complete() {
        let lines = [
            "2026-03-14T09:00:00.000000000Z stdout P first half ",
            "2026-03-14T09:00:01.000000000Z stdout F second half",
            "{\"broken\": json",
            "2026-03-14T09:00:40.000000000Z stdout F the next line, much later",
        ];
        let inputs = timed(
            lines
                .iter()
                .map(|l| ("/var/log/pods/a_b-1_u/c/0.log".to_owned(), *l)),
        );
        assert_eq!(
            inputs.len(),
            4,
            "a bad line is still fed (the pipeline dead-letters it)"
        );
        // The final chunk is fed with the first (their message's time), not with the next message: fed
        // 40 s later, it would complete its message after the watermark had passed it.
        assert_eq!(inputs[0].event_time_ns, inputs[1].event_time_ns);
        assert!(inputs[1].event_time_ns < inputs[3].event_time_ns);
    }

    #[test]
    fn detection_time_is_read_with_its_unit_or_as_older_bundles_wrote_it() {
        let expected = |detect: &str| {
            toml::from_str::<Expected>(&format!(
                "workload = \"shop/checkout\"\nfaults = [\"oom\"]\nactions = []\n{detect}"
            ))
            .map(|e| e.detect_within)
        };
        assert_eq!(expected("detect_within = \"2m\""), Ok(Span::secs(120)));
        assert_eq!(expected("detect_within_secs = 90"), Ok(Span::secs(90)));
        assert_eq!(expected(""), Ok(Span::secs(300)));
        assert!(expected("detect_within = \"soon\"").is_err());
    }

    #[test]
    fn a_missing_manifest_says_which_file() {
        let error = Bundle::load(Path::new("/nonexistent-bundle")).expect_err("no such bundle");
        assert!(error.to_string().contains("incident.toml"), "{error}");
    }

    #[test]
    fn workload_states_are_read_in_time_order_and_a_bad_one_is_named_by_its_line() {
        let bundle = Bundle::load(&checkout()).expect("bundle");
        let times: Vec<i64> = bundle.states.iter().map(|s| s.event_time_ns).collect();
        assert!(times.len() > 5 && times.is_sorted(), "{times:?}");
        assert!(bundle.states.iter().all(|s| s.key == "shop/checkout"));
        let manifest = std::fs::read_to_string(checkout().join("incident.toml")).expect("manifest");
        let files = |states: &str| {
            vec![
                (
                    PathBuf::from("events.jsonl"),
                    std::fs::read_to_string(checkout().join("events.jsonl")).expect("events"),
                ),
                (PathBuf::from(STATES_FILE), states.to_owned()),
            ]
        };
        let good = String::from_utf8_lossy(&bundle.states[0].payload).into_owned();
        let error = Bundle::from_files(
            &checkout(),
            &manifest,
            files(&format!("{good}\n{{\"pods\": 2}}\n")),
        )
        .expect_err("not a state");
        assert!(
            matches!(&error, BundleError::State { line: 2, .. }),
            "{error}"
        );
    }
}
