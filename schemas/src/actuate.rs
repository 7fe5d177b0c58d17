//! The [`Actuate`] trait: what an actuator backend does with a command that passed every check.
//!
//! The actuator stage in `act` owns the checks every backend shares (signature, expiry, replay,
//! allowlists, rate limits, blast radius, the verification loop and compensation); a backend only knows
//! how to read, change and watch its world. `act` implements it for Kubernetes, `decide` for its digital
//! twin, and the `medic` binary wires one or the other — so neither crate depends on the other.

use crate::{Action, ObjectKind, RemediationCommand, Target};
use std::fmt;
use std::time::Duration;

/// What a backend reports about a target before anything is changed: the inputs of the blast-radius
/// checks and of the idempotency check against the object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetState {
    /// Whether the object exists.
    pub exists: bool,
    /// Desired replicas of a workload (Deployment/StatefulSet), or of the workload owning a pod.
    pub replicas: Option<u32>,
    /// Ready replicas of that workload.
    pub ready_replicas: Option<u32>,
    /// Nodes in the cluster (for node actions).
    pub nodes: Option<u32>,
    /// Nodes already unschedulable (for node actions).
    pub unschedulable_nodes: Option<u32>,
    /// Whether a node target is already unschedulable.
    pub unschedulable: Option<bool>,
    /// The id of the last medic command recorded on the object (an annotation on Kubernetes), if any.
    pub last_command_id: Option<String>,
    /// For a pod: the workload that owns it (Deployment or StatefulSet name), so pod deletions count
    /// against their workload's disruption budget.
    pub owner: Option<String>,
    /// The kind of that workload (a Deployment and a StatefulSet may share a name).
    pub owner_kind: Option<ObjectKind>,
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// One line for the operator ("scaled apps/checkout 3 → 5").
    pub summary: String,
    /// The action that undoes this one, when there is a safe one (a scale back to the old count).
    pub undo: Option<Action>,
}

/// A target's health after a command, as seen by the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The target is healthy: the command had its effect.
    Healthy(String),
    /// Still converging; ask again later.
    Progressing(String),
    /// It will not converge (e.g. a rollout exceeded its progress deadline).
    Failed(String),
}

/// An error from a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActuationError {
    /// What went wrong, for the operator.
    pub message: String,
    /// Whether trying again later may succeed (API unavailable, conflict, PodDisruptionBudget).
    pub retryable: bool,
}

impl ActuationError {
    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    /// For an action no backend applies: a relative scale (the actuator resolves it to `scale_to`),
    /// `noop` and `escalate`.
    #[must_use]
    pub fn not_applied(action: Action) -> Self {
        Self::permanent(format!("{action} is not applied by a backend"))
    }

    /// An error that may go away.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
}

impl fmt::Display for ActuationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ActuationError {}

/// A world commands are applied to: a Kubernetes cluster, or the digital twin.
pub trait Actuate: Send {
    /// The backend's name, written on results as the mode (`apply`, `server-dry-run`, `twin`).
    fn mode(&self) -> &str;

    /// Whether changes are only validated, never persisted (server-side dry-run). No verification then.
    fn dry_run(&self) -> bool {
        false
    }

    /// Reads the target's current state.
    ///
    /// # Errors
    /// When the backend cannot be read.
    fn inspect(&mut self, target: &Target) -> Result<TargetState, ActuationError>;

    /// Applies `action` to `command`'s target (the command's own action, or a compensation), recording
    /// `command`'s id on the object where the backend can.
    ///
    /// # Errors
    /// When the change is refused or fails; nothing is assumed applied then.
    fn apply(
        &mut self,
        command: &RemediationCommand,
        action: Action,
    ) -> Result<Applied, ActuationError>;

    /// Looks at the target once: has `command` had its effect?
    ///
    /// # Errors
    /// When the backend cannot be read.
    fn check(&mut self, command: &RemediationCommand) -> Result<Health, ActuationError>;

    /// Lets `period` pass before the next check: real time on a cluster, simulated time in the twin.
    fn wait(&mut self, period: Duration) {
        std::thread::sleep(period);
    }
}

/// The object `action` actually changes for a command aimed at `target`: the pod for `restart_pod`
/// (`target.pod`, or the target itself when it is a pod), the node for `cordon_node`/`drain_node`
/// (`target.node`, or the target itself when it is a node), otherwise the target.
///
/// # Errors
/// When the command does not name the pod or node its action needs.
pub fn subject(target: &Target, action: Action) -> Result<Target, String> {
    use crate::ObjectKind;
    let object = |kind, namespace, name: &str| Target {
        cluster: target.cluster.clone(),
        namespace,
        kind,
        name: name.to_owned(),
        pod: None,
        node: None,
    };
    match action {
        Action::RestartPod => match (&target.kind, &target.pod) {
            (ObjectKind::Pod, _) => Ok(object(
                ObjectKind::Pod,
                target.namespace.clone(),
                &target.name,
            )),
            (_, Some(pod)) => Ok(object(ObjectKind::Pod, target.namespace.clone(), pod)),
            _ => Err(format!("restart_pod on {target} names no pod")),
        },
        Action::CordonNode | Action::DrainNode => match (&target.kind, &target.node) {
            (ObjectKind::Node, _) => Ok(object(ObjectKind::Node, None, &target.name)),
            (_, Some(node)) => Ok(object(ObjectKind::Node, None, node)),
            _ => Err(format!("{} on {target} names no node", action.name())),
        },
        _ => Ok(target.clone()),
    }
}
