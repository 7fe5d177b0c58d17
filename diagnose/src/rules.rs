//! The keyword rules: which log evidence points at which fault class, and how strongly.
//!
//! Texts come from Kubernetes' own messages (kubelet event reasons in `pkg/kubelet/events`, scheduler and
//! quota messages as collected in the exolightor k8s-fault-dataset) and from common runtime errors.

use schemas::{FaultClass, FaultSeverity};

/// One rule: if a record's text contains any needle (case-insensitive), it is evidence for `class` with
/// weight `weight` (the probability the rule alone is right).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The class the rule points at.
    pub class: FaultClass,
    /// Lower-case substrings; any one matches.
    pub needles: &'static [&'static str],
    /// Strength of one match, in `(0, 1)`.
    pub weight: f64,
}

/// The built-in rules, most specific first: a record counts for the first rule it matches.
#[must_use]
pub fn default_rules() -> Vec<Rule> {
    use FaultClass as C;
    let rule = |class, needles, weight| Rule {
        class,
        needles,
        weight,
    };
    vec![
        rule(
            C::Oom,
            &[
                "oomkilled",
                "oomkilling",
                "out of memory",
                "outofmemoryerror",
                "oom-kill",
                "memory cgroup out of memory",
            ],
            0.8,
        ),
        rule(
            C::ImagePull,
            &[
                "errimagepull",
                "imagepullbackoff",
                "failed to pull image",
                "back-off pulling image",
                "pull access denied",
                "manifest unknown",
                "invalidimagename",
            ],
            0.85,
        ),
        rule(
            C::ConfigError,
            &[
                "createcontainerconfigerror",
                "configmap",
                "secret \"",
                "couldn't find key",
                "invalid configuration",
                "missing required",
                "no such file or directory",
            ],
            0.6,
        ),
        rule(
            C::CrashLoop,
            &[
                "crashloopbackoff",
                "back-off restarting failed container",
                "backoff restarting",
            ],
            0.7,
        ),
        rule(
            C::Scheduling,
            &[
                "failedscheduling",
                "nodes are available",
                "insufficient cpu",
                "insufficient memory",
                "untolerated taint",
                "didn't match pod's node affinity",
            ],
            0.85,
        ),
        rule(
            C::AdmissionDenied,
            &[
                "exceeded quota",
                "is forbidden",
                "admission webhook",
                "denied the request",
                "violates podsecurity",
            ],
            0.85,
        ),
        rule(
            C::ProbeFailure,
            &[
                "liveness probe failed",
                "readiness probe failed",
                "startup probe failed",
                "unhealthy",
            ],
            0.6,
        ),
        rule(
            C::VolumeError,
            &[
                "failedmount",
                "failedattachvolume",
                "mountvolume.setup failed",
                "unable to attach or mount",
                "persistentvolumeclaim",
                "multi-attach error",
            ],
            0.8,
        ),
        rule(
            C::NodeFailure,
            &[
                "nodenotready",
                "node is not ready",
                "kubelet stopped posting node status",
                "nodenotschedulable",
            ],
            0.8,
        ),
        rule(
            C::DiskPressure,
            &[
                "diskpressure",
                "evicted",
                "no space left on device",
                "ephemeral-storage",
                "freediskspacefailed",
            ],
            0.75,
        ),
        rule(
            C::DependencyFailure,
            &[
                "no instances available",
                "503 service unavailable",
                "upstream connect error",
                "circuit breaker",
                "service unavailable",
            ],
            0.6,
        ),
        rule(
            C::Network,
            &[
                "connection refused",
                "connection reset",
                "i/o timeout",
                "no route to host",
                "no such host",
                "network is unreachable",
                "dial tcp",
            ],
            0.5,
        ),
        rule(
            C::CpuSaturation,
            &["cputhrottling", "cpu throttl", "throttling request took"],
            0.6,
        ),
        rule(
            C::ApplicationError,
            &[
                "exception",
                "traceback (most recent call last)",
                "panic:",
                "segmentation fault",
                "fatal error",
            ],
            0.15,
        ),
    ]
}

/// How much harm each class does if left alone.
#[must_use]
pub fn severity_of(class: FaultClass) -> FaultSeverity {
    use FaultClass as C;
    match class {
        C::Normal => FaultSeverity::None,
        C::CpuSaturation | C::ProbeFailure => FaultSeverity::Medium,
        C::Network
        | C::DependencyFailure
        | C::ApplicationError
        | C::Scheduling
        | C::AdmissionDenied => FaultSeverity::Medium,
        C::Oom
        | C::CrashLoop
        | C::ImagePull
        | C::ConfigError
        | C::VolumeError
        | C::DiskPressure => FaultSeverity::High,
        C::NodeFailure => FaultSeverity::Critical,
    }
}

/// The first rule that `text` (already lower-cased) matches.
#[must_use]
pub(crate) fn first_match<'r>(rules: &'r [Rule], text: &str) -> Option<&'r Rule> {
    rules
        .iter()
        .find(|r| r.needles.iter().any(|n| text.contains(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_messages_map_to_their_class() {
        let rules = default_rules();
        let cases = [
            (
                "the last termination reason is OOMKilled container=app pod=web-1",
                FaultClass::Oom,
            ),
            (
                "Back-off restarting failed container app in pod web-7d9c7f5b9d-x2x7q_shop",
                FaultClass::CrashLoop,
            ),
            (
                "Back-off pulling image \"nginx:1.999\"",
                FaultClass::ImagePull,
            ),
            (
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available",
                FaultClass::Scheduling,
            ),
            (
                "pods \"web-1\" is forbidden: exceeded quota: ba-test, requested: cpu=500m",
                FaultClass::AdmissionDenied,
            ),
            (
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
                FaultClass::ProbeFailure,
            ),
            (
                "No instances available for ts-order-other-service",
                FaultClass::DependencyFailure,
            ),
            (
                "dial tcp 10.0.0.12:5432: connect: connection refused",
                FaultClass::Network,
            ),
            ("Started container app", FaultClass::Normal),
        ];
        for (text, class) in cases {
            let got =
                first_match(&rules, &text.to_lowercase()).map_or(FaultClass::Normal, |r| r.class);
            assert_eq!(got, class, "{text}");
        }
    }

    #[test]
    fn weights_are_probabilities_and_every_fault_has_a_rule() {
        let rules = default_rules();
        assert!(
            rules
                .iter()
                .all(|r| r.weight > 0.0 && r.weight < 1.0 && !r.needles.is_empty())
        );
        assert!(
            rules
                .iter()
                .all(|r| r.needles.iter().all(|n| n.to_lowercase() == *n))
        );
        for class in FaultClass::ALL
            .into_iter()
            .filter(|c| *c != FaultClass::Normal)
        {
            assert!(
                rules.iter().any(|r| r.class == class),
                "no rule for {class}"
            );
        }
    }
}
