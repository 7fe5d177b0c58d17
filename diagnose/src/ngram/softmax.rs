//! Multinomial logistic regression on sparse rows: L2-regularised cross-entropy with balanced class
//! weights (each class weighs as much as any other in total), minimised with L-BFGS — scikit-learn's
//! `LogisticRegression(C, class_weight="balanced", solver="lbfgs")`. The intercept is not regularised.

use super::features::SparseRow;
use super::lbfgs::{Stop, minimize};
use serde::Serialize;

/// A fitted model: class scores `x · W + b`.
#[derive(Debug, Clone)]
pub struct SoftmaxRegression {
    classes: usize,
    /// `[features × classes]`, row-major by feature.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// How the fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FitReport {
    /// L-BFGS iterations (logistic), or the most coordinate-descent sweeps one class took (SVMs).
    pub iterations: usize,
    /// Whether the tolerance was met: the gradient's (logistic), every class's projected gradient's
    /// spread (SVMs).
    pub converged: bool,
    /// The objective reached: the mean weighted cross-entropy plus the penalty (logistic), or the sum
    /// over classes of `½‖w‖² + Σ C_i ξ_i²` (SVMs). The two are not on one scale.
    pub objective: f64,
}

/// Each class's "balanced" weight, `n / (classes present · n_class)` (scikit-learn's
/// `class_weight="balanced"`): every class weighs as much as any other in total. A class with no sample
/// gets the weight of a class with one.
#[must_use]
pub fn balanced_class_weights(y: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    y.iter().for_each(|&k| counts[k] += 1);
    let present = counts.iter().filter(|n| **n > 0).count().max(1);
    counts
        .iter()
        .map(|n| y.len() as f64 / (present as f64 * (*n).max(1) as f64))
        .collect()
}

/// `log Σ exp(scores)`, and `scores` turned into probabilities in place.
pub fn softmax_in_place(scores: &mut [f64]) -> f64 {
    let max = scores.iter().fold(f64::NEG_INFINITY, |m, s| m.max(*s));
    let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
    let log_sum = max + sum.ln();
    scores.iter_mut().for_each(|s| *s = (*s - log_sum).exp());
    log_sum
}

impl SoftmaxRegression {
    /// Fits rows `x` with class indices `y` (< `classes`) over `dims` features; `c` is the inverse
    /// regularisation strength.
    #[must_use]
    pub fn fit(
        x: &[SparseRow],
        y: &[usize],
        classes: usize,
        dims: usize,
        c: f64,
    ) -> (Self, FitReport) {
        let balanced = balanced_class_weights(y, classes);
        let sample_weight: Vec<f64> = y.iter().map(|&k| balanced[k]).collect();
        let total: f64 = sample_weight.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let penalty = 1.0 / (c * total);
        let width = dims * classes;
        let mut scores = vec![0.0; classes];
        let objective = |theta: &[f64], gradient: &mut [f64]| -> f64 {
            let (w, b) = theta.split_at(width);
            gradient.iter_mut().for_each(|g| *g = 0.0);
            let mut value = 0.0;
            for ((row, &label), &weight) in x.iter().zip(y).zip(&sample_weight) {
                scores.copy_from_slice(b);
                for (&j, &v) in row.indices.iter().zip(&row.values) {
                    let at = j as usize * classes;
                    for (s, w) in scores.iter_mut().zip(&w[at..at + classes]) {
                        *s += f64::from(v) * w;
                    }
                }
                let true_score = scores[label];
                value += weight * (softmax_in_place(&mut scores) - true_score) / total;
                scores[label] -= 1.0;
                scores.iter_mut().for_each(|s| *s *= weight / total);
                let (gw, gb) = gradient.split_at_mut(width);
                for (&j, &v) in row.indices.iter().zip(&row.values) {
                    let at = j as usize * classes;
                    for (g, s) in gw[at..at + classes].iter_mut().zip(&scores) {
                        *g += f64::from(v) * s;
                    }
                }
                gb.iter_mut().zip(&scores).for_each(|(g, s)| *g += s);
            }
            let (gw, _) = gradient.split_at_mut(width);
            for (g, w) in gw.iter_mut().zip(w) {
                *g += penalty * w;
                value += 0.5 * penalty * w * w;
            }
            value
        };
        let minimum = minimize(
            objective,
            vec![0.0; width + classes],
            Stop {
                max_iterations: 500,
                gradient_tolerance: 1e-6,
            },
        );
        let (w, b) = minimum.x.split_at(width);
        let model = Self {
            classes,
            weights: w.iter().map(|v| *v as f32).collect(),
            bias: b.iter().map(|v| *v as f32).collect(),
        };
        let report = FitReport {
            iterations: minimum.iterations,
            converged: minimum.converged,
            objective: minimum.value,
        };
        (model, report)
    }

    /// The weights (`[features × classes]`, row-major by feature) and the bias.
    #[must_use]
    pub fn parts(&self) -> (&[f32], &[f32]) {
        (&self.weights, &self.bias)
    }

    /// A model with no class (nothing labelled to fit): every row scores nothing.
    pub(super) fn empty() -> Self {
        Self {
            classes: 0,
            weights: Vec::new(),
            bias: Vec::new(),
        }
    }

    /// A model from its weights and bias; `None` unless the weights are a whole number of rows of
    /// `bias.len()` classes.
    #[must_use]
    pub fn from_parts(weights: Vec<f32>, bias: Vec<f32>) -> Option<Self> {
        let classes = bias.len();
        (classes > 0 && weights.len().is_multiple_of(classes)).then_some(Self {
            classes,
            weights,
            bias,
        })
    }

    /// Number of classes.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Number of features.
    #[must_use]
    pub fn features(&self) -> usize {
        self.weights.len() / self.classes.max(1)
    }

    /// Class scores (logits) of one row; features beyond the model's are ignored.
    #[must_use]
    pub fn scores(&self, row: &SparseRow) -> Vec<f64> {
        let mut scores: Vec<f64> = self.bias.iter().map(|b| f64::from(*b)).collect();
        for (&j, &v) in row.indices.iter().zip(&row.values) {
            let at = j as usize * self.classes;
            if let Some(weights) = self.weights.get(at..at + self.classes) {
                for (s, w) in scores.iter_mut().zip(weights) {
                    *s += f64::from(v * w);
                }
            }
        }
        scores
    }

    /// Class probabilities of one row at `temperature` (1 = as fitted).
    #[must_use]
    pub fn probabilities(&self, row: &SparseRow, temperature: f64) -> Vec<f64> {
        let mut scores = self.scores(row);
        scores.iter_mut().for_each(|s| *s /= temperature);
        softmax_in_place(&mut scores);
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_classes_and_regularisation_tempers_confidence() {
        let (x, y) = super::super::three_classes();
        let (strong, report) = SoftmaxRegression::fit(&x, &y, 3, 3, 100.0);
        assert!(report.converged, "{report:?}");
        let predicted: Vec<usize> = x
            .iter()
            .map(|r| {
                let p = strong.probabilities(r, 1.0);
                (0..3).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0)
            })
            .collect();
        assert_eq!(predicted, y);
        let (weak, _) = SoftmaxRegression::fit(&x, &y, 3, 3, 0.01);
        let confidence = |m: &SoftmaxRegression| m.probabilities(&x[0], 1.0)[0];
        assert!(confidence(&strong) > confidence(&weak));
        assert!(confidence(&weak) > 1.0 / 3.0);
        let p = strong.probabilities(&x[2], 1.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
