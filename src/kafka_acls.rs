//! Least privilege on Kafka: the ACLs each stage's own principal needs, derived from the pipeline's
//! topic wiring (what each stage reads, writes and checkpoints), so they cannot drift from the code.
//!
//! Each stage runs as `<prefix><stage>` (`User:medic-ingest`, …): it may read its input topics in its own
//! consumer group, write its output topics and the dead-letter topic, and — if it is stateful — read and
//! write the checkpoint topic (and look up the checkpoint reader's group). Nothing else: ingest, which parses hostile input, cannot write
//! `medic.decisions` or `medic.actions`; only act writes `medic.actions`. The autoscaler (`<prefix>keda`)
//! may only describe the consumer groups and their input topics, to read lag. Creating topics is left to
//! an administrator (`medic kafka create-topics` with admin credentials, `kafka.create_topics = false` for
//! the stages).

use crate::config::PipelineConfig;
use crate::stages::StageName;
use std::fmt;

/// A Kafka ACL operation medic's stages need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Fetch from a topic; join and commit in a group.
    Read,
    /// Produce to a topic.
    Write,
    /// Metadata and offsets of a topic; finding a group's coordinator.
    Describe,
}

impl Operation {
    /// The name Kafka gives it (`kafka-acls --operation`, `AclOperation`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "Read",
            Operation::Write => "Write",
            Operation::Describe => "Describe",
        }
    }
}

/// What an ACL is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// A topic, by literal name.
    Topic(String),
    /// A consumer group, by literal name.
    Group(String),
}

impl Resource {
    /// The resource type as Kafka names it (`Topic`, `Group`).
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Resource::Topic(_) => "Topic",
            Resource::Group(_) => "Group",
        }
    }

    /// The resource's name.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Resource::Topic(name) | Resource::Group(name) => name,
        }
    }
}

/// One allow rule: `principal` may do `operation` on `resource` (from any host).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acl {
    /// `User:<name>`.
    pub principal: String,
    /// What on.
    pub resource: Resource,
    /// What may be done.
    pub operation: Operation,
}

impl fmt::Display for Acl {
    /// `<principal> <operation> <resource type> <name>`: one line, as `scripts/kafka/AclApply.java` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.principal,
            self.operation.as_str(),
            self.resource.kind(),
            self.resource.name()
        )
    }
}

/// The principal of `who` (a stage, or [`AUTOSCALER`]): `User:<prefix><who>`.
#[must_use]
pub fn principal(prefix: &str, who: &str) -> String {
    format!("User:{prefix}{who}")
}

/// The autoscaler's principal's name after the prefix (KEDA's Kafka scaler reads each group's lag).
pub const AUTOSCALER: &str = "keda";

/// Every ACL the configured stages ([`StageName::configured`]) and the autoscaler need, each rule once,
/// sorted by principal.
#[must_use]
pub fn stage_acls(config: &PipelineConfig, prefix: &str) -> Vec<Acl> {
    let topics = &config.topics;
    let mut acls = Vec::new();
    let mut allow = |principal: &str, resource: Resource, operations: &[Operation]| {
        for operation in operations {
            acls.push(Acl {
                principal: principal.to_owned(),
                resource: resource.clone(),
                operation: *operation,
            });
        }
    };
    let autoscaler = principal(prefix, AUTOSCALER);
    for stage in StageName::configured(config) {
        let principal = principal(prefix, stage.as_str());
        let mut allow = |resource: Resource, operations: &[Operation]| {
            allow(&principal, resource, operations);
        };
        let inputs = stage.input_topics(config);
        // A source stage (the observer) never joins its group, but its client still looks the group's
        // coordinator up.
        let group_operation = if inputs.is_empty() {
            Operation::Describe
        } else {
            Operation::Read
        };
        allow(Resource::Group(stage.group_id(config)), &[group_operation]);
        for topic in inputs {
            allow(
                Resource::Topic(topic),
                &[Operation::Read, Operation::Describe],
            );
        }
        let outputs = stage
            .output_kinds()
            .iter()
            .map(|kind| topics.for_kind(*kind).to_owned())
            .chain([topics.dlq.clone()]);
        for topic in outputs {
            allow(
                Resource::Topic(topic),
                &[Operation::Write, Operation::Describe],
            );
        }
        if stage.is_stateful() {
            allow(
                Resource::Topic(topics.checkpoints.clone()),
                &[Operation::Read, Operation::Write, Operation::Describe],
            );
            // The checkpoint reader only looks its group's coordinator up (it never joins or commits).
            allow(
                Resource::Group(runtime::kafka::CHECKPOINT_READER_GROUP.to_owned()),
                &[Operation::Describe],
            );
        }
    }
    // The autoscaler reads each consumer group's committed offsets and its topics' end offsets.
    for stage in StageName::ALL {
        if stage == StageName::Actuator {
            continue; // one replica, never autoscaled (nor is the observer: it reads no topic)
        }
        allow(
            &autoscaler,
            Resource::Group(stage.group_id(config)),
            &[Operation::Describe],
        );
        for topic in stage.input_topics(config) {
            allow(&autoscaler, Resource::Topic(topic), &[Operation::Describe]);
        }
    }
    acls.sort();
    acls.dedup();
    acls
}

