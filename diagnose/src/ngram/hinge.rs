//! One-vs-rest linear support vector machines on sparse rows: for each class, the L2-regularised
//! squared hinge loss of "this class against the rest", solved in the dual by coordinate descent — the
//! algorithm and weighting of LIBLINEAR's `L2R_L2LOSS_SVC_DUAL` behind scikit-learn's
//! `LinearSVC(C, class_weight="balanced")`:
//! - a sample of the class weighs `C · n / (k · n_class)`, every other sample `C`;
//! - the intercept is a constant feature of value 1, regularised with the rest;
//! - with two classes there are still two machines (LIBLINEAR trains one, each class at its own weighted
//!   `C`), so a two-class fit is not scikit-learn's;
//! - a class's score is its margin `x · w + b`, so the classes' scores form the same `x · W + b` as the
//!   logistic model's, served and calibrated alike (softmax at a fitted temperature).

use super::features::SparseRow;
use super::softmax::{FitReport, SoftmaxRegression, balanced_class_weights};

/// Sweeps over the samples at most, per class.
const MAX_SWEEPS: usize = 1000;

/// Stop once the projected gradients' spread over a sweep is below this.
const TOLERANCE: f64 = 1e-4;

/// The samples' order within a sweep, shuffled each sweep by a fixed generator (xorshift64*), so a fit is
/// reproducible.
struct Order {
    index: Vec<usize>,
    state: u64,
}

