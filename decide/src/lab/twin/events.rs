//! [`TwinEvent`]: what happened in the simulated cluster, recorded when log emission is on and rendered
//! into real-format logs by [`super::logs`].

/// Why a pod was evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictReason {
    /// Its node was NotReady past the toleration (taint-based eviction).
    NodeNotReady,
    /// The kubelet reclaimed disk (node under DiskPressure).
    DiskPressure,
    /// A drain moved it.
    Drain,
}

/// One thing that happened, at `at_secs` simulated seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinEvent {
    /// Simulated seconds since the start.
    pub at_secs: f64,
    /// What.
    pub kind: EventKind,
}

/// The kinds of [`TwinEvent`]. Deployments and nodes are indices into the cluster spec; pods are names.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The scheduler bound a pod to a node.
    Scheduled {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Node index.
        node: usize,
    },
    /// No node can take a pod.
    FailedScheduling {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
    },
    /// The container started (after a pull, a restart or a back-off).
    Started {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Node index.
        node: usize,
        /// Whether the image had to be pulled first.
        pulled: bool,
    },
    /// The container exited at start-up (broken revision): the application's last words.
    StartFailed {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Node index.
        node: usize,
        /// Restart count after this failure.
        restarts: u32,
        /// Seconds the kubelet waits before the next restart.
        backoff_secs: f64,
    },
    /// The kernel OOM-killed the container.
    OomKilled {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Node index.
        node: usize,
        /// Restart count after this kill.
        restarts: u32,
        /// Seconds the kubelet waits before the next restart.
        backoff_secs: f64,
    },
    /// The application reported high memory use (a leak in progress).
    MemoryHigh {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Used share of the memory limit.
        fraction: f64,
    },
    /// A pod was deleted (scale-in, restart, rollback).
    Killing {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
    },
    /// A pod was evicted.
    Evicted {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Node index.
        node: usize,
        /// Why.
        reason: EvictReason,
    },
    /// A node stopped posting status.
    NodeNotReady {
        /// Node index.
        node: usize,
    },
    /// A node is Ready again.
    NodeReady {
        /// Node index.
        node: usize,
    },
    /// A node's disk crossed the eviction threshold.
    NodeDiskPressure {
        /// Node index.
        node: usize,
    },
    /// A node was cordoned.
    NodeCordoned {
        /// Node index.
        node: usize,
    },
    /// The deployment's replica count changed.
    Scaled {
        /// Deployment index.
        deployment: usize,
        /// Replicas before.
        from: u32,
        /// Replicas after.
        to: u32,
    },
    /// One step of a pod's request log: successes, failures, latency.
    Requests {
        /// Deployment index.
        deployment: usize,
        /// Pod name.
        pod: String,
        /// Requests served.
        ok: u64,
        /// Requests failed.
        errors: u64,
        /// p95 latency, milliseconds.
        p95_ms: f64,
        /// Whether failures came from the dependency (else from overload).
        dependency_down: bool,
    },
}
