//! [`Classifier`]: the fine-tuned transformer, loaded for inference, with its embedding cache.

use super::condense::Condensed;
use super::encoder::{LowerEncoder, load_base_config, load_base_tensors};
use super::files::{BaseModelFiles, BaseModelNotFound, resolve_base_model};
use super::network::{Network, SampleRows, distinct_rows};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use schemas::FaultClass;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File names inside a classifier directory.
pub mod file {
    /// Architecture, labels and calibration.
    pub const SPEC: &str = "spec.json";
    /// The fine-tuned weights: upper encoder layers and head (only what differs from the base model).
    pub const WEIGHTS: &str = "model.safetensors";
    /// The model card (Markdown).
    pub const CARD: &str = "README.md";
    /// The model card's facts (JSON).
    pub const CARD_JSON: &str = "card.json";
}

/// What a classifier directory's `spec.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSpec {
    /// Hugging Face id of the base encoder.
    pub base_model: String,
    /// SHA-256 of the base encoder's `model.safetensors`: the fine-tuned layers only fit that file.
    pub base_sha256: String,
    /// Base layers kept frozen (their outputs are cached per text).
    pub lower_layers: usize,
    /// Layers fine-tuned on top of them.
    pub upper_layers: usize,
    /// Tokens per line at most (longer lines are truncated).
    pub max_tokens: usize,
    /// Distinct lines per sample at most (the most frequent).
    pub max_distinct: usize,
    /// The classes, in output order.
    pub labels: Vec<FaultClass>,
    /// Softmax temperature fitted on the dev split (calibration).
    pub temperature: f64,
    /// SHA-256 of `model.safetensors`.
    pub weights_sha256: String,
}

/// Errors loading or running the classifier.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The base encoder is missing.
    #[error(transparent)]
    BaseModel(#[from] BaseModelNotFound),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Tensor computation failed.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
}

/// SHA-256 of a file, hex.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, ClassifierError> {
    let bytes = std::fs::read(path).map_err(|source| ClassifierError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// One prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// The most probable class.
    pub fault: FaultClass,
    /// Its calibrated probability.
    pub confidence: f64,
}

/// Embeddings of texts already seen (the upper encoder's pooled output), so the encoder runs once per
/// distinct text — in the pipeline, once per template. Bounded: when a batch would overflow it, it is
/// cleared first.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    vectors: HashMap<String, Vec<f32>>,
    capacity: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that ran the encoder.
    pub misses: u64,
}

impl EmbeddingCache {
    /// A cache holding at most `capacity` texts.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Number of cached texts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }
}

/// The fine-tuned classifier, ready for inference.
pub struct Classifier {
    spec: ClassifierSpec,
    lower: LowerEncoder,
    network: Network,
    /// Where it was loaded from.
    pub dir: PathBuf,
}

impl Classifier {
    /// Loads a classifier directory on top of the base encoder (`base`: explicit directory, or resolved).
    ///
    /// # Errors
    /// Missing base model or files, a base model other than the one it was trained on, corrupt weights.
    pub fn load(dir: &Path, base: Option<&Path>) -> Result<Self, ClassifierError> {
        let spec_path = dir.join(file::SPEC);
        let text = std::fs::read_to_string(&spec_path).map_err(|source| ClassifierError::Io {
            path: spec_path.clone(),
            source,
        })?;
        let spec: ClassifierSpec =
            serde_json::from_str(&text).map_err(|e| ClassifierError::Invalid {
                path: spec_path.clone(),
                message: e.to_string(),
            })?;
        check_spec(&spec).map_err(|message| ClassifierError::Invalid {
            path: spec_path.clone(),
            message,
        })?;
        let base = resolve_base_model(base)?;
        let weights = dir.join(file::WEIGHTS);
        if sha256_file(&weights)? != spec.weights_sha256 {
            return Err(ClassifierError::Invalid {
                path: weights,
                message: "content hash differs from spec.json's weights_sha256".into(),
            });
        }
        let tensors = candle_core::safetensors::load(&weights, &Device::Cpu)?;
        Self::from_parts(&base, spec, tensors, dir)
    }

    fn from_parts(
        base: &BaseModelFiles,
        spec: ClassifierSpec,
        tensors: HashMap<String, Tensor>,
        dir: &Path,
    ) -> Result<Self, ClassifierError> {
        let base_hash = sha256_file(&base.weights())?;
        if base_hash != spec.base_sha256 {
            return Err(ClassifierError::Invalid {
                path: base.weights(),
                message: format!(
                    "this classifier was fine-tuned from {} with sha256 {}, found {base_hash}",
                    spec.base_model, spec.base_sha256
                ),
            });
        }
        let config = load_base_config(base)?;
        if spec.lower_layers + spec.upper_layers != config.num_hidden_layers {
            return Err(ClassifierError::Invalid {
                path: base.config(),
                message: format!(
                    "the base model has {} layers; the classifier expects {} + {}",
                    config.num_hidden_layers, spec.lower_layers, spec.upper_layers
                ),
            });
        }
        let lower = LowerEncoder::new(
            base,
            &load_base_tensors(base)?,
            &config,
            spec.lower_layers,
            spec.max_tokens,
        )?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let network = Network::new(&vb, &config, spec.upper_layers, spec.labels.len())?;
        Ok(Self {
            spec,
            lower,
            network,
            dir: dir.to_owned(),
        })
    }

    /// The specification it was loaded with.
    #[must_use]
    pub fn spec(&self) -> &ClassifierSpec {
        &self.spec
    }

    /// A name and version for diagnoses: `minilm-finetuned@<first 12 hex of the weights hash>`.
    #[must_use]
    pub fn model_id(&self) -> String {
        format!("minilm-finetuned@{}", &self.spec.weights_sha256[..12])
    }

