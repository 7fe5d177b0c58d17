//! The trainable network: upper encoder layers, the evidence summary, and the classification head.

use super::condense::{Condensed, SEQUENCE_FEATURES, sequence_features};
use super::encoder::UpperEncoder;
use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder, linear};
use candle_transformers::models::bert::Config;
use std::collections::HashMap;

/// Width of the head's hidden layer.
pub const HEAD_HIDDEN: usize = 256;

/// How one sample draws on the batch's distinct texts.
#[derive(Debug, Clone)]
pub struct SampleRows {
    /// Row of each of the sample's texts in the batch's pooled matrix.
    pub rows: Vec<u32>,
    /// Weight of each text in the sample's mean: `ln(1 + count)`, normalised to sum to 1.
    pub weights: Vec<f32>,
    /// Weight of each text in the tail mean: its count in the tail, normalised.
    pub tail: Vec<f32>,
    /// The sequence features.
    pub sequence: [f32; SEQUENCE_FEATURES],
}

impl SampleRows {
    /// Describes `sample` whose texts sit at `rows` of the pooled matrix.
    #[must_use]
    pub fn new(sample: &Condensed, rows: Vec<u32>) -> Self {
        let weights = normalised(sample.counts.iter().map(|&c| (c as f32).ln_1p()));
        let tail = normalised(sample.tail_counts.iter().map(|&c| c as f32));
        Self {
            rows,
            weights,
            tail,
            sequence: sequence_features(sample),
        }
    }
}

/// The distinct texts of `samples` in order of first appearance, and each sample's rows among them: one
/// embedding per distinct text serves every sample of a batch that contains it.
#[must_use]
pub fn distinct_rows<'a>(samples: &[&'a Condensed]) -> (Vec<&'a str>, Vec<SampleRows>) {
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut distinct = Vec::new();
    let rows = samples
        .iter()
        .map(|sample| {
            let rows = sample
                .texts
                .iter()
                .map(|text| {
                    *index.entry(text.as_str()).or_insert_with(|| {
                        distinct.push(text.as_str());
                        distinct.len() as u32 - 1
                    })
                })
                .collect();
            SampleRows::new(sample, rows)
        })
        .collect();
    (distinct, rows)
}

fn normalised(values: impl Iterator<Item = f32>) -> Vec<f32> {
    let values: Vec<f32> = values.collect();
    let sum: f32 = values.iter().sum();
    if sum <= 0.0 {
        return vec![0.0; values.len()];
    }
    values.into_iter().map(|v| v / sum).collect()
}

/// `[b, 3 × hidden + SEQUENCE_FEATURES]`: weighted mean, tail mean and max of each sample's text vectors,
/// and its sequence features.
pub fn summarise(pooled: &Tensor, samples: &[SampleRows]) -> Result<Tensor> {
    let (distinct, _) = pooled.dims2()?;
    let device = pooled.device();
    let mut mean = vec![0f32; samples.len() * distinct];
    let mut tail = vec![0f32; samples.len() * distinct];
    let mut sequence = Vec::with_capacity(samples.len() * SEQUENCE_FEATURES);
    let mut maxima = Vec::with_capacity(samples.len());
    for (s, sample) in samples.iter().enumerate() {
        for (k, &row) in sample.rows.iter().enumerate() {
            mean[s * distinct + row as usize] += sample.weights[k];
            tail[s * distinct + row as usize] += sample.tail[k];
        }
        sequence.extend_from_slice(&sample.sequence);
        let rows = Tensor::new(sample.rows.as_slice(), device)?;
        maxima.push(pooled.index_select(&rows, 0)?.max(0)?);
    }
    let mean = Tensor::from_vec(mean, (samples.len(), distinct), device)?.matmul(pooled)?;
    let tail = Tensor::from_vec(tail, (samples.len(), distinct), device)?.matmul(pooled)?;
    let sequence = Tensor::from_vec(sequence, (samples.len(), SEQUENCE_FEATURES), device)?;
    Tensor::cat(&[mean, tail, Tensor::stack(&maxima, 0)?, sequence], 1)
}

