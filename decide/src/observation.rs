//! [`DeploymentView`]: what a policy sees of one deployment — its pods and bounds, demand, latency and
//! errors, the diagnosis and the nodes' state. The twin builds it at each step (training); the decide
//! stage rebuilds it from `medic.state` and `medic.diagnoses` records (serving), so a learned policy sees
//! the same numbers in both.

use schemas::FaultClass;

/// The diagnose stage's verdict on a deployment (in the twin: its diagnosis channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// Fault class.
    pub fault: FaultClass,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The node the evidence names, when it names one (an index into the view's nodes).
    pub node: Option<usize>,
}

/// One deployment as observed at the end of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    /// Deployment index.
    pub deployment: usize,
    /// Simulated seconds at the end of the step.
    pub at_secs: f64,
    /// Desired replicas.
    pub desired: u32,
    /// Pods ready and serving.
    pub serving: u32,
    /// Pods starting.
    pub starting: u32,
    /// Pods in CrashLoopBackOff.
    pub crashing: u32,
    /// Pods without a node.
    pub pending: u32,
    /// Autoscaling bounds.
    pub min_replicas: u32,
    /// Autoscaling bounds.
    pub max_replicas: u32,
    /// Requests per second one pod serves at full utilisation.
    pub pod_rps: f64,
    /// Demand this step, requests per second.
    pub demand_rps: f64,
    /// Requests per second served.
    pub served_rps: f64,
    /// Demand one minute earlier.
    pub demand_rps_1m: f64,
    /// Demand five minutes earlier.
    pub demand_rps_5m: f64,
    /// Serving capacity, requests per second.
    pub capacity_rps: f64,
    /// CPU used / CPU requested by its scheduled pods (the HPA metric).
    pub cpu_utilisation: f64,
    /// p95 latency, milliseconds.
    pub p95_ms: f64,
    /// SLA threshold, milliseconds.
    pub sla_p95_ms: f64,
    /// Failed share of requests.
    pub error_rate: f64,
    /// Whether the step violated the SLA.
    pub violated: bool,
    /// The diagnosis, if the diagnose stage has one for this deployment (`Normal` when healthy).
    pub signal: Option<Signal>,
    /// Nodes hosting its pods that are NotReady or under disk pressure (the first of them).
    pub troubled_node: Option<usize>,
    /// Share of the cluster's nodes that are schedulable.
    pub schedulable_nodes: f64,
}

impl DeploymentView {
    /// Demand over capacity of all desired replicas (above 1: more pods are needed).
    #[must_use]
    pub fn load_per_desired(&self) -> f64 {
        self.demand_rps / (f64::from(self.desired.max(1)) * self.pod_rps)
    }
}

/// The nodes as the arbiter sees them: which are usable and where each deployment's pods are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterView {
    /// Per node: schedulable (Ready, not cordoned, no disk pressure).
    pub schedulable: Vec<bool>,
    /// Per node: Ready.
    pub ready: Vec<bool>,
    /// Per deployment, per node: its pods bound there.
    pub pods_on_node: Vec<Vec<u32>>,
}

impl ClusterView {
    /// Share of the nodes that are not schedulable.
    #[must_use]
    pub fn unschedulable_share(&self) -> f64 {
        let n = self.schedulable.len().max(1) as f64;
        self.schedulable.iter().filter(|s| !**s).count() as f64 / n
    }
}
