//! [`KubeBackend`]: applies commands to a Kubernetes API server with kube-rs.
//!
//! | action | API calls (field manager `medic`) | healthy when |
//! |---|---|---|
//! | `scale`, `scale_to` | the command id annotation first, then `PATCH …/{deployments,statefulsets}/NAME/scale` | the rollout is complete at the new count |
//! | `rollout_restart` | merge patch of `spec.template` annotation `kubectl.kubernetes.io/restartedAt` (the command's issue time: a replay sets the same value) | the rollout is complete |
//! | `rollback` | a strategic-merge patch replacing the whole pod template with the previous ReplicaSet revision's (what `kubectl rollout undo` does), guarded by `resourceVersion` | the rollout is complete |
//! | `restart_pod` | `DELETE` of the pod (`NotFound` is success); a pod not owned by the named workload is refused | the pod is gone or replaced, and its workload is ready |
//! | `cordon_node` | merge patch `spec.unschedulable=true` | the node is unschedulable |
//! | `drain_node` | cordon, then the eviction API for every pod on the node except DaemonSet and mirror pods (PodDisruptionBudgets answer 429: retried while verifying); pods without a controller are never evicted (they would be lost) and keep the drain from verifying, as `kubectl drain` refuses them without `--force` | no pod is left but DaemonSet and mirror pods, none terminating |
//!
//! Every changed object gets the annotation [`LAST_COMMAND_ANNOTATION`] with the command id, so a
//! command replayed against an object it already changed is recognised from the object itself.
//! In `server-dry-run` mode every write carries `dryRun=All`: the API server validates and admits the
//! change, and persists nothing.

mod node;
mod pod;
mod workload;

use crate::cluster::ClusterClient;
use schemas::actuate::{Actuate, ActuationError, Applied, Health, TargetState, subject};
use schemas::{Action, ObjectKind, RemediationCommand, Target};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// The annotation recording the last medic command applied to an object.
pub const LAST_COMMAND_ANNOTATION: &str = "medic.io/last-command";
/// The field manager medic's writes are recorded under.
pub const FIELD_MANAGER: &str = "medic";

/// A Kubernetes cluster as an actuator backend. Calls are made on the client's private runtime, so the
/// backend can be driven from synchronous stage code on any thread.
pub struct KubeBackend {
    cluster: ClusterClient,
    dry_run: bool,
    /// Per command: the uid of the pod it deleted (to tell the replacement from the original).
    deleted_pods: HashMap<String, String>,
    /// Namespaces whose pods a drain never evicts (`act.safety.denied_namespaces`).
    protected: Arc<Vec<String>>,
}

impl KubeBackend {
    /// Connects with the kubeconfig at `kubeconfig`, or else `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster service account. `dry_run` makes every write a server-side dry run.
    ///
    /// # Errors
    /// When no configuration is found or the client cannot be built.
    pub fn connect(kubeconfig: Option<&Path>, dry_run: bool) -> Result<Self, ActuationError> {
        let cluster = ClusterClient::connect(kubeconfig).map_err(ActuationError::permanent)?;
        Ok(Self {
            cluster,
            dry_run,
            deleted_pods: HashMap::new(),
            protected: Arc::default(),
        })
    }

    /// The same backend, whose drains leave the pods of `namespaces` where they are: the deny list keeps
    /// commands from targeting them, and a drain must not reach them as collateral either.
    #[must_use]
    pub fn protecting(mut self, namespaces: Vec<String>) -> Self {
        self.protected = Arc::new(namespaces);
        self
    }

    fn run<T: Send>(&self, work: impl Future<Output = T> + Send) -> T {
        self.cluster.run(work)
    }
}

/// How a write is made: dry-run or not, always as field manager `medic`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writes {
    pub(crate) dry_run: bool,
}

impl Writes {
    pub(crate) fn patch(self) -> kube::api::PatchParams {
        kube::api::PatchParams {
            dry_run: self.dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..Default::default()
        }
    }

    pub(crate) fn post(self) -> kube::api::PostParams {
        kube::api::PostParams {
            dry_run: self.dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        }
    }

    pub(crate) fn delete(self) -> kube::api::DeleteParams {
        kube::api::DeleteParams {
            dry_run: self.dry_run,
            ..Default::default()
        }
    }
}

/// Maps a kube-rs error to an actuation error (conflicts, throttling and server errors may pass).
pub(crate) fn api_error(what: &str, error: &kube::Error) -> ActuationError {
    match error {
        kube::Error::Api(status) => {
            let message = format!(
                "{what}: {} ({} {})",
                status.message, status.code, status.reason
            );
            match status.code {
                403 => ActuationError::permanent(format!(
                    "{message} — the actuator's ServiceAccount lacks this permission (see deploy/rbac)"
                )),
                409 | 429 | 500.. => ActuationError::retryable(message),
                _ => ActuationError::permanent(message),
            }
        }
        other => ActuationError::retryable(format!("{what}: {other}")),
    }
}

/// Whether `error` is the API's 404.
pub(crate) fn not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The merge patch that records `command_id` on an object.
pub(crate) fn annotation_patch(command_id: &str) -> serde_json::Value {
    serde_json::json!({ "metadata": { "annotations": { LAST_COMMAND_ANNOTATION: command_id } } })
}

