//! [`PlainMlp`]: a trained policy network (linear layers, tanh between them) as plain vectors — what the
//! decide stage serves and the learners act with; a forward pass of a 24→64→64→10 network is a few
//! microseconds. [`PlainMlp::from_safetensors`] reads the weights `medic train policy` saved, without
//! candle.

use safetensors::{Dtype, SafeTensors};

/// One linear layer: `out × inp` weights (row-major) and `out` biases.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlainLayer {
    pub(crate) w: Vec<f32>,
    pub(crate) b: Vec<f32>,
    pub(crate) inp: usize,
    pub(crate) out: usize,
}

/// A trained network's weights as plain vectors, for acting without candle.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainMlp {
    pub(crate) layers: Vec<PlainLayer>,
}

impl PlainMlp {
    /// Forward pass on one input.
    #[must_use]
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut h = x.to_vec();
        for (i, l) in self.layers.iter().enumerate() {
            let mut next = l.b.clone();
            for (o, value) in next.iter_mut().enumerate() {
                let row = &l.w[o * l.inp..(o + 1) * l.inp];
                *value += row.iter().zip(&h).map(|(w, x)| w * x).sum::<f32>();
            }
            if i + 1 < self.layers.len() {
                for v in &mut next {
                    *v = v.tanh();
                }
            }
            h = next;
        }
        h
    }

    /// Output size.
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.out)
    }
}

impl PlainMlp {
    /// The layers `<network>.<i>.weight` / `.bias` of a safetensors file, which must have exactly
    /// `sizes` (input, hidden…, output).
    ///
    /// # Errors
    /// A file that is not safetensors, a missing tensor, or one of another shape or type than f32.
    pub fn from_safetensors(bytes: &[u8], network: &str, sizes: &[usize]) -> Result<Self, String> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| format!("not safetensors: {e}"))?;
        let read = |name: String, shape: &[usize]| -> Result<Vec<f32>, String> {
            let tensor = file
                .tensor(&name)
                .map_err(|e| format!("tensor {name}: {e}"))?;
            if tensor.dtype() != Dtype::F32 || tensor.shape() != shape {
                return Err(format!(
                    "tensor {name} is {:?} {:?}, expected F32 {shape:?}",
                    tensor.dtype(),
                    tensor.shape()
                ));
            }
            Ok(tensor
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let (inp, out) = (pair[0], pair[1]);
                Ok(PlainLayer {
                    w: read(format!("{network}.{i}.weight"), &[out, inp])?,
                    b: read(format!("{network}.{i}.bias"), &[out])?,
                    inp,
                    out,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { layers })
    }
}

/// Softmax over the allowed actions (masked ones get probability 0).
#[must_use]
pub fn masked_softmax(logits: &[f32], mask: &[bool]) -> Vec<f32> {
    let max = logits
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .map(|(l, _)| *l)
        .fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits
        .iter()
        .zip(mask)
        .map(|(l, m)| if *m { (l - max).exp() } else { 0.0 })
        .collect();
    let total: f32 = exp.iter().sum();
    exp.iter()
        .map(|e| e / total.max(f32::MIN_POSITIVE))
        .collect()
}

/// The allowed action with the highest score.
#[must_use]
pub fn masked_argmax(scores: &[f32], mask: &[bool]) -> usize {
    scores
        .iter()
        .zip(mask)
        .enumerate()
        .filter(|(_, (_, m))| **m)
        .max_by(|a, b| a.1.0.total_cmp(b.1.0))
        .map_or(0, |(i, _)| i)
}
