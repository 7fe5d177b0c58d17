//! One BERT encoder layer written with differentiable tensor operations only.
//!
//! candle's BERT runs layer norm and softmax as fused kernels that have no backward pass: gradients stop at
//! them silently, so an encoder built from it cannot be fine-tuned (only what sits above it learns). This
//! layer computes the same function (same weight names, so it loads the base model's layers) from
//! primitive operations that all have gradients.

use candle_core::{D, Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder, linear};
use candle_transformers::models::bert::Config;

/// Additive attention-mask value for padding: large enough to zero the softmax, small enough that its
/// gradient stays finite.
pub const MASKED: f64 = -10_000.0;

/// Layer norm weights.
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(variance + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// A BERT layer: self-attention and a feed-forward block, each with a residual connection and layer norm.
pub struct TrainableLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
    heads: usize,
}

impl TrainableLayer {
    /// Builds the layer from `vb` under BERT's names (`attention.self.query`, …, `output.LayerNorm`).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let attention = vb.pp("attention");
        let own = attention.pp("self");
        Ok(Self {
            query: linear(hidden, hidden, own.pp("query"))?,
            key: linear(hidden, hidden, own.pp("key"))?,
            value: linear(hidden, hidden, own.pp("value"))?,
            attention_output: linear(hidden, hidden, attention.pp("output").pp("dense"))?,
            attention_norm: Norm::load(
                attention.pp("output").pp("LayerNorm"),
                hidden,
                config.layer_norm_eps,
            )?,
            intermediate: linear(hidden, inner, vb.pp("intermediate").pp("dense"))?,
            output: linear(inner, hidden, vb.pp("output").pp("dense"))?,
            output_norm: Norm::load(
                vb.pp("output").pp("LayerNorm"),
                hidden,
                config.layer_norm_eps,
            )?,
            heads: config.num_attention_heads,
        })
    }

    /// `x`: `[batch, tokens, hidden]`; `mask`: additive, `[batch, 1, 1, tokens]`.
    pub fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens, hidden) = x.dims3()?;
        let head_dim = hidden / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((batch, tokens, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores =
            (q.matmul(&k.t()?.contiguous()?)? / (head_dim as f64).sqrt())?.broadcast_add(mask)?;
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, tokens, hidden))?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_output.forward(&context)? + x)?)?;
        let inner = self.intermediate.forward(&attended)?.gelu_erf()?;
        self.output_norm
            .forward(&(self.output.forward(&inner)? + attended)?)
    }
}
