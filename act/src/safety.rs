//! The actuator's own safety checks — allowlists, rate limits and blast radius — enforced again after
//! decide's arbiter (defence in depth: a command may come from an operator, a replay or a buggy policy).

use schemas::actuate::TargetState;
use schemas::{Action, ObjectKind, Target};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

const MINUTE_NS: i64 = 60_000_000_000;
const HOUR_NS: i64 = 60 * MINUTE_NS;
/// The window over which pod deletions of one workload are counted.
const DISRUPTION_WINDOW_NS: i64 = 10 * MINUTE_NS;

/// Safety limits (the `[act.safety]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyLimits {
    /// Namespaces commands may touch; empty means any namespace not denied. Default: empty.
    pub allowed_namespaces: Vec<String>,
    /// Namespaces commands never touch. Default: `kube-system`, `kube-public`, `kube-node-lease`.
    pub denied_namespaces: Vec<String>,
    /// Kinds commands may touch. Default: Deployment, StatefulSet, Pod, Node.
    pub allowed_kinds: Vec<ObjectKind>,
    /// Changes applied per minute, all targets together (per actuator process). Default: 30.
    pub max_commands_per_minute: u32,
    /// Changes applied per hour to one target. Default: 20.
    pub max_commands_per_target_per_hour: u32,
    /// No scale above this many replicas. Default: 100.
    pub max_replicas: u32,
    /// The largest share of a workload's replicas one scale-down may remove. Default: 0.5.
    pub max_scale_down_fraction: f64,
    /// Whether a workload may be scaled to zero. Default: false.
    pub allow_scale_to_zero: bool,
    /// The largest share of a workload's replicas whose pods may be deleted within 10 minutes (at least
    /// one pod is always allowed). Default: 0.4.
    pub max_pod_deletion_fraction: f64,
    /// The largest share of nodes that may be unschedulable after a cordon or drain. Default: 0.5.
    pub max_unschedulable_node_fraction: f64,
}

impl Default for SafetyLimits {
    fn default() -> Self {
        Self {
            allowed_namespaces: Vec::new(),
            denied_namespaces: ["kube-system", "kube-public", "kube-node-lease"]
                .map(String::from)
                .to_vec(),
            allowed_kinds: vec![
                ObjectKind::Deployment,
                ObjectKind::StatefulSet,
                ObjectKind::Pod,
                ObjectKind::Node,
            ],
            max_commands_per_minute: 30,
            max_commands_per_target_per_hour: 20,
            max_replicas: 100,
            max_scale_down_fraction: 0.5,
            allow_scale_to_zero: false,
            max_pod_deletion_fraction: 0.4,
            max_unschedulable_node_fraction: 0.5,
        }
    }
}

impl SafetyLimits {
    /// Reports problems as `key: problem` into `problems`.
    pub(crate) fn check(&self, problems: &mut schemas::config::Problems) {
        for (key, value) in [
            (
                "safety.max_scale_down_fraction",
                self.max_scale_down_fraction,
            ),
            (
                "safety.max_pod_deletion_fraction",
                self.max_pod_deletion_fraction,
            ),
            (
                "safety.max_unschedulable_node_fraction",
                self.max_unschedulable_node_fraction,
            ),
        ] {
            problems.require((0.0..=1.0).contains(&value), key, || {
                format!("must be within 0..=1, got {value}")
            });
        }
        problems.require(
            self.max_replicas > 0,
            "safety.max_replicas",
            || "must be at least 1",
        );
    }
}

/// An RFC 1123 label, as namespaces are: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
fn is_dns_label(name: &str) -> bool {
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && edge(name.as_bytes().first())
        && edge(name.as_bytes().last())
}

/// An RFC 1123 subdomain, as object names are: at most 253 characters, dot-separated labels.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A refusal, with its reason code (a metric event) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Reason code: `namespace_not_allowed`, `kind_not_allowed`, `rate_limited`, `blast_radius`, …
    pub reason: &'static str,
    /// For the operator.
    pub message: String,
}

fn refuse(reason: &'static str, message: String) -> Refusal {
    Refusal { reason, message }
}

