//! The fault taxonomy shared by diagnose, decide and act.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The class of fault a diagnosis names. snake_case on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    /// No fault.
    Normal,
    /// A container was killed for exceeding its memory limit.
    Oom,
    /// A container keeps crashing and the kubelet backs off restarting it.
    CrashLoop,
    /// An image cannot be pulled.
    ImagePull,
    /// A pod cannot be scheduled onto any node.
    Scheduling,
    /// The API server or an admission webhook refused an object (quota, policy).
    AdmissionDenied,
    /// Missing or invalid configuration (ConfigMap, Secret, flags, environment).
    ConfigError,
    /// Liveness, readiness or startup probes fail.
    ProbeFailure,
    /// A volume cannot be attached or mounted.
    VolumeError,
    /// A node is down or not ready.
    NodeFailure,
    /// A node runs out of disk and evicts pods.
    DiskPressure,
    /// Connections fail: refused, reset, timed out, DNS.
    Network,
    /// A service this workload depends on is unavailable.
    DependencyFailure,
    /// The workload is starved of CPU.
    CpuSaturation,
    /// The application itself fails (exceptions, panics, error responses).
    ApplicationError,
}

impl FaultClass {
    /// Every class in its canonical order (the order of the label mapping of classifiers).
    pub const ALL: [FaultClass; 15] = [
        FaultClass::Normal,
        FaultClass::Oom,
        FaultClass::CrashLoop,
        FaultClass::ImagePull,
        FaultClass::Scheduling,
        FaultClass::AdmissionDenied,
        FaultClass::ConfigError,
        FaultClass::ProbeFailure,
        FaultClass::VolumeError,
        FaultClass::NodeFailure,
        FaultClass::DiskPressure,
        FaultClass::Network,
        FaultClass::DependencyFailure,
        FaultClass::CpuSaturation,
        FaultClass::ApplicationError,
    ];

    /// The snake_case wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultClass::Normal => "normal",
            FaultClass::Oom => "oom",
            FaultClass::CrashLoop => "crash_loop",
            FaultClass::ImagePull => "image_pull",
            FaultClass::Scheduling => "scheduling",
            FaultClass::AdmissionDenied => "admission_denied",
            FaultClass::ConfigError => "config_error",
            FaultClass::ProbeFailure => "probe_failure",
            FaultClass::VolumeError => "volume_error",
            FaultClass::NodeFailure => "node_failure",
            FaultClass::DiskPressure => "disk_pressure",
            FaultClass::Network => "network",
            FaultClass::DependencyFailure => "dependency_failure",
            FaultClass::CpuSaturation => "cpu_saturation",
            FaultClass::ApplicationError => "application_error",
        }
    }
}

impl fmt::Display for FaultClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string names no [`FaultClass`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault class {0:?}; expected one of: {list}", list = FaultClass::ALL.map(FaultClass::as_str).join(", "))]
pub struct UnknownFaultClass(pub String);

impl FromStr for FaultClass {
    type Err = UnknownFaultClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownFaultClass(s.to_owned()))
    }
}

/// How much harm a fault does if left alone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultSeverity {
    /// Informational: nothing is degraded.
    None,
    /// Degraded but serving.
    Low,
    /// Part of the service fails.
    Medium,
    /// The service is down or losing data.
    High,
    /// Several services or a node are down.
    Critical,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde_and_parse_back() {
        for class in FaultClass::ALL {
            let json = serde_json::to_string(&class).expect("serialize");
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(class.as_str().parse::<FaultClass>(), Ok(class));
        }
    }

    #[test]
    fn taxonomy_is_exactly_the_fifteen_classes() {
        let names: Vec<_> = FaultClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "normal",
                "oom",
                "crash_loop",
                "image_pull",
                "scheduling",
                "admission_denied",
                "config_error",
                "probe_failure",
                "volume_error",
                "node_failure",
                "disk_pressure",
                "network",
                "dependency_failure",
                "cpu_saturation",
                "application_error"
            ]
        );
    }

    #[test]
    fn unknown_class_lists_valid_ones() {
        let err = "oomkilled".parse::<FaultClass>().expect_err("must fail");
        assert!(err.to_string().contains("crash_loop"));
    }
}
