//! [`PipelineConfig`] and its sections.

use act::ActConfig;
use act::observe::ObserveConfig;
use decide::DecideConfig;
use diagnose::DiagnoseConfig;
use enrich::EnrichConfig;
use ingest::IngestConfig;
use runtime::config::{
    AdminConfig, KafkaConfig, RunnerConfig, RuntimeConfig, TopicsConfig, is_legal_topic,
};
use schemas::config::Problem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// How to reach Kafka.
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// Topic names.
    #[serde(default)]
    pub topics: TopicsConfig,
    /// Batching and delivery of the stage runner.
    #[serde(default)]
    pub runner: RunnerConfig,
    /// The admin HTTP server (`/metrics`, `/healthz`, `/readyz`).
    #[serde(default)]
    pub admin: AdminConfig,
    /// The ingest stage.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// The enrich stage.
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// The diagnose stage.
    #[serde(default)]
    pub diagnose: DiagnoseConfig,
    /// The decide stage.
    #[serde(default)]
    pub decide: DecideConfig,
    /// The act stages (command issuer and actuator).
    #[serde(default)]
    pub act: ActConfig,
    /// The observer (the cluster's workload states, read-only).
    #[serde(default)]
    pub observe: ObserveConfig,
}

/// About the most JSON one template's evidence takes in a window: the template and two lines, each cut
/// to 1 KiB of JSON, with counts, coordinates, pod and node.
const EVIDENCE_ENTRY_BYTES: usize = 3_600;
/// About the most JSON a window takes besides its evidence: its counts and the top templates' texts
/// (each cut to 1 KiB of JSON) take at most this much per top template, plus this much once.
const WINDOW_TEMPLATE_BYTES: usize = 1_200;

/// About the most JSON one window of `spec` takes, evidence included.
fn window_bytes(spec: &enrich::windows::WindowSpec) -> usize {
    spec.evidence_templates
        .saturating_mul(EVIDENCE_ENTRY_BYTES)
        .saturating_add(
            spec.top_templates
                .saturating_add(1)
                .saturating_mul(WINDOW_TEMPLATE_BYTES),
        )
}

impl PipelineConfig {
    /// The sections the runtime's stage runner reads.
    #[must_use]
    pub fn runtime(&self) -> RuntimeConfig<'_> {
        RuntimeConfig {
            kafka: &self.kafka,
            topics: &self.topics,
            runner: &self.runner,
        }
    }

    /// Every topic the pipeline reads or writes: sources, then internal topics.
    #[must_use]
    pub fn all_topics(&self) -> Vec<String> {
        let mut topics = self.ingest.input_topics();
        topics.extend(self.topics.named().iter().map(|(_, t)| (*t).to_owned()));
        topics
    }

    /// What is wrong with the window definition diagnose reads (`diagnose.windows`), if anything: it must
    /// exist, cut each workload's stream into tumbling windows (every line diagnosed once) and carry the
    /// evidence diagnose reads instead of lines.
    fn diagnosed_windows_problem(&self) -> Option<Problem> {
        let name = &self.diagnose.windows;
        let why = match self.enrich.windows.iter().find(|w| &w.name == name) {
            None => format!("{name:?} names no [[enrich.windows]] definition"),
            Some(w) if w.by_template => {
                format!(
                    "{name:?} is per template (by_template); diagnose reads windows per workload"
                )
            }
            Some(w) if w.slide_ns() != w.size.as_nanos() => format!(
                "{name:?} is hopping (slide < size); diagnose needs tumbling windows, or it would \
                 diagnose each line more than once"
            ),
            Some(w) if w.evidence_templates == 0 => {
                format!("{name:?} carries no evidence (evidence_templates = 0)")
            }
            Some(w) if window_bytes(w) > self.max_output_bytes() => format!(
                "{name:?} may take about {} bytes with {} templates of evidence, more than one \
                 message may hold ({} after headers): lower its evidence_templates",
                window_bytes(w),
                w.evidence_templates,
                self.max_output_bytes()
            ),
            Some(_) => return None,
        };
        Some(Problem::new("diagnose.windows", why))
    }

    /// The most bytes one output record may take: the message limit the runner applies, less the room it
    /// keeps for headers.
    fn max_output_bytes(&self) -> usize {
        let max = runtime::kafka::max_message_bytes(&self.kafka, &self.runner);
        runtime::kafka::oversize::MessageLimit::new(max).room()
    }

    /// Checks the whole pipeline and reports every problem.
    #[must_use]
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen = BTreeMap::new();
        let sources = self
            .ingest
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("ingest.sources[{i}].topic"), s.topic()));
        let internal = self
            .topics
            .named()
            .map(|(key, topic)| (format!("topics.{key}"), topic.to_owned()));
        for (key, topic) in internal.into_iter().chain(sources) {
            if !is_legal_topic(&topic) {
                problems.push(Problem::new(
                    key.clone(),
                    format!(
                        "{topic:?} is not a legal Kafka topic name ([a-zA-Z0-9._-], 1-249 chars)"
                    ),
                ));
            }
            if let Some(first) = seen.insert(topic.clone(), key.clone()) {
                problems.push(Problem::new(
                    key,
                    format!("topic {topic:?} is already used by {first}"),
                ));
            }
        }
        problems.extend(self.diagnosed_windows_problem());
        for section_problems in [
            self.kafka.validate(),
            self.runner.validate(),
            self.ingest.validate(),
            self.enrich.validate(),
            self.diagnose.validate(),
            self.decide.validate(),
            self.act.validate(),
            self.observe.validate(),
        ] {
            problems.extend(section_problems.err().unwrap_or_default());
        }
        problems
    }
}
