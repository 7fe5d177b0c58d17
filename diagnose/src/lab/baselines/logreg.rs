//! Multinomial logistic regression on dense features (full-batch AdamW with weight decay), shared by the
//! TF-IDF and frozen-embedding baselines.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

/// Optimisation steps.
const STEPS: usize = 300;

/// A fitted model: `argmax(x · W + b)`.
pub struct LogisticRegression {
    weights: Tensor,
    bias: Tensor,
}

impl LogisticRegression {
    /// Fits on rows `x` (`[n, d]`) with class indices `y` (< `classes`), classes weighted by inverse
    /// frequency.
    pub fn fit(x: &Tensor, y: &[usize], classes: usize, weight_decay: f64) -> Result<Self> {
        let (_, dims) = x.dims2()?;
        let w = Var::zeros((dims, classes), DType::F32, &Device::Cpu)?;
        let b = Var::zeros(classes, DType::F32, &Device::Cpu)?;
        let mut opt = AdamW::new(
            vec![w.clone(), b.clone()],
            ParamsAdamW {
                lr: 0.05,
                weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let mut counts = vec![0f32; classes];
        for &c in y {
            counts[c] += 1.0;
        }
        let sample_weights: Vec<f32> = y
            .iter()
            .map(|&c| y.len() as f32 / (classes as f32 * counts[c]))
            .collect();
        let total: f32 = sample_weights.iter().sum();
        let sample_weights = Tensor::from_vec(sample_weights, y.len(), &Device::Cpu)?;
        let index = Tensor::from_vec(
            y.iter().map(|&c| c as u32).collect::<Vec<_>>(),
            (y.len(), 1),
            &Device::Cpu,
        )?;
        for _ in 0..STEPS {
            let logits = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            let log_probs = candle_nn::ops::log_softmax(&logits, 1)?;
            let picked = log_probs.gather(&index, 1)?.squeeze(1)?;
            let loss = (picked * &sample_weights)?
                .sum_all()?
                .affine(-1.0 / f64::from(total), 0.0)?;
            opt.backward_step(&loss)?;
        }
        Ok(Self {
            weights: w.as_tensor().detach(),
            bias: b.as_tensor().detach(),
        })
    }

    /// Class index of each row.
    pub fn predict(&self, x: &Tensor) -> Result<Vec<usize>> {
        let logits = x.matmul(&self.weights)?.broadcast_add(&self.bias)?;
        Ok(logits
            .argmax(1)?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|c| c as usize)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_separable_classes() {
        let x = Tensor::new(
            &[[1f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.8]],
            &Device::Cpu,
        )
        .expect("x");
        let model = LogisticRegression::fit(&x, &[0, 0, 1, 1], 2, 0.0).expect("fit");
        assert_eq!(model.predict(&x).expect("predict"), [0, 0, 1, 1]);
    }
}
