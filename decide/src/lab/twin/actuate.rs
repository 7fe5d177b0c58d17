//! [`TwinBackend`]: the digital twin as an actuator backend, so the actuator of `act` closes the loop
//! on a simulated cluster (demo, replays, tests) with exactly the checks it runs against Kubernetes.
//!
//! Commands name deployments by their spec name (and namespace) and nodes by spec name or index.
//! Waiting steps the simulation: verification runs in simulated time.

use super::{Twin, TwinAction, TwinCommand};
use schemas::actuate::{Actuate, ActuationError, Applied, Health, TargetState, subject};
use schemas::{Action, ObjectKind, RemediationCommand, Target};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A shared twin that commands are applied to. Clone the `Arc` to keep stepping it elsewhere.
pub struct TwinBackend {
    twin: Arc<Mutex<Twin>>,
}

impl TwinBackend {
    /// A backend over `twin`.
    #[must_use]
    pub fn new(twin: Arc<Mutex<Twin>>) -> Self {
        Self { twin }
    }

    fn twin(&self) -> MutexGuard<'_, Twin> {
        // A panic while holding the lock leaves a twin that is still consistent step by step.
        self.twin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn deployment(twin: &Twin, target: &Target) -> Result<usize, ActuationError> {
    twin.spec()
        .deployments
        .iter()
        .position(|d| {
            d.name == target.name
                && target
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == d.namespace)
        })
        .ok_or_else(|| ActuationError::permanent(format!("the twin has no deployment {target}")))
}

fn node(twin: &Twin, name: &str) -> Result<usize, ActuationError> {
    let nodes = &twin.spec().nodes;
    nodes
        .iter()
        .position(|n| n.name == name)
        .or_else(|| name.parse().ok().filter(|i| *i < nodes.len()))
        .ok_or_else(|| ActuationError::permanent(format!("the twin has no node {name:?}")))
}

impl Actuate for TwinBackend {
    fn mode(&self) -> &str {
        "twin"
    }

    fn inspect(&mut self, target: &Target) -> Result<TargetState, ActuationError> {
        let mut twin = self.twin();
        if target.kind == ObjectKind::Node {
            let n = node(&twin, &target.name)?;
            let cluster = twin.cluster_view();
            let count = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
            return Ok(TargetState {
                exists: true,
                nodes: Some(count(cluster.schedulable.len())),
                unschedulable_nodes: Some(count(
                    cluster.schedulable.iter().filter(|s| !**s).count(),
                )),
                unschedulable: Some(!cluster.schedulable[n]),
                ..TargetState::default()
            });
        }
        if target.kind == ObjectKind::Pod {
            // A pod's owner, as the API server would tell it; a pod the twin does not run is gone.
            let owner = twin.owner_of_pod(&target.name);
            return Ok(TargetState {
                exists: owner.is_some(),
                owner: owner.map(|d| twin.spec().deployments[d].name.clone()),
                owner_kind: owner.map(|_| ObjectKind::Deployment),
                ..TargetState::default()
            });
        }
        let d = deployment(&twin, target)?;
        let view = twin.view(d);
        Ok(TargetState {
            exists: true,
            replicas: Some(view.desired),
            ready_replicas: Some(view.serving),
            ..TargetState::default()
        })
    }

    fn apply(
        &mut self,
        command: &RemediationCommand,
        action: Action,
    ) -> Result<Applied, ActuationError> {
        let object = subject(&command.target, action).map_err(ActuationError::permanent)?;
        let mut twin = self.twin();
        let (d, twin_action) = match action {
            Action::ScaleTo { replicas } => {
                let d = deployment(&twin, &object)?;
                let from = twin.view(d).desired;
                let delta = i64::from(replicas) - i64::from(from);
                let delta = i32::try_from(delta)
                    .map_err(|_| ActuationError::permanent("scale out of range"))?;
                twin.apply_now(TwinCommand {
                    deployment: d,
                    action: TwinAction::Scale(delta),
                });
                return Ok(Applied {
                    summary: format!("scaled {object} {from} → {replicas}"),
                    undo: (from != replicas).then_some(Action::ScaleTo { replicas: from }),
                });
            }
            Action::RestartPod => (deployment(&twin, &command.target)?, TwinAction::RestartPod),
            Action::RolloutRestart => (deployment(&twin, &object)?, TwinAction::RolloutRestart),
            Action::Rollback => (deployment(&twin, &object)?, TwinAction::Rollback),
            Action::CordonNode => (0, TwinAction::Cordon(node(&twin, &object.name)?)),
            Action::DrainNode => (0, TwinAction::CordonDrain(node(&twin, &object.name)?)),
            Action::Scale { .. } | Action::Noop | Action::Escalate => {
                return Err(ActuationError::not_applied(action));
            }
        };
        twin.apply_now(TwinCommand {
            deployment: d,
            action: twin_action,
        });
        Ok(Applied {
            summary: format!("{action} on {object} (twin)"),
            undo: None,
        })
    }

    fn check(&mut self, command: &RemediationCommand) -> Result<Health, ActuationError> {
        let object = subject(&command.target, command.action).map_err(ActuationError::permanent)?;
        let mut twin = self.twin();
        if object.kind == ObjectKind::Node {
            let n = node(&twin, &object.name)?;
            let cluster = twin.cluster_view();
            let left: u32 = cluster.pods_on_node.iter().map(|pods| pods[n]).sum();
            return Ok(match command.action {
                Action::DrainNode if left > 0 => {
                    Health::Progressing(format!("{left} pod(s) left on node {}", object.name))
                }
                _ if cluster.schedulable[n] => {
                    Health::Progressing(format!("node {} is still schedulable", object.name))
                }
                _ => Health::Healthy(format!("node {} is out of service", object.name)),
            });
        }
        let d = deployment(&twin, &command.target)?;
        let view = twin.view(d);
        Ok(if view.serving >= view.desired && !view.violated {
            Health::Healthy(format!(
                "{} of {} serving within SLA",
                view.serving, view.desired
            ))
        } else {
            Health::Progressing(format!(
                "{} of {} serving, p95 {:.0} ms, errors {:.1}%",
                view.serving,
                view.desired,
                view.p95_ms,
                view.error_rate * 100.0
            ))
        })
    }

    fn wait(&mut self, period: Duration) {
        let mut twin = self.twin();
        let steps = (period.as_secs_f64() / twin.spec().step_secs)
            .ceil()
            .max(1.0) as usize;
        for _ in 0..steps {
            if twin.done() {
                break;
            }
            twin.step(&[]);
        }
    }
}