/// `kafka-acls.sh` commands that add `acls`, one per principal, resource and set of operations;
/// `bootstrap` and `command_config` (the administrator's client properties) are written as given.
#[must_use]
pub fn kafka_acls_commands(acls: &[Acl], bootstrap: &str, command_config: &str) -> String {
    let mut out = String::new();
    let mut rest = acls;
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|a| a.principal == first.principal && a.resource == first.resource)
            .count();
        let operations: String = rest[..same]
            .iter()
            .map(|a| format!(" --operation {}", a.operation.as_str()))
            .collect();
        let resource = match &first.resource {
            Resource::Topic(name) => format!("--topic {name}"),
            Resource::Group(name) => format!("--group {name}"),
        };
        out.push_str(&format!(
            "kafka-acls.sh --bootstrap-server {bootstrap} --command-config {command_config} --add \
             --allow-principal {}{operations} {resource}\n",
            first.principal
        ));
        rest = &rest[same..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::RecordKind;

    fn allowed(acls: &[Acl], stage: StageName, operation: Operation, topic: &str) -> bool {
        acls.iter().any(|a| {
            a.principal == principal("medic-", stage.as_str())
                && a.operation == operation
                && a.resource == Resource::Topic(topic.to_owned())
        })
    }

    #[test]
    fn each_stage_writes_only_its_outputs_and_only_act_writes_commands() {
        let mut config = PipelineConfig::default();
        config.observe.source = act::observe::ObserveSource::Kubernetes;
        assert!(
            !stage_acls(&PipelineConfig::default(), "medic-")
                .iter()
                .any(|a| a.principal == "User:medic-observe"),
            "no observer configured, no grant"
        );
        let acls = stage_acls(&config, "medic-");
        let topics = &config.topics;
        for stage in StageName::EVERY {
            for topic in config.all_topics() {
                let own_output = stage
                    .output_kinds()
                    .iter()
                    .any(|k| topics.for_kind(*k) == topic)
                    || topic == topics.dlq
                    || (stage.is_stateful() && topic == topics.checkpoints);
                assert_eq!(
                    allowed(&acls, stage, Operation::Write, &topic),
                    own_output,
                    "{stage} writing {topic}"
                );
            }
        }
        let writers: Vec<StageName> = StageName::EVERY
            .into_iter()
            .filter(|s| allowed(&acls, *s, Operation::Write, &topics.actions))
            .collect();
        assert_eq!(writers, [StageName::Act]);
        assert!(!allowed(
            &acls,
            StageName::Ingest,
            Operation::Write,
            &topics.decisions
        ));
        assert!(allowed(
            &acls,
            StageName::Decide,
            Operation::Read,
            &topics.diagnoses
        ));
        assert!(!allowed(
            &acls,
            StageName::Decide,
            Operation::Read,
            &topics.normalized
        ));
        assert!(acls.iter().any(|a| a.principal == "User:medic-actuator"
            && a.resource == Resource::Group("medic-actuator".into())
            && a.operation == Operation::Read));
        // The autoscaler only describes: it reads lag, it neither consumes nor produces.
        let keda: Vec<&Acl> = acls
            .iter()
            .filter(|a| a.principal == "User:medic-keda")
            .collect();
        assert!(keda.iter().all(|a| a.operation == Operation::Describe));
        assert!(
            keda.iter()
                .any(|a| a.resource == Resource::Group("medic-enrich".into()))
        );
        assert!(
            !keda
                .iter()
                .any(|a| a.resource == Resource::Group("medic-actuator".into()))
        );
        assert_eq!(
            topics.for_kind(RecordKind::Command),
            topics.actions,
            "commands go to the actions topic"
        );
    }

    #[test]
    fn renders_one_kafka_acls_command_per_principal_and_resource() {
        let config = PipelineConfig::default();
        let acls = stage_acls(&config, "medic-");
        let commands = kafka_acls_commands(&acls, "kafka:9093", "admin.properties");
        let act_writes = format!(
            "kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add \
             --allow-principal User:medic-act --operation Write --operation Describe --topic {}",
            config.topics.actions
        );
        assert!(commands.lines().any(|l| l == act_writes), "{commands}");
        let distinct: std::collections::BTreeSet<_> = acls
            .iter()
            .map(|a| (a.principal.as_str(), &a.resource))
            .collect();
        assert_eq!(commands.lines().count(), distinct.len());
        assert_eq!(
            acls[0].to_string().split(' ').count(),
            4,
            "principal operation type name"
        );
    }
}
