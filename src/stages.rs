//! The stages a medic process can run, what each reads, and how each is built from the pipeline.

use crate::config::PipelineConfig;
use rdkafka::producer::FutureProducer;
use runtime::kafka::{RunnerError, StageRunner, StageSpec};
use runtime::per_partition::PerPartition;
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use schemas::config::Problem;
use schemas::{RecordKind, Stage, StageError};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A stage of the pipeline. Each runs in its own consumer group, `<kafka.group_prefix>-<name>`
/// (`medic-<name>` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageName {
    /// Raw envelopes → normalised records.
    Ingest,
    /// Normalised records → parsed records and window features.
    Enrich,
    /// Closed windows (with their evidence) → diagnoses.
    Diagnose,
    /// Diagnoses (and the observer's workload states) → decisions.
    Decide,
    /// Decisions → remediation commands on the actuation topic.
    Act,
    /// Remediation commands → action results.
    Actuator,
    /// The cluster (read-only) → workload states. A source: it reads no topic, and runs only where
    /// `observe.source` names a cluster.
    Observe,
}

impl StageName {
    /// The stages logs flow through, in pipeline order.
    pub const ALL: [StageName; 6] = [
        StageName::Ingest,
        StageName::Enrich,
        StageName::Diagnose,
        StageName::Decide,
        StageName::Act,
        StageName::Actuator,
    ];

    /// Every stage: the log pipeline's, then the observer.
    pub const EVERY: [StageName; 7] = {
        let mut every = [StageName::Observe; 7];
        let mut i = 0;
        while i < Self::ALL.len() {
            every[i] = Self::ALL[i];
            i += 1;
        }
        every
    };

    /// The stages `medic run` starts when none is named: the log pipeline's, and the observer when
    /// `observe.source` names a cluster.
    #[must_use]
    pub fn configured(config: &PipelineConfig) -> Vec<StageName> {
        let observed = config.observe.source != act::observe::ObserveSource::Off;
        Self::EVERY
            .into_iter()
            .filter(|s| *s != StageName::Observe || observed)
            .collect()
    }

