//! Controllers: anything that looks at the cluster each step and proposes commands — the Kubernetes
//! baselines, the calibrated rules, the learned policies — and the loop that runs one through a twin,
//! behind the [`Arbiter`](crate::lab::arbitration::Arbiter).

mod episode;
mod explanation;

pub use episode::{EpisodeSpec, run_episode, run_episode_observed, run_episode_recording};
pub use explanation::{Explanation, Proposal};

use crate::lab::twin::{ClusterView, DeploymentView, TwinCommand};

/// A policy that proposes commands from what it sees.
pub trait Controller {
    /// Policy id with version, e.g. `hpa@1`, `ppo@<hash>`.
    fn id(&self) -> String;

    /// Proposals for this step (at most one per deployment is expected; none means noop).
    fn propose(&mut self, views: &[DeploymentView], cluster: &ClusterView) -> Vec<Proposal>;

    /// Whether its proposals go through the arbiter (the Kubernetes baselines bypass it: they are
    /// reproduced as Kubernetes behaves).
    fn arbitrated(&self) -> bool {
        true
    }

    /// The commands that were applied this step, after arbitration.
    fn applied(&mut self, _commands: &[TwinCommand]) {}
}