    /// Condenses raw lines the way the model was trained.
    #[must_use]
    pub fn condense<S: AsRef<str>>(&self, lines: &[S]) -> Condensed {
        Condensed::new(lines, self.spec.max_distinct)
    }

    /// Classifies samples in one batched pass; texts missing from `cache` are encoded (and cached).
    ///
    /// # Errors
    /// Tensor computation failed.
    pub fn predict(
        &self,
        samples: &[Condensed],
        cache: &mut EmbeddingCache,
    ) -> Result<Vec<Prediction>, ClassifierError> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let (pooled, rows) = self.pooled_rows(samples, cache)?;
        let logits = self
            .network
            .head(&self.network.summary(&pooled, &rows)?, 0.0)?;
        predictions(&logits, self.spec.temperature, &self.spec.labels)
    }

    /// Each of a sample's distinct texts classified on its own: calibrated probabilities, one row per text,
    /// one column per class of [`ClassifierSpec::labels`].
    ///
    /// # Errors
    /// Tensor computation failed.
    pub fn text_probabilities(
        &self,
        sample: &Condensed,
        cache: &mut EmbeddingCache,
    ) -> Result<Vec<Vec<f32>>, ClassifierError> {
        if sample.texts.is_empty() {
            return Ok(Vec::new());
        }
        let singles: Vec<Condensed> = sample
            .texts
            .iter()
            .map(|t| Condensed::new(&[t.as_str()], 1))
            .collect();
        let (pooled, rows) = self.pooled_rows(&singles, cache)?;
        let logits = self
            .network
            .head(&self.network.summary(&pooled, &rows)?, 0.0)?;
        Ok(
            candle_nn::ops::softmax_last_dim(&(logits / self.spec.temperature)?)?
                .to_vec2::<f32>()?,
        )
    }

    /// How strongly each of a sample's texts, on its own, points at `class` (its probability in
    /// [`Classifier::text_probabilities`]). Used to pick a diagnosis's evidence.
    ///
    /// # Errors
    /// Tensor computation failed.
    pub fn text_scores(
        &self,
        sample: &Condensed,
        class: FaultClass,
        cache: &mut EmbeddingCache,
    ) -> Result<Vec<f64>, ClassifierError> {
        let Some(column) = self.spec.labels.iter().position(|l| *l == class) else {
            return Ok(vec![0.0; sample.texts.len()]);
        };
        Ok(self
            .text_probabilities(sample, cache)?
            .iter()
            .map(|p| f64::from(p[column]))
            .collect())
    }

    /// The batch's distinct text vectors (encoding those not cached) and each sample's rows among them.
    fn pooled_rows(
        &self,
        samples: &[Condensed],
        cache: &mut EmbeddingCache,
    ) -> Result<(Tensor, Vec<SampleRows>), ClassifierError> {
        let batch_texts: usize = samples.iter().map(|s| s.texts.len()).sum();
        if cache.vectors.len() + batch_texts > cache.capacity {
            // Bounded memory: start over rather than track recency (templates are few and re-encode fast).
            cache.vectors.clear();
        }
        let mut missing: Vec<&str> = Vec::new();
        let mut queued: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for text in samples.iter().flat_map(|s| &s.texts) {
            if cache.vectors.contains_key(text.as_str()) {
                cache.hits += 1;
            } else if queued.insert(text.as_str()) {
                missing.push(text);
            }
        }
        cache.misses += missing.len() as u64;
        if !missing.is_empty() {
            let lower = self.lower.encode(&missing)?;
            let pooled = self
                .network
                .upper
                .pooled(&lower.iter().collect::<Vec<_>>())?;
            let rows: Vec<Vec<f32>> = pooled.to_vec2()?;
            for (text, row) in missing.iter().zip(rows) {
                cache.vectors.insert((*text).to_owned(), row);
            }
        }
        let (distinct, described) = distinct_rows(&samples.iter().collect::<Vec<_>>());
        let flat: Vec<f32> = distinct
            .iter()
            .flat_map(|t| cache.vectors[*t].iter().copied())
            .collect();
        let width = flat.len() / distinct.len().max(1);
        let pooled = Tensor::from_vec(flat, (distinct.len(), width), &Device::Cpu)?;
        Ok((pooled, described))
    }
}

/// What `spec.json` must satisfy beyond its shape.
fn check_spec(spec: &ClassifierSpec) -> Result<(), String> {
    if !(spec.temperature.is_finite() && spec.temperature > 0.0) {
        return Err(format!(
            "temperature {} must be finite and > 0",
            spec.temperature
        ));
    }
    let mut labels = spec.labels.clone();
    labels.sort();
    labels.dedup();
    if labels.is_empty() || labels.len() != spec.labels.len() {
        return Err("labels must be non-empty and distinct".into());
    }
    if spec.max_tokens < 3 || spec.max_distinct == 0 {
        return Err("max_tokens must be ≥ 3 and max_distinct ≥ 1".into());
    }
    Ok(())
}

/// Calibrated predictions from logits.
pub(crate) fn predictions(
    logits: &Tensor,
    temperature: f64,
    labels: &[FaultClass],
) -> Result<Vec<Prediction>, ClassifierError> {
    let probabilities = candle_nn::ops::softmax_last_dim(&(logits / temperature)?)?;
    Ok(probabilities
        .to_vec2::<f32>()?
        .into_iter()
        .map(|p| {
            let (best, confidence) = p
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            Prediction {
                fault: labels[best],
                confidence: f64::from(confidence),
            }
        })
        .collect())
}
