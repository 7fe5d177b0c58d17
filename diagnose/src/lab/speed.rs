//! Inference speed (`medic bench classify`, `cargo run --release -p medic-diagnose --example
//! bench_classify`): the fine-tuned classifier's speed, uncached (every line through the
//! encoder) at several batch sizes and cached (template embeddings reused, as in the pipeline), against
//! the plain pretrained encoder at the same batch sizes measured in the same run.

use crate::lab::corpus::read_jsonl;
use crate::transformer::{
    Classifier, Condensed, EmbeddingCache, LowerEncoder, UpperEncoder, load_base_config,
    load_base_tensors, resolve_base_model,
};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Uncached speed at one batch size.
#[derive(Debug, Serialize)]
pub struct BatchSpeed {
    /// Samples (one line each) per forward pass.
    pub batch: usize,
    /// Classifier: samples per second, nothing cached.
    pub samples_per_s: f64,
    /// Baseline: the pretrained encoder's sentence embeddings (all 6 layers, mean pooling, the same token
    /// limit, every batch padded to its longest line), lines per second.
    pub baseline_lines_per_s: f64,
    /// `samples_per_s / baseline_lines_per_s`.
    pub ratio_to_baseline: f64,
}

/// The whole measurement.
#[derive(Debug, Serialize)]
pub struct ClassifyBench {
    /// The model measured.
    pub model: String,
    /// Distinct lines used.
    pub lines: usize,
    /// Uncached, per batch size.
    pub uncached: Vec<BatchSpeed>,
    /// Cached: windows of `window_lines` lines whose templates are all in the embedding cache, lines/s.
    pub cached_lines_per_s: f64,
    /// Lines per window in the cached measurement.
    pub window_lines: usize,
}

fn per_second(count: usize, started: Instant) -> f64 {
    count as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Runs the benchmark on the distinct lines of `data` (JSONL samples), at most `max_lines` of them.
///
/// # Errors
/// Unreadable data or model.
pub fn bench_classify(
    model_dir: &Path,
    base: Option<&Path>,
    data: &Path,
    max_lines: usize,
) -> Result<ClassifyBench, Box<dyn std::error::Error + Send + Sync>> {
    let mut lines: Vec<String> = read_jsonl(data, false)?
        .into_iter()
        .flat_map(|s| s.lines)
        .collect();
    lines.retain(|l| !l.trim().is_empty());
    lines.sort();
    lines.dedup();
    lines.truncate(max_lines);
    let classifier = Classifier::load(model_dir, base)?;
    let files = resolve_base_model(base)?;
    let config = load_base_config(&files)?;
    let plain = LowerEncoder::new(
        &files,
        &load_base_tensors(&files)?,
        &config,
        config.num_hidden_layers,
        classifier.spec().max_tokens,
    )?;
    let pooling = UpperEncoder::new(
        candle_nn::VarBuilder::zeros(candle_core::DType::F32, &candle_core::Device::Cpu),
        &config,
        0,
    )?;
    let mut uncached = Vec::new();
    for batch in [1, 16, 64] {
        let started = Instant::now();
        for chunk in lines.chunks(batch) {
            let samples: Vec<Condensed> = chunk.iter().map(|l| classifier.condense(&[l])).collect();
            classifier.predict(&samples, &mut EmbeddingCache::new(batch))?;
        }
        let samples_per_s = per_second(lines.len(), started);
        let started = Instant::now();
        for chunk in lines.chunks(batch) {
            let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let states = plain.encode_padded(&texts)?;
            pooling.pooled(&states.iter().collect::<Vec<_>>())?;
        }
        let baseline_lines_per_s = per_second(lines.len(), started);
        uncached.push(BatchSpeed {
            batch,
            samples_per_s,
            baseline_lines_per_s,
            ratio_to_baseline: samples_per_s / baseline_lines_per_s,
        });
    }
    let window_lines = 100;
    let windows: Vec<Condensed> = lines
        .chunks(window_lines)
        .map(|w| classifier.condense(w))
        .collect();
    let mut cache = EmbeddingCache::new(lines.len() * 2);
    classifier.predict(&windows, &mut cache)?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for chunk in windows.chunks(32) {
            classifier.predict(chunk, &mut cache)?;
        }
    }
    Ok(ClassifyBench {
        model: classifier.model_id(),
        lines: lines.len(),
        uncached,
        cached_lines_per_s: per_second(lines.len() * rounds, started),
        window_lines,
    })
}
