//! Limited-memory BFGS with a backtracking (Armijo) line search — simpler than scipy's Wolfe line search
//! behind scikit-learn's `lbfgs` solver, enough for the n-gram model's smooth convex objective (the
//! curvature pair of a step is kept only when positive).

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    /// Iterations at most.
    pub max_iterations: usize,
    /// Stop once every gradient component is below this in magnitude.
    pub gradient_tolerance: f64,
}

/// What the optimiser reached.
#[derive(Debug, Clone)]
pub struct Minimum {
    /// The parameters.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the gradient tolerance was met (not the iteration limit or a failed line search).
    pub converged: bool,
}

/// Past steps kept for the curvature estimate.
const MEMORY: usize = 10;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `objective` from `x`. `objective(x, gradient)` returns the value at `x` and writes the
/// gradient.
pub fn minimize(
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut x: Vec<f64>,
    stop: Stop,
) -> Minimum {
    let n = x.len();
    let mut gradient = vec![0.0; n];
    let mut value = objective(&x, &mut gradient);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(MEMORY);
    let (mut trial, mut trial_gradient) = (vec![0.0; n], vec![0.0; n]);
    for iteration in 0..stop.max_iterations {
        let largest = gradient.iter().fold(0f64, |m, g| m.max(g.abs()));
        if largest < stop.gradient_tolerance {
            return Minimum {
                x,
                value,
                iterations: iteration,
                converged: true,
            };
        }
        // The two-loop recursion: direction = −H·g.
        let mut direction: Vec<f64> = gradient.iter().map(|g| -g).collect();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let alpha = rho * dot(s, &direction);
            direction
                .iter_mut()
                .zip(y)
                .for_each(|(d, y)| *d -= alpha * y);
            alphas.push(alpha);
        }
        let scale = history
            .back()
            .map_or(1.0 / largest.max(1.0), |(s, y, _)| dot(s, y) / dot(y, y));
        direction.iter_mut().for_each(|d| *d *= scale);
        for ((s, y, rho), alpha) in history.iter().zip(alphas.into_iter().rev()) {
            let beta = rho * dot(y, &direction);
            direction
                .iter_mut()
                .zip(s)
                .for_each(|(d, s)| *d += (alpha - beta) * s);
        }
        let mut slope = dot(&gradient, &direction);
        if slope >= 0.0 {
            // Not a descent direction (curvature estimate gone stale): steepest descent instead.
            history.clear();
            direction = gradient.iter().map(|g| -g / largest.max(1.0)).collect();
            slope = dot(&gradient, &direction);
        }
        let mut step = 1.0;
        let accepted = loop {
            trial
                .iter_mut()
                .zip(&x)
                .zip(&direction)
                .for_each(|((t, x), d)| *t = x + step * d);
            let trial_value = objective(&trial, &mut trial_gradient);
            if trial_value <= value + 1e-4 * step * slope {
                break Some(trial_value);
            }
            step *= 0.5;
            if step < 1e-12 {
                break None;
            }
        };
        let Some(trial_value) = accepted else {
            return Minimum {
                x,
                value,
                iterations: iteration,
                converged: false,
            };
        };
        let s: Vec<f64> = trial.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let curvature = dot(&s, &y);
        if curvature > 1e-10 {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / curvature));
        }
        std::mem::swap(&mut x, &mut trial);
        std::mem::swap(&mut gradient, &mut trial_gradient);
        value = trial_value;
    }
    Minimum {
        x,
        value,
        iterations: stop.max_iterations,
        converged: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic_and_rosenbrock() {
        let stop = Stop {
            max_iterations: 500,
            gradient_tolerance: 1e-8,
        };
        let quadratic = minimize(
            |x, g| {
                g[0] = 2.0 * (x[0] - 3.0);
                g[1] = 200.0 * (x[1] + 1.0);
                (x[0] - 3.0).powi(2) + 100.0 * (x[1] + 1.0).powi(2)
            },
            vec![0.0, 0.0],
            stop,
        );
        assert!(quadratic.converged);
        assert!((quadratic.x[0] - 3.0).abs() < 1e-6 && (quadratic.x[1] + 1.0).abs() < 1e-6);
        let rosenbrock = minimize(
            |x, g| {
                let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
                g[0] = -2.0 * a - 400.0 * x[0] * b;
                g[1] = 200.0 * b;
                a * a + 100.0 * b * b
            },
            vec![-1.2, 1.0],
            stop,
        );
        assert!(rosenbrock.converged, "{rosenbrock:?}");
        assert!((rosenbrock.x[0] - 1.0).abs() < 1e-4 && (rosenbrock.x[1] - 1.0).abs() < 1e-4);
    }
}
