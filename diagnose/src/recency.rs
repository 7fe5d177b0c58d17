//! Per-workload state bounded by recency: when a map of workloads is full, the least recently seen
//! workload is forgotten first (ties broken by workload, so every replica forgets the same one).

use schemas::Target;
use std::collections::HashMap;

/// Forgets the least recently seen workloads of `map` (by `last_seen_ns`) until at most `keep` are left.
pub(crate) fn evict_stalest<T>(
    map: &mut HashMap<Target, T>,
    keep: usize,
    last_seen_ns: impl Fn(&T) -> i64,
) {
    while map.len() > keep {
        let Some(stalest) = map
            .iter()
            .min_by(|a, b| {
                last_seen_ns(a.1)
                    .cmp(&last_seen_ns(b.1))
                    .then_with(|| a.0.cmp(b.0))
            })
            .map(|(target, _)| target.clone())
        else {
            return;
        };
        map.remove(&stalest);
    }
}
