//! Liveness and readiness of the stages in this process.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct StageHealth {
    ready: bool,
    heartbeat: Instant,
}

/// Shared by the stage runners (which report) and the admin server (which answers probes).
#[derive(Debug)]
pub struct Health {
    stages: Mutex<BTreeMap<String, StageHealth>>,
    stall_after: Duration,
}

impl Health {
    /// A registry in which a stage whose loop has not beaten for `stall_after` counts as stalled.
    #[must_use]
    pub fn new(stall_after: Duration) -> Self {
        Self {
            stages: Mutex::new(BTreeMap::new()),
            stall_after,
        }
    }

    fn update(&self, stage: &str, ready: Option<bool>) {
        let mut stages = self
            .stages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = stages.entry(stage.to_owned()).or_insert(StageHealth {
            ready: false,
            heartbeat: Instant::now(),
        });
        entry.heartbeat = Instant::now();
        if let Some(ready) = ready {
            entry.ready = ready;
        }
    }

    /// Registers `stage` as starting (alive, not ready).
    pub fn starting(&self, stage: &str) {
        self.update(stage, Some(false));
    }

    /// Marks `stage` ready (subscribed, producing) or not (draining).
    pub fn set_ready(&self, stage: &str, ready: bool) {
        self.update(stage, Some(ready));
    }

    /// Records that `stage`'s loop is making progress.
    pub fn beat(&self, stage: &str) {
        self.update(stage, None);
    }

    /// `Ok` when every stage is ready, else the names of those that are not.
    ///
    /// # Errors
    /// The stages that are not ready (or "no stage" when none is registered).
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let stages = self
            .stages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stages.is_empty() {
            return Err(vec!["no stage registered yet".to_owned()]);
        }
        let not_ready: Vec<_> = stages
            .iter()
            .filter(|(_, h)| !h.ready)
            .map(|(n, _)| n.clone())
            .collect();
        if not_ready.is_empty() {
            Ok(())
        } else {
            Err(not_ready)
        }
    }

    /// `Ok` when every stage's loop beat recently, else the stalled ones.
    ///
    /// # Errors
    /// The stages whose loop has not beaten within the stall bound.
    pub fn liveness(&self) -> Result<(), Vec<String>> {
        let stages = self
            .stages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stalled: Vec<_> = stages
            .iter()
            .filter(|(_, h)| h.heartbeat.elapsed() > self.stall_after)
            .map(|(n, _)| n.clone())
            .collect();
        if stalled.is_empty() {
            Ok(())
        } else {
            Err(stalled)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_every_stage() {
        let health = Health::new(Duration::from_secs(60));
        assert!(health.readiness().is_err(), "nothing registered");
        health.starting("ingest");
        health.starting("enrich");
        health.set_ready("ingest", true);
        assert_eq!(health.readiness(), Err(vec!["enrich".to_owned()]));
        health.set_ready("enrich", true);
        assert!(health.readiness().is_ok());
        assert!(health.liveness().is_ok());
    }

    #[test]
    fn a_silent_loop_is_stalled() {
        let health = Health::new(Duration::ZERO);
        health.starting("decide");
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(health.liveness(), Err(vec!["decide".to_owned()]));
    }
}