fn namespace(target: &Target) -> Result<&str, ActuationError> {
    target
        .namespace
        .as_deref()
        .ok_or_else(|| ActuationError::permanent(format!("{target} has no namespace")))
}

impl Actuate for KubeBackend {
    fn mode(&self) -> &str {
        if self.dry_run {
            "server-dry-run"
        } else {
            "apply"
        }
    }

    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn inspect(&mut self, target: &Target) -> Result<TargetState, ActuationError> {
        let client = self.cluster.client.clone();
        match target.kind {
            ObjectKind::Node => self.run(node::inspect(client, target.name.clone())),
            ObjectKind::Deployment | ObjectKind::StatefulSet => {
                let kind = workload::Kind::of(target.kind)?;
                let ns = namespace(target)?.to_owned();
                self.run(workload::inspect(client, kind, ns, target.name.clone()))
            }
            ObjectKind::Pod => {
                let ns = namespace(target)?.to_owned();
                self.run(pod::inspect(client, ns, target.name.clone()))
            }
            other => Err(ActuationError::permanent(format!(
                "medic does not act on {}",
                other.as_str()
            ))),
        }
    }

    fn apply(
        &mut self,
        command: &RemediationCommand,
        action: Action,
    ) -> Result<Applied, ActuationError> {
        let object = subject(&command.target, action).map_err(ActuationError::permanent)?;
        let client = self.cluster.client.clone();
        let writes = Writes {
            dry_run: self.dry_run,
        };
        let id = command.command_id.clone();
        match action {
            Action::ScaleTo { replicas } => {
                let (kind, ns) = (
                    workload::Kind::of(object.kind)?,
                    namespace(&object)?.to_owned(),
                );
                self.run(workload::scale(
                    client,
                    writes,
                    kind,
                    ns,
                    object.name,
                    replicas,
                    id,
                ))
            }
            Action::RolloutRestart => {
                let (kind, ns) = (
                    workload::Kind::of(object.kind)?,
                    namespace(&object)?.to_owned(),
                );
                let at = restarted_at(command.issued_at_ns);
                self.run(workload::restart(
                    client,
                    writes,
                    kind,
                    ns,
                    object.name,
                    at,
                    id,
                ))
            }
            Action::Rollback => {
                if object.kind != ObjectKind::Deployment {
                    return Err(ActuationError::permanent(format!(
                        "rollback applies to Deployments, not {}",
                        object.kind.as_str()
                    )));
                }
                let ns = namespace(&object)?.to_owned();
                self.run(workload::rollback(client, writes, ns, object.name, id))
            }
            Action::RestartPod => {
                let ns = namespace(&object)?.to_owned();
                let workload = (command.target.kind != ObjectKind::Pod)
                    .then(|| (command.target.kind, command.target.name.clone()));
                let (applied, uid) =
                    self.run(pod::delete(client, writes, ns, object.name, workload))?;
                if let Some(uid) = uid {
                    self.deleted_pods.insert(command.command_id.clone(), uid);
                }
                Ok(applied)
            }
            Action::CordonNode => self.run(node::cordon(client, writes, object.name, id)),
            Action::DrainNode => self.run(node::drain(
                client,
                writes,
                object.name,
                id,
                Arc::clone(&self.protected),
            )),
            Action::Scale { .. } | Action::Noop | Action::Escalate => {
                Err(ActuationError::not_applied(action))
            }
        }
    }

    fn check(&mut self, command: &RemediationCommand) -> Result<Health, ActuationError> {
        let object = subject(&command.target, command.action).map_err(ActuationError::permanent)?;
        let client = self.cluster.client.clone();
        match command.action {
            Action::Scale { .. }
            | Action::ScaleTo { .. }
            | Action::RolloutRestart
            | Action::Rollback => {
                let (kind, ns) = (
                    workload::Kind::of(object.kind)?,
                    namespace(&object)?.to_owned(),
                );
                self.run(workload::health(client, kind, ns, object.name))
            }
            Action::RestartPod => {
                let ns = namespace(&object)?.to_owned();
                let old_uid = self.deleted_pods.get(&command.command_id).cloned();
                let pod_state =
                    self.run(pod::replaced(client.clone(), ns, object.name, old_uid))?;
                let workload = &command.target;
                match (&pod_state, workload::Kind::of(workload.kind)) {
                    (Health::Healthy(_), Ok(kind)) => {
                        let ns = namespace(workload)?.to_owned();
                        self.run(workload::health(client, kind, ns, workload.name.clone()))
                    }
                    _ => Ok(pod_state),
                }
            }
            Action::CordonNode => self.run(node::cordoned(client, object.name)),
            Action::DrainNode => {
                let writes = Writes {
                    dry_run: self.dry_run,
                };
                self.run(node::drained(
                    client,
                    writes,
                    object.name,
                    Arc::clone(&self.protected),
                ))
            }
            Action::Noop | Action::Escalate => Ok(Health::Healthy("nothing to verify".into())),
        }
    }
}

/// `kubectl.kubernetes.io/restartedAt` for a command issued at `issued_at_ns` (RFC 3339, seconds).
fn restarted_at(issued_at_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(issued_at_ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