/// The limits plus the sliding windows they are checked against.
#[derive(Debug)]
pub struct Safety {
    limits: SafetyLimits,
    applied: VecDeque<i64>,
    per_target: HashMap<String, VecDeque<i64>>,
    pod_deletions: HashMap<String, VecDeque<i64>>,
}

impl Safety {
    /// Fresh windows under `limits`.
    #[must_use]
    pub fn new(limits: SafetyLimits) -> Self {
        Self {
            limits,
            applied: VecDeque::new(),
            per_target: HashMap::new(),
            pod_deletions: HashMap::new(),
        }
    }

    /// Checks the names and the namespace and kind allowlists (before anything is read from the
    /// cluster). Names must be what Kubernetes accepts (RFC 1123), so that no spelling the API server
    /// would read differently (`kube%2Dsystem`, `Kube-System`) passes the string compare of the lists.
    ///
    /// # Errors
    /// The refusal.
    pub fn allowed(&self, target: &Target) -> Result<(), Refusal> {
        let limits = &self.limits;
        let names = [
            (
                "namespace",
                target.namespace.as_deref(),
                is_dns_label as fn(&str) -> bool,
            ),
            ("name", Some(target.name.as_str()), is_dns_subdomain),
            ("pod", target.pod.as_deref(), is_dns_subdomain),
            ("node", target.node.as_deref(), is_dns_subdomain),
        ];
        for (what, name, valid) in names {
            if let Some(name) = name.filter(|n| !valid(n)) {
                return Err(refuse(
                    "invalid_name",
                    format!("{what} {name:?} is not a valid Kubernetes name (RFC 1123)"),
                ));
            }
        }
        if !limits.allowed_kinds.contains(&target.kind) {
            return Err(refuse(
                "kind_not_allowed",
                format!("kind {} is not in the allowlist", target.kind.as_str()),
            ));
        }
        if let Some(ns) = &target.namespace {
            let listed =
                limits.allowed_namespaces.is_empty() || limits.allowed_namespaces.contains(ns);
            if !listed || limits.denied_namespaces.contains(ns) {
                return Err(refuse(
                    "namespace_not_allowed",
                    format!("namespace {ns:?} is not allowed"),
                ));
            }
        } else if target.kind != ObjectKind::Node {
            return Err(refuse(
                "namespace_not_allowed",
                format!("{} has no namespace", target.kind.as_str()),
            ));
        }
        Ok(())
    }

    /// Checks the global and per-target rate limits at `now_ns`.
    ///
    /// # Errors
    /// The refusal.
    pub fn within_rate(&mut self, target: &Target, now_ns: i64) -> Result<(), Refusal> {
        trim(&mut self.applied, now_ns - MINUTE_NS);
        if self.applied.len() >= self.limits.max_commands_per_minute as usize {
            return Err(refuse(
                "rate_limited",
                format!(
                    "global rate limit: {} changes in the last minute (max {})",
                    self.applied.len(),
                    self.limits.max_commands_per_minute
                ),
            ));
        }
        let recent = self.per_target.entry(target.to_string()).or_default();
        trim(recent, now_ns - HOUR_NS);
        if recent.len() >= self.limits.max_commands_per_target_per_hour as usize {
            return Err(refuse(
                "rate_limited",
                format!(
                    "{target}: {} changes in the last hour (max {})",
                    recent.len(),
                    self.limits.max_commands_per_target_per_hour
                ),
            ));
        }
        Ok(())
    }

