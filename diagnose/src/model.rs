//! [`FaultModel`]: the classifier a diagnose stage or `medic classify` serves, chosen by what its
//! directory holds — the fine-tuned transformer or the n-gram model — behind one interface: whole samples
//! (windows) and single lines to class probabilities (temperature-scaled, the temperature fitted on held-out
//! scores for either kind).

use crate::ngram::{NgramClassifier, TermCache, is_ngram_dir};
use crate::transformer::{Classifier, ClassifierError, Condensed, EmbeddingCache, Prediction};
use schemas::FaultClass;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// A loaded classifier.
pub enum FaultModel {
    /// The fine-tuned transformer, with its cache of text embeddings.
    Transformer {
        /// The classifier.
        classifier: Box<Classifier>,
        /// Embeddings of texts already seen.
        cache: EmbeddingCache,
    },
    /// Word and character n-grams under a linear model, with its cache of the terms of texts.
    Ngram {
        /// The classifier.
        model: Box<NgramClassifier>,
        /// Terms of texts already read.
        cache: TermCache,
    },
}

impl FaultModel {
    /// Loads the classifier in `dir`: an n-gram model when its `spec.json` says `"kind": "ngram"`, else
    /// the transformer on top of the base encoder (`base`, or resolved), with `cache_capacity` cached
    /// embeddings.
    ///
    /// # Errors
    /// As [`NgramClassifier::load`] or [`Classifier::load`].
    pub fn load(
        dir: &Path,
        base: Option<&Path>,
        cache_capacity: usize,
    ) -> Result<Self, ClassifierError> {
        if is_ngram_dir(dir) {
            return Ok(Self::Ngram {
                model: Box::new(NgramClassifier::load(dir)?),
                cache: TermCache::new(cache_capacity),
            });
        }
        Ok(Self::Transformer {
            classifier: Box::new(Classifier::load(dir, base)?),
            cache: EmbeddingCache::new(cache_capacity),
        })
    }

    /// Which kind it is.
    #[must_use]
    pub fn kind(&self) -> crate::DiagnoseModel {
        match self {
            Self::Transformer { .. } => crate::DiagnoseModel::Transformer,
            Self::Ngram { .. } => crate::DiagnoseModel::Ngram,
        }
    }

    /// The name and version written on diagnoses.
    #[must_use]
    pub fn model_id(&self) -> String {
        match self {
            Self::Transformer { classifier, .. } => classifier.model_id(),
            Self::Ngram { model, .. } => model.model_id(),
        }
    }

    /// The classes, in the order of every probability row.
    #[must_use]
    pub fn labels(&self) -> &[FaultClass] {
        match self {
            Self::Transformer { classifier, .. } => &classifier.spec().labels,
            Self::Ngram { model, .. } => model.labels(),
        }
    }

    /// How many of a sample's distinct texts the model reads (the transformer its most frequent ones).
    #[must_use]
    pub fn max_distinct(&self) -> usize {
        match self {
            Self::Transformer { classifier, .. } => classifier.spec().max_distinct,
            Self::Ngram { .. } => usize::MAX,
        }
    }

    /// A sample's lines as the model reads them: distinct texts with counts (the transformer keeps its
    /// `max_distinct` most frequent).
    #[must_use]
    pub fn condense<S: AsRef<str>>(&self, lines: &[S]) -> Condensed {
        match self {
            Self::Transformer { classifier, .. } => classifier.condense(lines),
            Self::Ngram { .. } => Condensed::new(lines, usize::MAX),
        }
    }

    /// The most probable class of each sample, with its probability.
    ///
    /// # Errors
    /// Tensor computation failed (transformer).
    pub fn predict(&mut self, samples: &[Condensed]) -> Result<Vec<Prediction>, ClassifierError> {
        match self {
            Self::Transformer { classifier, cache } => classifier.predict(samples, cache),
            Self::Ngram { model, cache } => Ok(samples
                .iter()
                .map(|sample| {
                    // Every line counts, as in the training samples: forty healthy lines outweigh one
                    // odd one (term frequencies are sub-linear, so repeats do not drown the rest).
                    let lines: Vec<(&str, u32)> = sample
                        .texts
                        .iter()
                        .map(String::as_str)
                        .zip(sample.counts.iter().copied())
                        .collect();
                    let (fault, confidence) = model.predict_cached(&lines, cache);
                    Prediction { fault, confidence }
                })
                .collect()),
        }
    }

    /// Each distinct text of `sample` classified on its own: one probability row per text.
    ///
    /// # Errors
    /// Tensor computation failed (transformer).
    pub fn text_probabilities(
        &mut self,
        sample: &Condensed,
    ) -> Result<Vec<Vec<f32>>, ClassifierError> {
        match self {
            Self::Transformer { classifier, cache } => classifier.text_probabilities(sample, cache),
            Self::Ngram { model, cache } => Ok(sample
                .texts
                .iter()
                .map(|text| {
                    model
                        .line_probabilities(text, cache)
                        .into_iter()
                        .map(|p| p as f32)
                        .collect()
                })
                .collect()),
        }
    }
}

/// A loaded classifier shared by every instance of a stage that uses it (the diagnose stage keeps one
/// instance per input partition: see `runtime::per_partition`). One instance uses it at a time; its caches
/// are shared too, so a template read for one workload is read once for all.
#[derive(Clone)]
pub struct SharedModel {
    model: Arc<Mutex<FaultModel>>,
    labels: Arc<[FaultClass]>,
    model_id: Arc<str>,
    max_distinct: usize,
}

impl SharedModel {
    /// Shares `model`.
    #[must_use]
    pub fn new(model: FaultModel) -> Self {
        Self {
            labels: model.labels().into(),
            model_id: model.model_id().into(),
            max_distinct: model.max_distinct(),
            model: Arc::new(Mutex::new(model)),
        }
    }

    fn model(&self) -> std::sync::MutexGuard<'_, FaultModel> {
        // A panic while classifying leaves a usable model (its caches at worst incomplete).
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// As [`FaultModel::model_id`].
    #[must_use]
    pub fn model_id(&self) -> String {
        self.model_id.to_string()
    }

    /// As [`FaultModel::labels`].
    #[must_use]
    pub fn labels(&self) -> &[FaultClass] {
        &self.labels
    }

    /// As [`FaultModel::max_distinct`].
    #[must_use]
    pub fn max_distinct(&self) -> usize {
        self.max_distinct
    }

    /// As [`FaultModel::predict`].
    ///
    /// # Errors
    /// As [`FaultModel::predict`].
    pub fn predict(&self, samples: &[Condensed]) -> Result<Vec<Prediction>, ClassifierError> {
        self.model().predict(samples)
    }

    /// As [`FaultModel::text_probabilities`].
    ///
    /// # Errors
    /// As [`FaultModel::text_probabilities`].
    pub fn text_probabilities(&self, sample: &Condensed) -> Result<Vec<Vec<f32>>, ClassifierError> {
        self.model().text_probabilities(sample)
    }
}