impl Order {
    fn new(n: usize) -> Self {
        Self {
            index: (0..n).collect(),
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn shuffled(&mut self) -> &[usize] {
        for i in (1..self.index.len()).rev() {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let draw = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let j = (draw % (i as u64 + 1)) as usize;
            self.index.swap(i, j);
        }
        &self.index
    }
}

/// `w · x` with the bias feature (the last element of `w`).
fn margin(w: &[f64], row: &SparseRow) -> f64 {
    let bias = w.last().copied().unwrap_or(0.0);
    row.indices
        .iter()
        .zip(&row.values)
        .map(|(&j, &v)| w[j as usize] * f64::from(v))
        .sum::<f64>()
        + bias
}

/// One binary problem: `sign[i]` is +1 when sample `i` is of the class, −1 otherwise; `cost[i]` is its
/// `C`. Returns the weights (features, then the bias), the sweeps run and whether the tolerance was met.
fn fit_binary(x: &[SparseRow], sign: &[f64], cost: &[f64], dims: usize) -> (Vec<f64>, usize, bool) {
    let diagonal: Vec<f64> = cost.iter().map(|c| 0.5 / c).collect();
    let curvature: Vec<f64> = x
        .iter()
        .zip(&diagonal)
        .map(|(row, d)| {
            row.values
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                + 1.0
                + d
        })
        .collect();
    let mut w = vec![0.0; dims + 1];
    let mut alpha = vec![0.0; x.len()];
    let mut order = Order::new(x.len());
    for sweep in 0..MAX_SWEEPS {
        let (mut largest, mut smallest) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in order.shuffled() {
            let gradient = sign[i] * margin(&w, &x[i]) - 1.0 + alpha[i] * diagonal[i];
            let projected = if alpha[i] > 0.0 {
                gradient
            } else {
                gradient.min(0.0)
            };
            largest = largest.max(projected);
            smallest = smallest.min(projected);
            if projected.abs() > 1e-12 {
                let before = alpha[i];
                alpha[i] = (alpha[i] - gradient / curvature[i]).max(0.0);
                let step = (alpha[i] - before) * sign[i];
                for (&j, &v) in x[i].indices.iter().zip(&x[i].values) {
                    w[j as usize] += step * f64::from(v);
                }
                w[dims] += step;
            }
        }
        if largest - smallest <= TOLERANCE {
            return (w, sweep + 1, true);
        }
    }
    (w, MAX_SWEEPS, false)
}

/// Fits one machine per class to rows `x` with class indices `y` (< `classes`) over `dims` features;
/// `c` is the inverse regularisation strength. The result scores like a logistic model.
#[must_use]
pub fn fit_one_vs_rest(
    x: &[SparseRow],
    y: &[usize],
    classes: usize,
    dims: usize,
    c: f64,
) -> (SoftmaxRegression, FitReport) {
    if classes == 0 {
        let report = FitReport {
            iterations: 0,
            converged: true,
            objective: 0.0,
        };
        return (SoftmaxRegression::empty(), report);
    }
    let balanced = balanced_class_weights(y, classes);
    let mut weights = vec![0f32; dims * classes];
    let mut bias = vec![0f32; classes];
    let (mut sweeps, mut converged, mut objective) = (0, true, 0.0);
    for class in 0..classes {
        let sign: Vec<f64> = y
            .iter()
            .map(|&k| if k == class { 1.0 } else { -1.0 })
            .collect();
        let cost: Vec<f64> = sign
            .iter()
            .map(|s| if *s > 0.0 { c * balanced[class] } else { c })
            .collect();
        let (w, ran, met) = fit_binary(x, &sign, &cost, dims);
        sweeps = sweeps.max(ran);
        converged &= met;
        let loss: f64 = x
            .iter()
            .zip(&sign)
            .zip(&cost)
            .map(|((row, s), c)| c * (1.0 - s * margin(&w, row)).max(0.0).powi(2))
            .sum();
        objective += 0.5 * w.iter().map(|v| v * v).sum::<f64>() + loss;
        for (feature, value) in w[..dims].iter().enumerate() {
            weights[feature * classes + class] = *value as f32;
        }
        bias[class] = w[dims] as f32;
    }
    let model = SoftmaxRegression::from_parts(weights, bias)
        .unwrap_or_else(|| unreachable!("dims × classes weights and one bias per class"));
    let report = FitReport {
        iterations: sweeps,
        converged,
        objective,
    };
    (model, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_gets_its_margin_and_the_optimum_is_reached() {
        let (x, y) = super::super::three_classes();
        let (model, report) = fit_one_vs_rest(&x, &y, 3, 3, 10.0);
        assert!(report.converged, "{report:?}");
        for (r, &label) in x.iter().zip(&y) {
            let scores = model.scores(r);
            let best = (0..3).max_by(|a, b| scores[*a].total_cmp(&scores[*b]));
            assert_eq!(best, Some(label), "{scores:?}");
            // Near-separable with a large C: the true class's margin is close to +1 or above.
            assert!(scores[label] > 0.5, "{scores:?}");
        }
        // The dual optimum is the primal one: for each class, the gradient of its primal objective
        // `½‖w‖² + Σ C_i max(0, 1 − y_i (w·x_i + b))²` vanishes at the weights found (the bias included).
        let (weights, bias) = model.parts();
        let balanced = balanced_class_weights(&y, 3);
        for class in 0..3 {
            let mut w: Vec<f64> = (0..3).map(|j| f64::from(weights[j * 3 + class])).collect();
            w.push(f64::from(bias[class]));
            let mut gradient = w.clone();
            for (r, &k) in x.iter().zip(&y) {
                let (sign, cost) = if k == class {
                    (1.0, 10.0 * balanced[class])
                } else {
                    (-1.0, 10.0)
                };
                let slack = (1.0 - sign * margin(&w, r)).max(0.0);
                for (&j, &v) in r.indices.iter().zip(&r.values) {
                    gradient[j as usize] -= 2.0 * cost * slack * sign * f64::from(v);
                }
                gradient[3] -= 2.0 * cost * slack * sign;
            }
            let largest = gradient.iter().fold(0f64, |m, g| m.max(g.abs()));
            // The dual stops at a projected-gradient spread of 1e-4, so the primal gradient is of order
            // 2·C·1e-4 per sample (a solver stopped well short of the optimum is off by 0.1 or more).
            assert!(largest < 1e-2, "class {class}: gradient {gradient:?}");
        }
        // Nothing labelled: an empty model, not a panic.
        let (empty, none) = fit_one_vs_rest(&[], &[], 0, 0, 10.0);
        assert_eq!((empty.classes(), none.converged), (0, true));
        let (weak, _) = fit_one_vs_rest(&x, &y, 3, 3, 0.01);
        assert!(weak.scores(&x[0])[0] < model.scores(&x[0])[0]);
    }
}
