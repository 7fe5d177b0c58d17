//! The rule policy: each fault class's textbook remedy.

use schemas::{Action, FaultClass, ObjectKind, Target};

/// The remedy for `fault` on `target`, the object it applies to, and why. Returns `Escalate` where no
/// automatic action is safe (the fix needs a human: quota, policy, code, a dependency owned elsewhere).
#[must_use]
pub fn remedy_for(fault: FaultClass, target: &Target) -> (Action, Target, &'static str) {
    use FaultClass as C;
    // The node: the diagnosed object when it is a Node (never a hint beside it), else the evidence's
    // node hint.
    let node_target = || {
        let node = if target.kind == ObjectKind::Node {
            Some(&target.name)
        } else {
            target.node.as_ref()
        };
        node.map(|node| Target {
            cluster: target.cluster.clone(),
            namespace: None,
            kind: ObjectKind::Node,
            name: node.clone(),
            pod: None,
            node: Some(node.clone()),
        })
    };
    let same = target.clone();
    let workload = matches!(
        target.kind,
        ObjectKind::Deployment | ObjectKind::StatefulSet | ObjectKind::DaemonSet
    );
    let workload_action = matches!(
        fault,
        C::Oom | C::CrashLoop | C::ConfigError | C::ImagePull | C::ProbeFailure | C::CpuSaturation
    );
    if workload_action && !workload {
        return (
            Action::Escalate,
            same,
            "the remedy acts on a workload, but the evidence names no Deployment/StatefulSet/DaemonSet",
        );
    }
    match fault {
        C::Normal => (Action::Noop, same, "no fault"),
        C::Oom => (
            Action::RolloutRestart,
            same,
            "OOM-killed containers: restart the workload to clear leaked memory (raise its limit if it recurs)",
        ),
        C::CrashLoop | C::ConfigError | C::ImagePull => (
            Action::Rollback,
            same,
            "pods cannot start after a change: roll back to the previous revision",
        ),
        C::ProbeFailure => match target.pod {
            Some(_) => (
                Action::RestartPod,
                same,
                "probes fail on one pod: replace that pod",
            ),
            None => (
                Action::RolloutRestart,
                same,
                "probes fail: restart the workload",
            ),
        },
        C::CpuSaturation => (
            Action::Scale { delta: 1 },
            same,
            "CPU saturated: add a replica",
        ),
        C::NodeFailure => match node_target() {
            Some(node) => (
                Action::CordonNode,
                node,
                "node not ready: cordon it so no new pods land there",
            ),
            None => (
                Action::Escalate,
                same,
                "node failure without a node name: a human must find the node",
            ),
        },
        C::DiskPressure => match node_target() {
            Some(node) => (
                Action::DrainNode,
                node,
                "node under disk pressure: drain it (PDBs respected)",
            ),
            None => (
                Action::Escalate,
                same,
                "disk pressure without a node name: a human must find the node",
            ),
        },
        C::Scheduling
        | C::AdmissionDenied
        | C::VolumeError
        | C::Network
        | C::DependencyFailure
        | C::ApplicationError => (
            Action::Escalate,
            same,
            "no safe automatic remedy for this class: a human must act",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(pod: Option<&str>, node: Option<&str>) -> Target {
        Target::deployment("shop", "web")
            .with_pod(pod)
            .with_node(node)
    }

    #[test]
    fn remedies_table() {
        let cases = [
            (
                FaultClass::Oom,
                web(None, None),
                Action::RolloutRestart,
                "web",
            ),
            (
                FaultClass::CrashLoop,
                web(None, None),
                Action::Rollback,
                "web",
            ),
            (
                FaultClass::ProbeFailure,
                web(Some("web-1"), None),
                Action::RestartPod,
                "web",
            ),
            (
                FaultClass::CpuSaturation,
                web(None, None),
                Action::Scale { delta: 1 },
                "web",
            ),
            (
                FaultClass::NodeFailure,
                web(None, Some("node-3")),
                Action::CordonNode,
                "node-3",
            ),
            (
                FaultClass::DiskPressure,
                web(None, None),
                Action::Escalate,
                "web",
            ),
            (
                FaultClass::AdmissionDenied,
                web(None, None),
                Action::Escalate,
                "web",
            ),
        ];
        for (fault, target, action, name) in cases {
            let (got, on, _) = remedy_for(fault, &target);
            assert_eq!((got, on.name.as_str()), (action, name), "{fault}");
        }
        let node_oom = Target {
            kind: ObjectKind::Node,
            ..web(None, None)
        };
        assert_eq!(
            remedy_for(FaultClass::Oom, &node_oom).0,
            Action::Escalate,
            "never restart a node as a workload"
        );
        let (_, node, _) = remedy_for(FaultClass::NodeFailure, &web(None, Some("node-3")));
        assert_eq!((node.kind, node.namespace), (ObjectKind::Node, None));
    }
}