    /// Resolves a relative scale against the target's state and checks the blast radius of `action`.
    /// Returns the action to apply (a `Scale { delta }` becomes `ScaleTo`).
    ///
    /// # Errors
    /// The refusal.
    pub fn resolve(
        &mut self,
        target: &Target,
        action: Action,
        state: &TargetState,
        now_ns: i64,
    ) -> Result<Action, Refusal> {
        let limits = &self.limits;
        let blast = |message: String| refuse("blast_radius", message);
        match action {
            Action::Scale { .. } | Action::ScaleTo { .. } => {
                let current = state.replicas.ok_or_else(|| {
                    refuse("invalid_target", format!("{target} has no replica count"))
                })?;
                let wanted = match action {
                    Action::Scale { delta } => {
                        u32::try_from((i64::from(current) + i64::from(delta)).max(0))
                            .unwrap_or(u32::MAX)
                    }
                    Action::ScaleTo { replicas } => replicas,
                    _ => unreachable!("matched scales"),
                };
                if wanted > limits.max_replicas {
                    return Err(blast(format!(
                        "{wanted} replicas exceeds max_replicas {}",
                        limits.max_replicas
                    )));
                }
                if wanted == 0 && current > 0 && !limits.allow_scale_to_zero {
                    return Err(blast("scaling to zero is not allowed".to_owned()));
                }
                let floor = (f64::from(current) * (1.0 - limits.max_scale_down_fraction)).ceil();
                if wanted < current && f64::from(wanted) < floor {
                    return Err(blast(format!(
                        "scale-down {current} → {wanted} removes more than {:.0}% of replicas",
                        limits.max_scale_down_fraction * 100.0
                    )));
                }
                Ok(Action::ScaleTo { replicas: wanted })
            }
            Action::RestartPod => {
                let replicas = state.replicas.unwrap_or(1).max(1);
                let allowed = ((f64::from(replicas) * limits.max_pod_deletion_fraction).floor()
                    as usize)
                    .max(1);
                let recent = self.pod_deletions.entry(workload_key(target)).or_default();
                trim(recent, now_ns - DISRUPTION_WINDOW_NS);
                if recent.len() >= allowed {
                    return Err(blast(format!(
                        "{} pod(s) of {} already deleted in 10 min (max {allowed} of {replicas})",
                        recent.len(),
                        workload_key(target)
                    )));
                }
                Ok(action)
            }
            Action::CordonNode | Action::DrainNode => {
                let nodes = state.nodes.unwrap_or(0);
                let already = state.unschedulable_nodes.unwrap_or(0);
                let after = already + u32::from(!state.unschedulable.unwrap_or(false));
                if nodes == 0
                    || f64::from(after) > f64::from(nodes) * limits.max_unschedulable_node_fraction
                {
                    return Err(blast(format!(
                        "{after} of {nodes} nodes would be unschedulable (max {:.0}%)",
                        limits.max_unschedulable_node_fraction * 100.0
                    )));
                }
                Ok(action)
            }
            Action::RolloutRestart | Action::Rollback | Action::Noop | Action::Escalate => {
                Ok(action)
            }
        }
    }

    /// Counts an applied change against the windows.
    pub fn record(&mut self, target: &Target, action: Action, now_ns: i64) {
        self.applied.push_back(now_ns);
        self.per_target
            .entry(target.to_string())
            .or_default()
            .push_back(now_ns);
        if action == Action::RestartPod {
            self.pod_deletions
                .entry(workload_key(target))
                .or_default()
                .push_back(now_ns);
        }
    }
}

/// Pod deletions are counted per workload: the target's own name (commands name the workload and the
/// pod in `target.pod`).
fn workload_key(target: &Target) -> String {
    format!(
        "{}/{}",
        target.namespace.as_deref().unwrap_or("_"),
        target.name
    )
}

