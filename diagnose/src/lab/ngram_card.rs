//! The model card written next to a shipped n-gram classifier: what it was fitted on, how, and its
//! grouped cross-validation table against the other models — the figures its settings were chosen by.

use crate::lab::calibration::Calibration;
use crate::lab::cv::{CvReport, Domain};
use crate::ngram::{FitReport, NgramLoss, NgramSpec};
use crate::transformer::{ClassifierError, DataFile};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The card's facts (`card.json`); `README.md` renders them.
#[derive(Debug, Clone, Serialize)]
pub struct NgramCard {
    /// Labels, options, hashes.
    pub spec: NgramSpec,
    /// Training data files.
    pub data: Vec<DataFile>,
    /// Samples fitted on.
    pub samples: usize,
    /// How the final fit ended.
    pub fit: FitReport,
    /// Grouped cross-validation of this model's settings and the other models, on the same data.
    pub cv: Option<CvReport>,
    /// Temperature scaling fitted on out-of-fold scores of the same folds.
    pub calibration: Option<Calibration>,
    /// The command that produced it.
    pub command: String,
}

impl NgramCard {
    /// Describes a fitted and saved model.
    ///
    /// # Errors
    /// A data file cannot be read.
    pub fn new(
        spec: NgramSpec,
        data: &[PathBuf],
        samples: usize,
        fit: FitReport,
        cv: Option<CvReport>,
        calibration: Option<Calibration>,
        command: String,
    ) -> Result<Self, ClassifierError> {
        Ok(Self {
            spec,
            data: DataFile::hash_all(data)?,
            samples,
            fit,
            cv,
            calibration,
            command,
        })
    }

    /// The Markdown card.
    #[must_use]
    pub fn markdown(&self) -> String {
        let s = &self.spec;
        let (model, solver) = match s.options.loss {
            NgramLoss::Logistic => ("a multinomial logistic regression", "L-BFGS iterations"),
            NgramLoss::SquaredHinge => (
                "one-vs-rest linear support vector machines with the squared hinge loss",
                "dual coordinate-descent sweeps (most for one class)",
            ),
        };
        let mut text = format!(
            "# n-gram fault classifier\n\n\
             Word 1–2-grams and character 3–5-grams inside word boundaries (TF-IDF, sub-linear tf, unit L2 \
             norm per block) under {model} (L2, C = {}, balanced class weights), fitted on {} samples; \
             {} features, {} classes; minimum document frequency {}; the word block weighs {} against the \
             character block's 1.\n\n\
             - vocabulary: `vocabulary.json`, sha256 `{}`\n\
             - weights: `model.safetensors`, sha256 `{}`\n\
             - fit: {} {solver}, converged: {}\n\n",
            s.options.c,
            self.samples,
            s.features,
            s.labels.len(),
            s.options.min_df,
            s.options.word_weight,
            s.vocabulary_sha256,
            s.weights_sha256,
            self.fit.iterations,
            self.fit.converged,
        );
        if let Some(cv) = &self.cv {
            let _ = write!(
                text,
                "## Grouped {}-fold cross-validation (macro-F1, mean ± sd over folds)\n\n\
                 {} samples in {} groups (a group: one source thread or one Hadoop application, never in two \
                 folds); every model trained on the other folds only. A held-out Hadoop application's \
                 containers are read as one sample and each container scored with its verdict.\n\n\
                 | model | Kubernetes | Hadoop |\n|---|---:|---:|\n",
                cv.folds, cv.samples, cv.groups
            );
            for (name, domains) in &cv.models {
                let cell = |d: Domain| {
                    domains.get(&d).map_or("–".to_owned(), |s| {
                        format!("{:.3} ± {:.3}", s.macro_f1.mean, s.macro_f1.sd)
                    })
                };
                let _ = writeln!(
                    text,
                    "| {name} | {} | {} |",
                    cell(Domain::Kubernetes),
                    cell(Domain::Hadoop)
                );
            }
            text.push('\n');
        }
        if let Some(c) = &self.calibration {
            let _ = write!(
                text,
                "## Calibration\n\nTemperature {:.2}, fitted on the {} out-of-fold scores of the same folds \
                 (each held-out Hadoop application read as one, its score counted once per container): \
                 mean NLL {:.3} → {:.3}, expected calibration error (10 bins) {:.3} → {:.3}.\n\n",
                c.temperature, c.samples, c.nll.0, c.nll.1, c.ece.0, c.ece.1
            );
        }
        text.push_str("## Data\n\n");
        for d in &self.data {
            let _ = writeln!(text, "- `{}` (sha256 `{}`)", d.path.display(), d.sha256);
        }
        let _ = write!(text, "\n## Reproduce\n\n```sh\n{}\n```\n", self.command);
        text
    }

    /// Writes `card.json` and `README.md` into `dir`.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn write(&self, dir: &Path) -> Result<(), ClassifierError> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| ClassifierError::Io { path, source })
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| ClassifierError::Invalid {
            path: dir.join("card.json"),
            message: e.to_string(),
        })?;
        write("card.json", json + "\n")?;
        write("README.md", self.markdown())
    }
}
