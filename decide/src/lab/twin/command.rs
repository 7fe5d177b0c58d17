//! [`TwinCommand`]: what a controller may do to the simulated cluster.

pub use crate::actions::PolicyAction as TwinAction;

/// A command for one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwinCommand {
    /// Deployment index.
    pub deployment: usize,
    /// What to do.
    pub action: TwinAction,
}
