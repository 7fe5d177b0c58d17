//! The twin's mutable state: pods, nodes and deployments as the control plane sees them.

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PodPhase {
    /// Waiting for a node.
    Pending,
    /// Container (re)starting; ready at `ready_at` unless its revision is broken.
    Starting {
        /// Simulated second it passes its readiness probe.
        ready_at: f64,
    },
    /// Ready and serving (if its node is Ready).
    Running {
        /// When it became ready.
        since: f64,
    },
    /// Crashed; the kubelet restarts it at `until` (CrashLoopBackOff).
    BackOff {
        /// Simulated second of the next restart.
        until: f64,
    },
}

/// One pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// Pod name (`<deployment>-<hash>-<suffix>`).
    pub name: String,
    /// Node it is bound to.
    pub node: Option<usize>,
    /// Phase.
    pub phase: PodPhase,
    /// Memory in use, as a share of the limit.
    pub memory: f64,
    /// Memory growth per second while a leak is active (share of the limit).
    pub leak_per_sec: f64,
    /// Container restarts so far (drives the back-off).
    pub restarts: u32,
    /// Whether it runs the broken revision of a bad rollout.
    pub broken: bool,
    /// Whether a rollout restart still has to replace it.
    pub restart_pending: bool,
}

impl Pod {
    /// Whether the pod is ready (it serves when its node is Ready too).
    #[must_use]
    pub fn ready(&self) -> bool {
        matches!(self.phase, PodPhase::Running { .. })
    }

    /// The container died at `now`: the kubelet restarts it after its back-off (CrashLoopBackOff).
    /// Returns that back-off, seconds.
    pub fn crash(&mut self, now: f64) -> f64 {
        let backoff = super::backoff_secs(self.restarts);
        self.restarts += 1;
        self.phase = PodPhase::BackOff {
            until: now + backoff,
        };
        backoff
    }
}

/// One node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeState {
    /// Whether the node is Ready.
    pub ready: bool,
    /// Since when it is NotReady.
    pub not_ready_since: Option<f64>,
    /// Unschedulable.
    pub cordoned: bool,
    /// Under disk pressure.
    pub disk_pressure: bool,
    /// Last kubelet eviction under disk pressure.
    pub last_eviction: f64,
    /// Deployments whose image is already on the node.
    pub has_image: Vec<bool>,
}

impl NodeState {
    /// Whether new pods may be placed here.
    #[must_use]
    pub fn schedulable(&self) -> bool {
        self.ready && !self.cordoned && !self.disk_pressure
    }
}

/// One deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentState {
    /// Desired replicas.
    pub desired: u32,
    /// Its pods.
    pub pods: Vec<Pod>,
    /// Pods created so far (names).
    pub created: u64,
    /// A memory leak is active.
    pub leaking: bool,
    /// The pod template is a broken revision.
    pub broken_revision: bool,
    /// Its dependency is down.
    pub dependency_down: bool,
    /// Traffic multiplier of an active spike (1 when none).
    pub spike: f64,
    /// Last OOM kill, or last warning of a pod near its memory limit.
    pub last_oom: Option<f64>,
    /// Last crash of a broken revision.
    pub last_crash: Option<f64>,
    /// The latest rollout of the run (a bad revision, a rollback, a rollout restart), if any.
    pub rollout: Option<TwinRollout>,
}

/// A new revision of a deployment's pod template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwinRollout {
    /// Revision number: the initial template is 1.
    pub revision: u64,
    /// Simulated second it was rolled out.
    pub at_secs: f64,
    /// Whether its image differs from the revision before it (a rollout restart changes an
    /// annotation only).
    pub image_changed: bool,
    /// Whether it brings an older revision back (a rollback), as the observer marks one on a cluster.
    pub rolled_back: bool,
}

impl DeploymentState {
    /// Records a new revision of the pod template at `now` (`rolled_back`: an older one brought back).
    pub fn roll_out(&mut self, now: f64, image_changed: bool, rolled_back: bool) {
        let revision = self.rollout.map_or(1, |r| r.revision) + 1;
        self.rollout = Some(TwinRollout {
            revision,
            at_secs: now,
            image_changed,
            rolled_back,
        });
    }
}
