//! The records that cross Kafka topics. Each is plain data with serde and a `schema_version`.

mod command;
mod decision;
mod diagnosis;
mod log;
mod log_view;
mod parsed;
mod result;
mod state;
mod target;
mod window;

pub use command::{CommandSignature, Provenance, RemediationCommand};
pub use decision::{Action, Decision, ShadowDecision};
pub use diagnosis::{Diagnosis, Evidence};
pub use log::{
    ADVERSE_NODE_REASONS, LogRecord, LogSeverity, Resource, SourceCoordinates, SourceFormat,
    Stream, Workload,
};
pub use log_view::{Attributes, AttributesView, LogView, Pairs, ResourceView, SourceRef};
pub use parsed::ParsedRecord;
pub use result::{ActionOutcome, ActionResult};
pub use state::{
    BoundsSource, ClusterNodes, NodeCondition, NodePods, PodCounts, ReplicaBounds, Rollout,
    WorkloadSignals, WorkloadState,
};
pub use target::{ObjectKind, Target};
pub use window::{Exemplar, TemplateCount, TemplateEvidence, WindowFeatures};

/// Whether a count is zero: the records leave such fields out of their JSON
/// (`skip_serializing_if`, which passes a reference).
fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}
