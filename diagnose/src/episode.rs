//! Episodes: evidence for one fault class on one workload, accumulated in event time.

use schemas::{Evidence, FaultClass, Target};
use std::collections::HashMap;

/// Evidence accumulated for one `(target, class)`.
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    pub evidence: Vec<Evidence>,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Noisy-OR of the weights seen: `1 - Π(1 - wᵢ)`.
    pub confidence: f64,
    pub records: u64,
    pub diagnosed: bool,
}

impl Episode {
    fn new(at_ns: i64) -> Self {
        Self {
            evidence: Vec::new(),
            first_ns: at_ns,
            last_ns: at_ns,
            confidence: 0.0,
            records: 0,
            diagnosed: false,
        }
    }
}

/// All open episodes, bounded in number.
#[derive(Debug)]
pub(crate) struct Episodes {
    open: HashMap<(Target, FaultClass), Episode>,
    gap_ns: i64,
    max_evidence: usize,
    max_open: usize,
}

impl Episodes {
    pub(crate) fn new(gap_ns: i64, max_evidence: usize, max_open: usize) -> Self {
        Self {
            open: HashMap::new(),
            gap_ns,
            max_evidence,
            max_open,
        }
    }

    /// Adds `records` lines, quoted by `evidence`, each with rule weight `weight`; returns the episode
    /// they belong to.
    pub(crate) fn add(
        &mut self,
        target: Target,
        class: FaultClass,
        evidence: Evidence,
        weight: f64,
        records: u64,
    ) -> &mut Episode {
        let at = evidence.event_time_ns;
        if self.open.len() >= self.max_open && !self.open.contains_key(&(target.clone(), class)) {
            self.forget_stalest();
        }
        let episode = self
            .open
            .entry((target, class))
            .or_insert_with(|| Episode::new(at));
        if at - episode.last_ns > self.gap_ns {
            *episode = Episode::new(at);
        }
        episode.first_ns = episode.first_ns.min(at);
        episode.last_ns = episode.last_ns.max(at);
        episode.records += records;
        let unexplained = (1.0 - weight).powi(i32::try_from(records).unwrap_or(i32::MAX));
        episode.confidence = 1.0 - (1.0 - episode.confidence) * unexplained;
        if episode.evidence.len() < self.max_evidence {
            episode.evidence.push(evidence);
        }
        episode
    }

    fn forget_stalest(&mut self) {
        if let Some(key) = self
            .open
            .iter()
            .min_by_key(|(_, e)| e.last_ns)
            .map(|(k, _)| k.clone())
        {
            self.open.remove(&key);
        }
    }
}