/// Upper encoder layers + head. Variables live under `upper.` and `head.`.
pub struct Network {
    /// The fine-tuned upper encoder layers.
    pub upper: UpperEncoder,
    /// Scores each text for attention pooling: the few lines that matter in a long window get the weight.
    attention: Linear,
    hidden: Linear,
    out: Linear,
}

impl Network {
    /// Builds the network; `vb` provides (or creates) its variables.
    pub fn new(
        vb: &VarBuilder,
        config: &Config,
        upper_layers: usize,
        classes: usize,
    ) -> Result<Self> {
        let width = 4 * config.hidden_size + SEQUENCE_FEATURES;
        Ok(Self {
            upper: UpperEncoder::new(vb.pp("upper"), config, upper_layers)?,
            attention: linear(config.hidden_size, 1, vb.pp("head.attention"))?,
            hidden: linear(width, HEAD_HIDDEN, vb.pp("head.hidden"))?,
            out: linear(HEAD_HIDDEN, classes, vb.pp("head.out"))?,
        })
    }

    /// The head's input: [`summarise`] plus each sample's attention-pooled text vector (softmax over its
    /// texts of a learned score, each text's score raised by the log of its weight).
    pub fn summary(&self, pooled: &Tensor, samples: &[SampleRows]) -> Result<Tensor> {
        let scores = self.attention.forward(pooled)?.squeeze(1)?;
        let mut attended = Vec::with_capacity(samples.len());
        for sample in samples {
            let rows = Tensor::new(sample.rows.as_slice(), pooled.device())?;
            let prior: Vec<f32> = sample.weights.iter().map(|w| w.max(1e-6).ln()).collect();
            let prior = Tensor::from_vec(prior, sample.rows.len(), pooled.device())?;
            // `softmax`, not the fused `softmax_last_dim`: the fused kernel has no gradient.
            let weights = candle_nn::ops::softmax(&(scores.index_select(&rows, 0)? + prior)?, 0)?;
            attended.push(
                weights
                    .unsqueeze(0)?
                    .matmul(&pooled.index_select(&rows, 0)?)?
                    .squeeze(0)?,
            );
        }
        Tensor::cat(
            &[summarise(pooled, samples)?, Tensor::stack(&attended, 0)?],
            1,
        )
    }

    /// Class logits from summaries (see [`Network::summary`]); `dropout` only while training.
    pub fn head(&self, summary: &Tensor, dropout: f32) -> Result<Tensor> {
        let x = if dropout > 0.0 {
            candle_nn::ops::dropout(summary, dropout)?
        } else {
            summary.clone()
        };
        let x = self.hidden.forward(&x)?.relu()?;
        self.out.forward(&x)
    }

    /// Class logits for samples over lower states: runs the upper layers on the distinct texts, summarises
    /// and classifies (training; serving goes through the classifier's cache).
    #[cfg(feature = "lab")]
    pub fn logits(
        &self,
        lower: &[&Tensor],
        samples: &[SampleRows],
        dropout: f32,
    ) -> Result<Tensor> {
        let pooled = self.upper.pooled(lower)?;
        self.head(&self.summary(&pooled, samples)?, dropout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn summary_is_weighted_mean_tail_max_and_sequence() {
        let pooled = Tensor::new(&[[1f32, 0.0], [3.0, 4.0]], &Device::Cpu).expect("tensor");
        let sample = Condensed {
            texts: vec!["a".into(), "b".into()],
            counts: vec![1, 1],
            tail_counts: vec![0, 1],
            lines: 2,
        };
        let rows = SampleRows::new(&sample, vec![0, 1]);
        let s = summarise(&pooled, &[rows]).expect("summary");
        let v: Vec<f32> = s.flatten_all().expect("flat").to_vec1().expect("vec");
        assert_eq!(&v[..6], &[2.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
        assert!((v[6] - 2f32.ln_1p()).abs() < 1e-6);
    }
}
