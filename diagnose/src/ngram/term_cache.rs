//! [`TermCache`]: the vocabulary terms of lines already read — in the pipeline the lines are templates,
//! which recur window after window, so each is read into n-grams once (bounded).

use super::features::{LineTerms, NgramFeatures};
use std::collections::HashMap;

/// Terms of lines already read, at most `capacity` of them (emptied when full: the templates of the
/// moment refill it at once).
#[derive(Debug, Clone)]
pub struct TermCache {
    terms: HashMap<String, LineTerms>,
    capacity: usize,
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
        let missing = lines.clone().filter(|l| !self.terms.contains_key(*l)).count();
        if missing == 0 {
            return true;
        }
        if self.terms.len() + missing > self.capacity {
            // Emptied before, never while, a sample's lines are read: they are all there after.
            self.terms.clear();
        }
        if lines.clone().count() > self.capacity {
            return false;
        }
        for line in lines {
            if !self.terms.contains_key(line) {
                self.terms.insert(line.to_owned(), features.terms(line));
            }
        }
        true
    }

    /// The terms of `line`, if cached.
    #[must_use]
    pub fn get(&self, line: &str) -> Option<&LineTerms> {
        self.terms.get(line)
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
