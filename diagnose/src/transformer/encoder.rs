//! The BERT encoder, split in two: frozen lower layers whose outputs are cached per text, and upper layers
//! that are fine-tuned and run on the cached states.
//!
//! Splitting is what makes fine-tuning affordable on a CPU: the lower layers run once per distinct text,
//! only the upper ones run forward and backward every step.

use super::files::BaseModelFiles;
use super::layer::{MASKED, TrainableLayer};
use candle_core::{DType, Device, IndexOp, Result, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::collections::HashMap;
use tokenizers::{Tokenizer, TruncationParams};

/// Texts encoded by the lower layers per forward pass.
const LOWER_BATCH: usize = 32;

/// Loads the base model's tensors (all of them, in memory: the workspace forbids `unsafe`, so no mmap).
pub fn load_base_tensors(files: &BaseModelFiles) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(files.weights(), &Device::Cpu)
}

/// Reads the base model's BERT configuration.
pub fn load_base_config(files: &BaseModelFiles) -> Result<Config> {
    let text = std::fs::read_to_string(files.config())?;
    serde_json::from_str(&text).map_err(candle_core::Error::wrap)
}

/// The frozen part: tokenizer, embeddings and the lower layers.
pub struct LowerEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl LowerEncoder {
    /// Builds the embeddings and the first `layers` layers from the base tensors.
    pub fn new(
        files: &BaseModelFiles,
        tensors: &HashMap<String, Tensor>,
        config: &Config,
        layers: usize,
        max_tokens: usize,
    ) -> Result<Self> {
        let mut tokenizer =
            Tokenizer::from_file(files.tokenizer()).map_err(candle_core::Error::wrap)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(candle_core::Error::wrap)?;
        tokenizer.with_padding(None);
        let config = Config {
            num_hidden_layers: layers,
            ..config.clone()
        };
        let device = Device::Cpu;
        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &device);
        let model = BertModel::load(vb, &config)?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// Token ids of one text (with `[CLS]`/`[SEP]`, truncated).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(candle_core::Error::wrap)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The lower layers' output for each text, `[tokens, hidden]`, unpadded. Texts are batched by length so
    /// padding stays small.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Tensor>> {
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out: Vec<Option<Tensor>> = vec![None; ids.len()];
        for chunk in order.chunks(LOWER_BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, states) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = Some(states);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// As [`LowerEncoder::encode`], but all texts in one forward pass padded to the longest, in the
    /// given order: what a straightforward implementation does (the benchmark's baseline).
    pub fn encode_padded(&self, texts: &[&str]) -> Result<Vec<Tensor>> {
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<_>>()?;
        self.forward(&ids.iter().map(Vec::as_slice).collect::<Vec<_>>())
    }

    /// One forward pass over token id sequences padded to the longest; each output trimmed to its length.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Tensor>> {
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(1);
        let mut flat = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for ids in batch {
            flat.extend(ids.iter().copied());
            flat.extend(std::iter::repeat_n(0, width - ids.len()));
            mask.extend(std::iter::repeat_n(1u32, ids.len()));
            mask.extend(std::iter::repeat_n(0u32, width - ids.len()));
        }
        let input = Tensor::from_vec(flat, (batch.len(), width), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch.len(), width), &self.device)?;
        let types = input.zeros_like()?;
        let states = self.model.forward(&input, &types, Some(&mask))?;
        batch
            .iter()
            .enumerate()
            .map(|(row, ids)| states.i((row, ..ids.len(), ..))?.contiguous())
            .collect()
    }
}

/// The upper layers (possibly none) and mean pooling: cached lower states in, one vector per text out.
pub struct UpperEncoder {
    layers: Vec<TrainableLayer>,
}

impl UpperEncoder {
    /// Builds `layers` layers numbered from `first` in the base model, reading their weights through `vb`
    /// under the names `layer.{0..layers}`.
    pub fn new(vb: VarBuilder, config: &Config, layers: usize) -> Result<Self> {
        Ok(Self {
            layers: (0..layers)
                .map(|i| TrainableLayer::load(vb.pp(format!("layer.{i}")), config))
                .collect::<Result<_>>()?,
        })
    }

    /// Mean-pooled embeddings `[n, hidden]` of the texts whose lower states are given.
    pub fn pooled(&self, lower: &[&Tensor]) -> Result<Tensor> {
        let device = lower.first().map_or(Device::Cpu, |t| t.device().clone());
        let lengths: Vec<usize> = lower.iter().map(|t| t.dim(0)).collect::<Result<_>>()?;
        let width = lengths.iter().copied().max().unwrap_or(1);
        let mut padded = Vec::with_capacity(lower.len());
        let mut mask = Vec::with_capacity(lower.len() * width);
        for (states, &len) in lower.iter().zip(&lengths) {
            padded.push(states.pad_with_zeros(0, 0, width - len)?);
            mask.extend(std::iter::repeat_n(1f32, len));
            mask.extend(std::iter::repeat_n(0f32, width - len));
        }
        let states = Tensor::stack(&padded, 0)?;
        let mask = Tensor::from_vec(mask, (lower.len(), width), &device)?;
        let mut states = states;
        if !self.layers.is_empty() {
            let additive = extended_mask(&mask)?;
            for layer in &self.layers {
                states = layer.forward(&states, &additive)?;
            }
        }
        let summed = states.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        summed.broadcast_div(&mask.sum_keepdim(1)?)
    }
}

/// `[b, 1, 1, t]` additive attention mask: 0 for tokens, [`MASKED`] for padding.
fn extended_mask(mask: &Tensor) -> Result<Tensor> {
    let mask = mask.unsqueeze(1)?.unsqueeze(1)?;
    (mask.ones_like()? - &mask)?.affine(MASKED, 0.0)
}

/// Maps the names `layer.{i}.…` of an upper encoder with its first layer at base layer `first` to the base
/// model's `encoder.layer.{first + i}.…` (training starts the upper layers from the base model's).
#[cfg(any(test, feature = "lab"))]
pub fn base_layer_name(name: &str, first: usize) -> String {
    let Some(rest) = name.strip_prefix("layer.") else {
        return name.to_owned();
    };
    let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
    match index.parse::<usize>() {
        Ok(i) => format!("encoder.layer.{}.{tail}", first + i),
        Err(_) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layer_names_map_onto_base_layers() {
        assert_eq!(
            base_layer_name("layer.1.attention.self.query.weight", 4),
            "encoder.layer.5.attention.self.query.weight"
        );
        assert_eq!(base_layer_name("head.w", 4), "head.w");
    }
}