    /// The stage's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StageName::Ingest => "ingest",
            StageName::Enrich => "enrich",
            StageName::Diagnose => "diagnose",
            StageName::Decide => "decide",
            StageName::Act => "act",
            StageName::Actuator => "actuator",
            StageName::Observe => "observe",
        }
    }

    /// The consumer group of the stage: `<kafka.group_prefix>-<name>`.
    #[must_use]
    pub fn group_id(self, config: &PipelineConfig) -> String {
        config.kafka.group_id(self.as_str())
    }

    /// The topics the stage reads.
    #[must_use]
    pub fn input_topics(self, config: &PipelineConfig) -> Vec<String> {
        let topics = &config.topics;
        match self {
            StageName::Ingest => config.ingest.input_topics(),
            StageName::Enrich => vec![topics.normalized.clone()],
            StageName::Diagnose => vec![topics.windows.clone()],
            StageName::Decide => vec![topics.diagnoses.clone(), topics.state.clone()],
            StageName::Act => vec![topics.decisions.clone()],
            StageName::Actuator => vec![topics.actions.clone()],
            StageName::Observe => Vec::new(),
        }
    }

    /// The kinds of record the stage writes (each to its topic, [`TopicsConfig::for_kind`]); every
    /// stage also writes the dead-letter topic.
    ///
    /// [`TopicsConfig::for_kind`]: runtime::config::TopicsConfig::for_kind
    #[must_use]
    pub const fn output_kinds(self) -> &'static [RecordKind] {
        match self {
            StageName::Ingest => &[RecordKind::Log],
            StageName::Enrich => &[RecordKind::Parsed, RecordKind::Window],
            StageName::Diagnose => &[RecordKind::Diagnosis],
            StageName::Decide => &[RecordKind::Decision, RecordKind::ShadowDecision],
            StageName::Act => &[RecordKind::Command],
            StageName::Actuator => &[RecordKind::ActionResult],
            StageName::Observe => &[RecordKind::State],
        }
    }

    /// Whether the stage writes records of the per-line kinds, which travel in frames (ingest, enrich).
    #[must_use]
    pub fn writes_frames(self) -> bool {
        self.output_kinds()
            .iter()
            .any(|&kind| runtime::kafka::frames::framed_kind(kind))
    }

    /// Whether the stage carries state across batches, checkpointed on the checkpoint topic.
    #[must_use]
    pub const fn is_stateful(self) -> bool {
        matches!(
            self,
            StageName::Enrich | StageName::Diagnose | StageName::Decide
        )
    }

    /// Builds the stage's processor from the pipeline. Enrich and diagnose keep their state per input
    /// partition ([`PerPartition`]), so it moves with the partition when they scale; decide keeps one
    /// state (its arbiter's limits hold for the whole cluster), so it runs as one instance.
    ///
    /// # Errors
    /// The problems the stage's configuration has.
    pub fn build(self, config: &PipelineConfig) -> Result<Box<dyn Stage>, Vec<Problem>> {
        Ok(match self {
            StageName::Ingest => Box::new(config.ingest.build()?),
            StageName::Enrich => {
                config.enrich.build()?;
                let enrich = config.enrich.clone();
                Box::new(PerPartition::new(Box::new(move || {
                    enrich
                        .build()
                        .map(|stage| Box::new(stage) as Box<dyn Stage>)
                        .map_err(|problems| {
                            let stage = StageName::Enrich.as_str();
                            StageError::internal(
                                RunnerError::Config { stage, problems }.to_string(),
                            )
                        })
                })))
            }
            StageName::Diagnose => {
                let diagnose = config.diagnose.build()?;
                match diagnose.sibling() {
                    Some(_) => Box::new(PerPartition::new(Box::new(move || {
                        diagnose
                            .sibling()
                            .map(|stage| Box::new(stage) as Box<dyn Stage>)
                            .ok_or_else(|| StageError::internal("the classifier is gone"))
                    }))),
                    None => Box::new(diagnose),
                }
            }
            StageName::Decide => Box::new(
                config
                    .decide
                    .build()?
                    .reading_state_from(&config.topics.state),
            ),
            StageName::Act => Box::new(config.act.build_issuer()?),
            StageName::Actuator => Box::new(config.act.build_actuator()?),
            StageName::Observe => Box::new(config.observe.build()?),
        })
    }

    /// The stage as the runtime's runner takes it.
    ///
    /// # Errors
    /// [`RunnerError::Config`] with the problems of the stage's configuration.
    pub fn spec(self, config: &PipelineConfig) -> Result<StageSpec, RunnerError> {
        Ok(StageSpec {
            name: self.as_str(),
            input_topics: self.input_topics(config),
            processor: self.build(config).map_err(|problems| RunnerError::Config {
                stage: self.as_str(),
                problems,
            })?,
            writes_frames: self.writes_frames(),
        })
    }

    /// The stage's [`PassThrough`](crate::pass_through::PassThrough) as the runner takes it: the same
    /// topics, no work.
    #[must_use]
    pub fn pass_through_spec(self, config: &PipelineConfig) -> StageSpec {
        StageSpec {
            name: self.as_str(),
            input_topics: self.input_topics(config),
            processor: Box::new(crate::pass_through::PassThrough::of(self)),
            writes_frames: self.writes_frames(),
        }
    }

    /// A runner for the stage on `producer` (shared by the stages of a process).
    ///
    /// # Errors
    /// As [`StageName::spec`] and [`StageRunner::new`].
    pub fn runner(
        self,
        config: &PipelineConfig,
        producer: FutureProducer,
        metrics: &Metrics,
        health: Arc<Health>,
    ) -> Result<StageRunner, RunnerError> {
        StageRunner::new(
            self.spec(config)?,
            config.runtime(),
            producer,
            metrics,
            health,
        )
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a stage name that is not one of [`StageName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stage {0:?}; expected one of: ingest, enrich, diagnose, decide, act, actuator, observe"
)]
pub struct UnknownStage(pub String);

impl FromStr for StageName {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StageName::EVERY
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_builds_from_the_default() {
        let config = PipelineConfig::default();
        for stage in StageName::ALL {
            let mut built = stage.build(&config).expect("the default pipeline builds");
            // `medic kafka acls` grants the checkpoint topic by `is_stateful`: it must not drift.
            let stateful = built.state().is_some() || built.partitioned_state().is_some();
            assert_eq!(stateful, stage.is_stateful(), "{stage}");
            assert_eq!(
                built.partitioned_state().is_some(),
                matches!(stage, StageName::Enrich | StageName::Diagnose),
                "{stage}: state per partition"
            );
            assert_eq!(stage.as_str().parse::<StageName>(), Ok(stage));
            assert!(!stage.input_topics(&config).is_empty());
            assert_eq!(stage.group_id(&config), format!("medic-{stage}"));
        }
        assert!("ingester".parse::<StageName>().is_err());
        assert_eq!("observe".parse::<StageName>(), Ok(StageName::Observe));
        assert_eq!(
            StageName::configured(&config),
            StageName::ALL,
            "no cluster by default"
        );
        let mut observed = config.clone();
        observed.observe.source = act::observe::ObserveSource::Kubernetes;
        assert_eq!(StageName::configured(&observed), StageName::EVERY);
        assert!(StageName::Observe.input_topics(&config).is_empty());
    }

    #[test]
    fn stages_chain_through_topics() {
        let config = PipelineConfig::default();
        // Each stage after ingest reads what an earlier one writes.
        let outputs = [
            &config.topics.normalized,
            &config.topics.windows,
            &config.topics.diagnoses,
            &config.topics.decisions,
            &config.topics.actions,
        ];
        for (stage, upstream) in StageName::ALL[1..].iter().zip(outputs) {
            assert_eq!(&stage.input_topics(&config)[0], upstream, "{stage}");
        }
        assert_eq!(
            StageName::Decide.input_topics(&config),
            [
                config.topics.diagnoses.as_str(),
                config.topics.state.as_str()
            ],
            "decide reads the observer's states beside the diagnoses"
        );
        // What each stage says it writes (its ACLs) is what the next one reads (the observer's states
        // come from beside the chain).
        for pair in StageName::ALL.windows(2) {
            let written: Vec<&str> = pair[0]
                .output_kinds()
                .iter()
                .chain(StageName::Observe.output_kinds())
                .map(|k| config.topics.for_kind(*k))
                .collect();
            for input in pair[1].input_topics(&config) {
                assert!(
                    written.contains(&input.as_str()),
                    "{} → {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}
