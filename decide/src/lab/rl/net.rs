//! [`Mlp`]: the small tanh network both learners train (candle); [`Mlp::to_plain`] copies its weights into
//! a [`PlainMlp`] for acting (rollouts, actor threads) without candle.

use crate::net::PlainLayer;
pub use crate::net::PlainMlp;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use schemas::rng::Rng;

/// A multi-layer perceptron: linear layers with tanh between them.
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Layers of `sizes` (input, hidden…, output) under prefix `name` in `varmap`, initialised from `rng`
    /// (uniform ±1/√fan-in; the output layer scaled by `out_scale`).
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(
        varmap: &VarMap,
        name: &str,
        sizes: &[usize],
        rng: &mut Rng,
        out_scale: f32,
    ) -> candle_core::Result<Self> {
        let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
        let mut layers = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            let layer = candle_nn::linear(pair[0], pair[1], vb.pp(name).pp(i.to_string()))?;
            let bound = 1.0 / (pair[0] as f32).sqrt();
            let scale = if i + 2 == sizes.len() { out_scale } else { 1.0 };
            let values: Vec<f32> = (0..pair[0] * pair[1])
                .map(|_| (rng.unit() as f32 * 2.0 - 1.0) * bound * scale)
                .collect();
            let vars = varmap
                .data()
                .lock()
                .map_err(|_| candle_core::Error::Msg("varmap poisoned".into()))?;
            if let Some(w) = vars.get(&format!("{name}.{i}.weight")) {
                w.set(&Tensor::from_vec(values, (pair[1], pair[0]), &Device::Cpu)?)?;
            }
            if let Some(b) = vars.get(&format!("{name}.{i}.bias")) {
                b.set(&Tensor::zeros(pair[1], DType::F32, &Device::Cpu)?)?;
            }
            layers.push(layer);
        }
        Ok(Self { layers })
    }

    /// Forward pass on a `(batch, input)` tensor.
    ///
    /// # Errors
    /// Candle errors (shape mismatch).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = h.tanh()?;
            }
        }
        Ok(h)
    }

    /// A candle-free copy of the current weights.
    ///
    /// # Errors
    /// Candle errors.
    pub fn to_plain(&self) -> candle_core::Result<PlainMlp> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                let (out, inp) = l.weight().dims2()?;
                let w = l.weight().flatten_all()?.to_vec1::<f32>()?;
                let b = match l.bias() {
                    Some(b) => b.to_vec1::<f32>()?,
                    None => vec![0.0; out],
                };
                Ok(PlainLayer { w, b, inp, out })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(PlainMlp { layers })
    }
}

/// Adam (candle's AdamW without weight decay) over every variable of `varmap`.
///
/// # Errors
/// Candle errors.
pub fn adam(varmap: &VarMap, lr: f64) -> candle_core::Result<AdamW> {
    AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )
}

/// Stacks rows into a `(rows, width)` tensor.
///
/// # Errors
/// Candle errors.
pub fn rows_tensor(rows: &[Vec<f32>], width: usize) -> candle_core::Result<Tensor> {
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_vec(flat, (rows.len(), width), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_copy_matches_candle() {
        let varmap = VarMap::new();
        let mut rng = Rng::new(3);
        let mlp = Mlp::new(&varmap, "q", &[5, 8, 3], &mut rng, 1.0).expect("builds");
        let x = vec![0.1f32, -0.4, 0.9, 0.0, 2.0];
        let candle = mlp
            .forward(&rows_tensor(std::slice::from_ref(&x), 5).expect("tensor"))
            .expect("forward")
            .flatten_all()
            .expect("flat")
            .to_vec1::<f32>()
            .expect("vec");
        let plain = mlp.to_plain().expect("plain").forward(&x);
        for (a, b) in candle.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-5, "{candle:?} vs {plain:?}");
        }
    }
}
