//! [`IngestConfig`]: the `[ingest]` section of a pipeline file.

use crate::{Format, Ingest, RedactionConfig};
use schemas::config::{Problem, Problems};
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Configuration of the ingest stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Source topics and the envelope format each carries. Default: one source `k8s` in `auto` mode.
    #[serde(default = "default_sources")]
    pub sources: Vec<SourceConfig>,
    /// Largest message reassembled from partial CRI / docker chunks, in bytes; longer ones are cut and
    /// marked `medic.truncated`. Default: 1 MiB.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Most bytes of partial messages held across all log streams at once; beyond it the oldest is
    /// emitted early, marked `medic.partial`. Default: 32 MiB.
    #[serde(default = "default_max_pending_bytes")]
    pub max_pending_bytes: usize,
    /// A partial message whose final chunk has not arrived after this long is emitted as is, marked
    /// `medic.partial`. Default: `5s`.
    #[serde(default = "default_partial_flush")]
    pub partial_flush: Span,
    /// Largest input (Kafka message payload) accepted, in bytes; larger ones are dead-lettered.
    /// Default: 4 MiB.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
    /// Most bytes one input may decompress into, all its gzip members together (a gzip bomb, or a batch
    /// of many small bombs, is refused, not inflated). Default: 16 MiB.
    #[serde(default = "default_max_decompressed_bytes")]
    pub max_decompressed_bytes: usize,
    /// Most log records one input may expand into (CloudWatch batches, Azure `records`). Default: 10000.
    #[serde(default = "default_max_records_per_input")]
    pub max_records_per_input: usize,
    /// Event times before this year are absurd and dead-lettered. Default: 2000.
    #[serde(default = "default_min_event_year")]
    pub min_event_year: i32,
    /// Event times further than this ahead of the wall clock are absurd and dead-lettered.
    /// Default: `1d`.
    #[serde(default = "default_max_future_skew")]
    pub max_future_skew: Span,
    /// Redaction of credentials and personal data, for every source that does not set its own.
    #[serde(default)]
    pub redaction: RedactionConfig,
    /// Name a pod's workload from the pod's name when no owner reference says it
    /// (`web-5d567cc74c-abcde` → Deployment `web`, `db-0` → StatefulSet `db`): the only way to group a
    /// kubelet-path or GKE record by workload, since neither carries an owner. Such a record carries
    /// `medic.workload_inferred = "pod_name"`, and the actuator applies a workload-wide action decided
    /// from a pod only when the API server confirms the pod is that workload's. `false` keeps records
    /// without an owner reference at pod level. Default: `true`.
    #[serde(default = "default_infer_workloads")]
    pub infer_workloads: bool,
}

/// One source topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Source name (`[a-z0-9_.-]+`); the topic defaults to `medic.logs.<name>`.
    pub name: String,
    /// Topic to read; default `medic.logs.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Envelope format of the topic, or `auto` to detect each record's format. Default: `auto`.
    #[serde(default = "default_format")]
    pub format: Format,
    /// Redaction for this source; default: `[ingest.redaction]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<RedactionConfig>,
}

impl SourceConfig {
    /// The topic this source reads.
    #[must_use]
    pub fn topic(&self) -> String {
        self.topic
            .clone()
            .unwrap_or_else(|| format!("medic.logs.{}", self.name))
    }
}

fn default_sources() -> Vec<SourceConfig> {
    vec![SourceConfig {
        name: "k8s".to_owned(),
        topic: None,
        format: Format::Auto,
        redaction: None,
    }]
}
fn default_max_record_bytes() -> usize {
    4 << 20
}
fn default_max_decompressed_bytes() -> usize {
    16 << 20
}
fn default_max_records_per_input() -> usize {
    10_000
}
fn default_min_event_year() -> i32 {
    2000
}
fn default_max_future_skew() -> Span {
    Span::secs(86_400)
}

