//! An n-gram classifier on disk, beside the transformer's files: `spec.json` (kind `ngram`, labels,
//! options, temperature, content hashes), `vocabulary.json` (the terms in feature order) and
//! `model.safetensors` (IDF, weights, bias).

use super::{NgramClassifier, NgramFeatures, NgramOptions, SoftmaxRegression};
use crate::transformer::{ClassifierError, sha256_file};
use candle_core::{Device, Tensor};
use schemas::FaultClass;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::HashMap;
use std::path::Path;

/// The `kind` in an n-gram classifier's `spec.json`.
pub const KIND: &str = "ngram";
const SPEC: &str = "spec.json";
const VOCABULARY: &str = "vocabulary.json";
const WEIGHTS: &str = "model.safetensors";

/// What an n-gram classifier directory's `spec.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NgramSpec {
    /// Always [`KIND`].
    pub kind: String,
    /// The classes, in the order of the model's outputs.
    pub labels: Vec<FaultClass>,
    /// How it was fitted.
    pub options: NgramOptions,
    /// Features (word terms, then character n-grams).
    pub features: usize,
    /// Temperature the scores are divided by before the softmax (1: as fitted).
    pub temperature: f64,
    /// SHA-256 of `vocabulary.json`.
    pub vocabulary_sha256: String,
    /// SHA-256 of `model.safetensors`.
    pub weights_sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vocabulary {
    words: Vec<String>,
    chars: Vec<String>,
}

fn invalid(path: &Path, message: impl Into<String>) -> ClassifierError {
    ClassifierError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClassifierError + '_ {
    move |source| ClassifierError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether `dir` holds an n-gram classifier (its `spec.json` says `"kind": "ngram"`).
#[must_use]
pub fn is_ngram_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(SPEC))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|spec| spec.get("kind").and_then(|k| k.as_str()) == Some(KIND))
}

impl NgramClassifier {
    /// Writes the classifier into `dir` (created if needed); returns its spec.
    ///
    /// # Errors
    /// A file cannot be written.
    pub fn save(&mut self, dir: &Path) -> Result<NgramSpec, ClassifierError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (words, word_idf, chars, char_idf) = self.features.to_parts();
        let vocabulary_path = dir.join(VOCABULARY);
        let text = serde_json::to_string(&Vocabulary { words, chars })
            .map_err(|e| invalid(&vocabulary_path, e.to_string()))?;
        std::fs::write(&vocabulary_path, text).map_err(io(&vocabulary_path))?;
        let (weights, bias) = self.model.parts();
        let classes = bias.len();
        let cpu = &Device::Cpu;
        let tensors: HashMap<String, Tensor> = [
            (
                "word_idf",
                Tensor::from_slice(&word_idf, word_idf.len(), cpu)?,
            ),
            (
                "char_idf",
                Tensor::from_slice(&char_idf, char_idf.len(), cpu)?,
            ),
            (
                "weights",
                Tensor::from_slice(weights, (weights.len() / classes.max(1), classes), cpu)?,
            ),
            ("bias", Tensor::from_slice(bias, classes, cpu)?),
        ]
        .into_iter()
        .map(|(name, t)| (name.to_owned(), t))
        .collect();
        let weights_path = dir.join(WEIGHTS);
        candle_core::safetensors::save(&tensors, &weights_path)?;
        let spec = NgramSpec {
            kind: KIND.to_owned(),
            labels: self.labels.clone(),
            options: self.options,
            features: self.features.len(),
            temperature: self.temperature,
            vocabulary_sha256: sha256_file(&vocabulary_path)?,
            weights_sha256: sha256_file(&weights_path)?,
        };
        let spec_path = dir.join(SPEC);
        let json =
            serde_json::to_string_pretty(&spec).map_err(|e| invalid(&spec_path, e.to_string()))?;
        std::fs::write(&spec_path, json + "\n").map_err(io(&spec_path))?;
        self.spec_sha256 = sha256_file(&spec_path)?;
        Ok(spec)
    }

    /// Loads a classifier directory written by [`NgramClassifier::save`].
    ///
    /// # Errors
    /// Missing or unreadable files, content that differs from the spec's hashes, inconsistent shapes.
    pub fn load(dir: &Path) -> Result<Self, ClassifierError> {
        let spec_path = dir.join(SPEC);
        let spec_text = std::fs::read_to_string(&spec_path).map_err(io(&spec_path))?;
        let spec: NgramSpec =
            serde_json::from_str(&spec_text).map_err(|e| invalid(&spec_path, e.to_string()))?;
        if spec.kind != KIND {
            return Err(invalid(
                &spec_path,
                format!("kind {:?} is not {KIND:?}", spec.kind),
            ));
        }
        if !(spec.temperature.is_finite() && spec.temperature > 0.0) {
            return Err(invalid(&spec_path, "temperature must be a positive number"));
        }
        if !(spec.options.word_weight.is_finite() && spec.options.word_weight >= 0.0) {
            return Err(invalid(&spec_path, "word_weight must be a number ≥ 0"));
        }
        let mut distinct = spec.labels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != spec.labels.len() {
            return Err(invalid(&spec_path, "a label is listed twice"));
        }
        let vocabulary_path = dir.join(VOCABULARY);
        let weights_path = dir.join(WEIGHTS);
        for (path, hash) in [
            (&vocabulary_path, &spec.vocabulary_sha256),
            (&weights_path, &spec.weights_sha256),
        ] {
            if sha256_file(path)? != *hash {
                return Err(invalid(path, "content hash differs from spec.json's"));
            }
        }
        let text = std::fs::read_to_string(&vocabulary_path).map_err(io(&vocabulary_path))?;
        let vocabulary: Vocabulary =
            serde_json::from_str(&text).map_err(|e| invalid(&vocabulary_path, e.to_string()))?;
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)?;
        let vector = |name: &str| -> Result<Vec<f32>, ClassifierError> {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| invalid(&weights_path, format!("no tensor {name:?}")))?;
            Ok(tensor.flatten_all()?.to_vec1::<f32>()?)
        };
        let features = NgramFeatures::from_parts(
            vocabulary.words,
            &vector("word_idf")?,
            vocabulary.chars,
            &vector("char_idf")?,
        )
        .ok_or_else(|| invalid(&vocabulary_path, "terms and IDF differ in number"))?
        .with_word_weight(spec.options.word_weight);
        let bias = vector("bias")?;
        let model = SoftmaxRegression::from_parts(vector("weights")?, bias)
            .filter(|m| m.classes() == spec.labels.len() && m.features() == features.len())
            .ok_or_else(|| invalid(&weights_path, "shapes differ from the spec and vocabulary"))?;
        Ok(Self {
            labels: spec.labels,
            features,
            model,
            options: spec.options,
            temperature: spec.temperature,
            spec_sha256: format!("{:x}", sha2::Sha256::digest(spec_text.as_bytes())),
        })
    }
}
