//! Classification scores: per-class precision, recall and F1, macro-F1 and accuracy.

use schemas::FaultClass;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    /// Of the samples predicted as the class, the share that are.
    pub precision: f64,
    /// Of the samples of the class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Samples of the class.
    pub support: usize,
}

/// Scores of a classifier on a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Per class, for every class that occurs in the truth or the predictions.
    pub per_class: BTreeMap<FaultClass, ClassScores>,
    /// Unweighted mean of the per-class F1 (the classes of `per_class`).
    pub macro_f1: f64,
    /// Share of samples predicted correctly.
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
}

impl Scores {
    /// Scores `predicted` against `truth` (same length and order).
    #[must_use]
    pub fn new(truth: &[FaultClass], predicted: &[FaultClass]) -> Self {
        assert_eq!(truth.len(), predicted.len(), "one prediction per sample");
        let classes: BTreeSet<FaultClass> = truth.iter().chain(predicted).copied().collect();
        let per_class: BTreeMap<FaultClass, ClassScores> = classes
            .into_iter()
            .map(|class| {
                let pairs = truth.iter().zip(predicted);
                let tp = pairs
                    .clone()
                    .filter(|(t, p)| **t == class && **p == class)
                    .count();
                let predicted_n = predicted.iter().filter(|p| **p == class).count();
                let support = truth.iter().filter(|t| **t == class).count();
                let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                let (precision, recall) = (ratio(tp, predicted_n), ratio(tp, support));
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                (
                    class,
                    ClassScores {
                        precision,
                        recall,
                        f1,
                        support,
                    },
                )
            })
            .collect();
        let macro_f1 = if per_class.is_empty() {
            0.0
        } else {
            per_class.values().map(|s| s.f1).sum::<f64>() / per_class.len() as f64
        };
        let correct = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
        Self {
            per_class,
            macro_f1,
            accuracy: if truth.is_empty() {
                0.0
            } else {
                correct as f64 / truth.len() as f64
            },
            samples: truth.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FaultClass::{Network as N, Normal as O, Oom as M};

    #[test]
    fn hand_computed_scores() {
        let truth = [M, M, N, O];
        let predicted = [M, N, N, N];
        let s = Scores::new(&truth, &predicted);
        // oom: P 1, R 0.5, F1 2/3; network: P 1/3, R 1, F1 0.5; normal: 0.
        assert!((s.per_class[&M].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.per_class[&N].precision - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_class[&O].f1, 0.0);
        assert!((s.macro_f1 - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12);
        assert_eq!(s.accuracy, 0.5);
    }
}