const fn default_infer_workloads() -> bool {
    true
}
fn default_max_line_bytes() -> usize {
    1 << 20
}
fn default_max_pending_bytes() -> usize {
    32 << 20
}
fn default_partial_flush() -> Span {
    Span::secs(5)
}
fn default_format() -> Format {
    Format::Auto
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            sources: default_sources(),
            max_line_bytes: default_max_line_bytes(),
            max_pending_bytes: default_max_pending_bytes(),
            partial_flush: default_partial_flush(),
            max_record_bytes: default_max_record_bytes(),
            max_decompressed_bytes: default_max_decompressed_bytes(),
            max_records_per_input: default_max_records_per_input(),
            min_event_year: default_min_event_year(),
            max_future_skew: default_max_future_skew(),
            redaction: RedactionConfig::default(),
            infer_workloads: default_infer_workloads(),
        }
    }
}

impl IngestConfig {
    /// The topics ingest reads.
    #[must_use]
    pub fn input_topics(&self) -> Vec<String> {
        self.sources.iter().map(SourceConfig::topic).collect()
    }

    /// Checks the configuration and reports every problem, under `ingest.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("ingest");
        problems.require(
            !self.sources.is_empty(),
            "sources",
            || "at least one source is required",
        );
        let mut names = HashSet::new();
        let mut topics = HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let name = &source.name;
            let valid_name = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
                });
            let key = format!("sources[{i}].name");
            problems.require(valid_name, &key, || {
                format!("{name:?} must be non-empty and use only a-z 0-9 _ . -")
            });
            problems.require(names.insert(name), &key, || {
                format!("{name:?} is used twice")
            });
            let topic = source.topic();
            problems.require(
                topics.insert(topic.clone()),
                &format!("sources[{i}].topic"),
                || format!("{topic:?} is read twice"),
            );
        }
        problems.require(self.max_line_bytes >= 1024, "max_line_bytes", || {
            format!("{} is below the minimum of 1024", self.max_line_bytes)
        });
        problems.require(
            self.max_pending_bytes >= self.max_line_bytes,
            "max_pending_bytes",
            || {
                format!(
                    "{} is below max_line_bytes ({})",
                    self.max_pending_bytes, self.max_line_bytes
                )
            },
        );
        problems.require(
            self.partial_flush > Span::millis(0),
            "partial_flush",
            || "must be longer than 0ms",
        );
        problems.require(self.max_record_bytes >= 1024, "max_record_bytes", || {
            format!("{} is below the minimum of 1024", self.max_record_bytes)
        });
        problems.require(
            self.max_decompressed_bytes >= self.max_record_bytes,
            "max_decompressed_bytes",
            || {
                format!(
                    "{} is below max_record_bytes ({})",
                    self.max_decompressed_bytes, self.max_record_bytes
                )
            },
        );
        problems.require(
            self.max_records_per_input > 0,
            "max_records_per_input",
            || "must be at least 1",
        );
        problems.require(
            (1970..=2100).contains(&self.min_event_year),
            "min_event_year",
            || format!("{} must be between 1970 and 2100", self.min_event_year),
        );
        problems.into_result()
    }

    /// Validates the configuration and builds the stage.
    ///
    /// # Errors
    /// Every problem [`IngestConfig::validate`] finds.
    pub fn build(&self) -> Result<Ingest, Vec<Problem>> {
        self.validate()?;
        Ok(Ingest::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_toml_snippet_with_defaults() {
        let config: IngestConfig = toml::from_str(
            r#"
            [[sources]]
            name = "aks"
            format = "cri"
            "#,
        )
        .expect("valid snippet");
        assert_eq!(config.sources[0].topic(), "medic.logs.aks");
        assert_eq!(config.max_line_bytes, 1 << 20);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn reports_every_problem() {
        let config: IngestConfig = toml::from_str(
            r#"
            max_line_bytes = 10
            partial_flush = "0s"
            [[sources]]
            name = "Bad Name"
            [[sources]]
            name = "k8s"
            topic = "t"
            [[sources]]
            name = "k8s"
            topic = "t"
            "#,
        )
        .expect("parses");
        let problems = config.validate().expect_err("invalid");
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems.iter().any(|p| p.path == "ingest.sources[0].name"));
        assert!(problems.iter().any(|p| p.path == "ingest.sources[2].topic"));
    }

    #[test]
    fn rejects_unknown_keys_and_formats() {
        assert!(toml::from_str::<IngestConfig>("colour = 1").is_err());
        let err = toml::from_str::<IngestConfig>("[[sources]]\nname='x'\nformat='syslog'")
            .expect_err("bad format");
        assert!(err.to_string().contains("syslog"), "{err}");
    }
}
