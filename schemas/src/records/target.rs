//! [`Target`]: the Kubernetes object a diagnosis is about and an action applies to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Kinds of object medic diagnoses and acts on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ObjectKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// batch/v1 Job.
    Job,
    /// core/v1 Pod.
    Pod,
    /// core/v1 Node.
    Node,
    /// Anything else (known only by name).
    Other,
}

impl ObjectKind {
    /// Parses a Kubernetes kind name; unknown kinds become [`ObjectKind::Other`].
    #[must_use]
    pub fn from_kind(kind: &str) -> Self {
        match kind {
            "Deployment" => ObjectKind::Deployment,
            "StatefulSet" => ObjectKind::StatefulSet,
            "DaemonSet" => ObjectKind::DaemonSet,
            "ReplicaSet" => ObjectKind::ReplicaSet,
            "Job" => ObjectKind::Job,
            "Pod" => ObjectKind::Pod,
            "Node" => ObjectKind::Node,
            _ => ObjectKind::Other,
        }
    }

    /// The Kubernetes kind name (`Deployment`, …; `Other` for anything else).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Deployment => "Deployment",
            ObjectKind::StatefulSet => "StatefulSet",
            ObjectKind::DaemonSet => "DaemonSet",
            ObjectKind::ReplicaSet => "ReplicaSet",
            ObjectKind::Job => "Job",
            ObjectKind::Pod => "Pod",
            ObjectKind::Node => "Node",
            ObjectKind::Other => "Other",
        }
    }
}

/// The object a diagnosis or action is about.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Target {
    /// Cluster name, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Namespace (absent for cluster-scoped objects such as nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object kind.
    pub kind: ObjectKind,
    /// Object name.
    pub name: String,
    /// A specific pod of the workload the evidence points at, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The node the evidence points at, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Target {
    /// `kind` `name` in `namespace` (`None` for cluster-scoped objects), with no cluster, pod or node.
    #[must_use]
    pub fn object(kind: ObjectKind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            cluster: None,
            namespace: namespace.map(str::to_owned),
            kind,
            name: name.to_owned(),
            pod: None,
            node: None,
        }
    }

    /// Deployment `name` in `namespace`.
    #[must_use]
    pub fn deployment(namespace: &str, name: &str) -> Self {
        Self::object(ObjectKind::Deployment, Some(namespace), name)
    }

    /// Node `name` (cluster-scoped).
    #[must_use]
    pub fn node(name: &str) -> Self {
        Self::object(ObjectKind::Node, None, name)
    }

    /// The same target with the evidence's pod hint.
    #[must_use]
    pub fn with_pod(self, pod: Option<&str>) -> Self {
        Self {
            pod: pod.map(str::to_owned),
            ..self
        }
    }

    /// The same target with the evidence's node hint.
    #[must_use]
    pub fn with_node(self, node: Option<&str>) -> Self {
        Self {
            node: node.map(str::to_owned),
            ..self
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{:?}/{}", self.kind, self.name)
    }
}
