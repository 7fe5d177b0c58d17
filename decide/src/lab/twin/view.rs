//! [`ClusterView`]: the nodes as the arbiter sees them (the deployments' [`DeploymentView`] is shared
//! with the serving side, in `crate::observation`).

#[cfg(doc)]
use super::DeploymentView;

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
