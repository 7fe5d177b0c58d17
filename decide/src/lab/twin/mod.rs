//! The digital twin: a simulated Kubernetes cluster to train and evaluate remediation policies on.
//!
//! ```text
//!  trace (CSV) ──► demand ─┐
//!  scenario (TOML) ─► faults ┤   ┌──────────── one step (default 30 s) ─────────────┐
//!  controller ─► commands ───┴──►│ faults start/end · human fixes · node lifecycle   │
//!                                │ · ReplicaSets · rolling restarts · scheduler      │
//!                                │ · kubelet (back-off, OOM) · M/M/1 serving · SLA   │
//!                                └────────────┬──────────────────────────┬──────────┘
//!                                  DeploymentView (+ diagnosis)    TwinEvents ─► logs (CRI, Events)
//!                                  TwinObserver ─► cluster snapshot (the observer's WorkloadStates)
//! ```
//!
//! Every random draw comes from the seed, so a run is repeatable.

pub mod actuate;
mod command;
mod events;
mod external;
pub mod logs;
mod observe;
mod queueing;
mod report;
mod scenario;
mod sim;
mod spec;
mod state;
mod trace;

pub use crate::observation::{ClusterView, DeploymentView, Signal};
pub use actuate::TwinBackend;
pub use command::{TwinAction, TwinCommand};
pub use events::{EventKind, EvictReason, TwinEvent};
pub use external::{ExternalDiagnoses, RecordedSpan};
pub use observe::{OBSERVER_TWIN, TwinObserver, snapshot};
pub use report::{EpisodeReport, Recovery};
pub use scenario::{FaultKind, FaultSpec, PlannedFault, RandomFaults, Scenario};
pub use sim::{Twin, TwinOptions, backoff_secs, correct_remedy};
pub use spec::{ClusterSpec, DeploymentSpec, NodeSpec};
pub use trace::Trace;