fn trim(window: &mut VecDeque<i64>, since_ns: i64) {
    while window.front().is_some_and(|&t| t <= since_ns) {
        window.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(kind: ObjectKind, ns: Option<&str>, name: &str) -> Target {
        Target::object(kind, ns, name)
    }

    fn workload(replicas: u32) -> TargetState {
        TargetState {
            exists: true,
            replicas: Some(replicas),
            ready_replicas: Some(replicas),
            ..TargetState::default()
        }
    }

    #[test]
    fn allowlists() {
        let safety = Safety::new(SafetyLimits {
            allowed_namespaces: vec!["shop".into()],
            ..SafetyLimits::default()
        });
        let deploy = |ns| target(ObjectKind::Deployment, ns, "web");
        assert!(safety.allowed(&deploy(Some("shop"))).is_ok());
        assert_eq!(
            safety
                .allowed(&deploy(Some("other")))
                .expect_err("not listed")
                .reason,
            "namespace_not_allowed"
        );
        assert!(safety.allowed(&deploy(None)).is_err());
        assert!(
            safety
                .allowed(&target(ObjectKind::Node, None, "n1"))
                .is_ok()
        );
        assert_eq!(
            safety
                .allowed(&target(ObjectKind::DaemonSet, Some("shop"), "x"))
                .expect_err("kind")
                .reason,
            "kind_not_allowed"
        );
        let open = Safety::new(SafetyLimits::default());
        assert!(open.allowed(&deploy(Some("anything"))).is_ok());
        assert!(open.allowed(&deploy(Some("kube-system"))).is_err());
    }

    #[test]
    fn rate_limits_slide() {
        let mut safety = Safety::new(SafetyLimits {
            max_commands_per_minute: 2,
            max_commands_per_target_per_hour: 3,
            ..SafetyLimits::default()
        });
        let (a, b) = (
            target(ObjectKind::Deployment, Some("s"), "a"),
            target(ObjectKind::Deployment, Some("s"), "b"),
        );
        for (t, at) in [(&a, 0), (&b, 1)] {
            assert!(safety.within_rate(t, at).is_ok());
            safety.record(t, Action::RolloutRestart, at);
        }
        assert_eq!(
            safety.within_rate(&a, 2).expect_err("global").reason,
            "rate_limited"
        );
        assert!(
            safety.within_rate(&a, MINUTE_NS + 1).is_ok(),
            "the minute slid"
        );
        safety.record(&a, Action::RolloutRestart, MINUTE_NS + 1);
        safety.record(&a, Action::RolloutRestart, 3 * MINUTE_NS);
        assert!(
            safety.within_rate(&a, 5 * MINUTE_NS).is_err(),
            "3 per hour on a"
        );
        assert!(safety.within_rate(&b, 5 * MINUTE_NS).is_ok());
    }

    #[test]
    fn blast_radius() {
        let mut safety = Safety::new(SafetyLimits::default());
        let web = target(ObjectKind::Deployment, Some("s"), "web");
        let scale =
            |s: &mut Safety, action, replicas| s.resolve(&web, action, &workload(replicas), 0);
        assert_eq!(
            scale(&mut safety, Action::Scale { delta: 2 }, 3),
            Ok(Action::ScaleTo { replicas: 5 })
        );
        assert!(scale(&mut safety, Action::ScaleTo { replicas: 101 }, 3).is_err());
        assert!(scale(&mut safety, Action::ScaleTo { replicas: 5 }, 10).is_ok());
        assert!(scale(&mut safety, Action::ScaleTo { replicas: 4 }, 10).is_err());
        assert!(
            scale(&mut safety, Action::Scale { delta: -9 }, 1).is_err(),
            "to zero"
        );

        // 5 replicas × 0.4 → 2 pod deletions per 10 minutes.
        for at in [0, 1] {
            assert!(
                safety
                    .resolve(&web, Action::RestartPod, &workload(5), at)
                    .is_ok()
            );
            safety.record(&web, Action::RestartPod, at);
        }
        assert!(
            safety
                .resolve(&web, Action::RestartPod, &workload(5), 2)
                .is_err()
        );
        assert!(
            safety
                .resolve(
                    &web,
                    Action::RestartPod,
                    &workload(5),
                    DISRUPTION_WINDOW_NS + 1
                )
                .is_ok()
        );

        let node = target(ObjectKind::Node, None, "n1");
        let nodes = |unschedulable| TargetState {
            exists: true,
            nodes: Some(4),
            unschedulable_nodes: Some(unschedulable),
            unschedulable: Some(false),
            ..TargetState::default()
        };
        assert!(
            safety
                .resolve(&node, Action::DrainNode, &nodes(1), 0)
                .is_ok()
        );
        assert!(
            safety
                .resolve(&node, Action::CordonNode, &nodes(2), 0)
                .is_err()
        );
    }
}
