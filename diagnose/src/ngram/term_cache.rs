//! [`TermCache`]: the vocabulary terms of lines already read, and their class probabilities on their own —
//! in the pipeline the lines are templates, which recur window after window, so each is read into n-grams
//! and classified alone once (bounded).

use super::features::{LineTerms, NgramFeatures};
use std::collections::HashMap;

/// Terms of lines already read, at most `capacity` of them (emptied when full: the templates of the
/// moment refill it at once).
#[derive(Debug, Clone)]
pub struct TermCache {
    terms: HashMap<String, Cached>,
    capacity: usize,
}

/// What is known of one line.
#[derive(Debug, Clone)]
struct Cached {
    terms: LineTerms,
    /// Its class probabilities on its own, once asked for.
    alone: Option<Vec<f64>>,
}

impl TermCache {
    /// A cache of at most `capacity` lines.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            terms: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Reads each of `lines` into terms unless it is cached; returns whether all of them are cached now
    /// (not when they are more than the cache holds).
    pub fn fill<'a>(
        &mut self,
        features: &NgramFeatures,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> bool {
        let missing = lines
            .clone()
            .filter(|l| !self.terms.contains_key(*l))
            .count();
        if missing == 0 {
            return true;
        }
        if lines.clone().count() > self.capacity {
            return false;
        }
        if self.terms.len() + missing > self.capacity {
            // Emptied before, never while, a sample's lines are read: they are all there after.
            self.terms.clear();
        }
        for line in lines {
            if !self.terms.contains_key(line) {
                let terms = features.terms(line);
                self.terms
                    .insert(line.to_owned(), Cached { terms, alone: None });
            }
        }
        true
    }

    /// The terms of `line`, if cached.
    #[must_use]
    pub fn get(&self, line: &str) -> Option<&LineTerms> {
        self.terms.get(line).map(|c| &c.terms)
    }

    /// The probabilities of `line` on its own, if cached: computed by `compute` from its terms the first
    /// time.
    pub fn alone(
        &mut self,
        line: &str,
        compute: impl FnOnce(&LineTerms) -> Vec<f64>,
    ) -> Option<&[f64]> {
        let cached = self.terms.get_mut(line)?;
        Some(cached.alone.get_or_insert_with(|| compute(&cached.terms)))
    }

    /// Lines cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}
