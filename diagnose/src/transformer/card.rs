//! The model card written next to a fine-tuned classifier: what it was trained on, how, and how well.

use super::classifier::{ClassifierError, ClassifierSpec, file, sha256_file};
use super::train::TrainReport;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One training data file.
#[derive(Debug, Clone, Serialize)]
pub struct DataFile {
    /// Path as given.
    pub path: PathBuf,
    /// SHA-256 of its content.
    pub sha256: String,
}

impl DataFile {
    /// Each of `paths` with the hash of its content.
    ///
    /// # Errors
    /// A file cannot be read.
    pub fn hash_all(paths: &[PathBuf]) -> Result<Vec<Self>, ClassifierError> {
        paths
            .iter()
            .map(|p| {
                Ok(Self {
                    path: p.clone(),
                    sha256: sha256_file(p)?,
                })
            })
            .collect()
    }
}

/// The card's facts (`card.json`); `README.md` renders them.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCard {
    /// Architecture, labels, calibration, hashes.
    pub spec: ClassifierSpec,
    /// Training data files.
    pub data: Vec<DataFile>,
    /// Training run.
    pub training: TrainReport,
    /// The command that produced it.
    pub command: String,
}

impl ModelCard {
    /// Describes `spec` trained on `data` (files) as `training` reports.
    ///
    /// # Errors
    /// A data file cannot be read.
    pub fn new(
        spec: ClassifierSpec,
        data: &[PathBuf],
        training: TrainReport,
        command: String,
    ) -> Result<Self, ClassifierError> {
        Ok(Self {
            spec,
            data: DataFile::hash_all(data)?,
            training,
            command,
        })
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
            path: dir.join(file::CARD_JSON),
            message: e.to_string(),
        })?;
        write(file::CARD_JSON, json + "\n")?;
        write(file::CARD, self.markdown())
    }

    fn markdown(&self) -> String {
        let s = &self.spec;
        let t = &self.training;
        let mut md = format!(
            "# medic fault classifier\n\n\
             Fine-tuned from `{}` (base weights sha256 `{}`): layers {}–{} of {} fine-tuned with a \
             classification head; the lower {} stay frozen and are not stored here.\n\n\
             - weights: `model.safetensors`, sha256 `{}`\n\
             - lines: at most {} tokens; samples: at most {} distinct lines\n\
             - calibration: temperature {:.3} (dev NLL {:.3} → {:.3})\n\
             - produced by: `{}`\n\n\
             ## Labels (output index → class)\n\n",
            s.base_model,
            s.base_sha256,
            s.lower_layers + 1,
            s.lower_layers + s.upper_layers,
            s.lower_layers + s.upper_layers,
            s.lower_layers,
            s.weights_sha256,
            s.max_tokens,
            s.max_distinct,
            s.temperature,
            t.dev_nll.0,
            t.dev_nll.1,
            self.command,
        );
        for (i, label) in s.labels.iter().enumerate() {
            let train = t.train_counts.get(label).copied().unwrap_or(0);
            let dev = t.dev_counts.get(label).copied().unwrap_or(0);
            md.push_str(&format!("{i}. `{label}` — train {train}, dev {dev}\n"));
        }
        md.push_str("\n## Training data\n\n");
        for d in &self.data {
            md.push_str(&format!(
                "- `{}` (sha256 `{}`)\n",
                d.path.display(),
                d.sha256
            ));
        }
        md.push_str(&format!(
            "\nSplit: about 20 % of each class's groups (a group = an id's prefix before its last `/`, e.g. \
             one Hadoop application) held out as dev.\n\n## Dev scores (epoch {} of {} run, {:.0} s)\n\n\
             macro-F1 **{:.3}**, accuracy {:.3}, {} samples\n\n| class | precision | recall | F1 | support |\n\
             |---|---:|---:|---:|---:|\n",
            t.best_epoch,
            t.history.len(),
            t.seconds,
            t.dev.macro_f1,
            t.dev.accuracy,
            t.dev.samples
        ));
        for (class, c) in &t.dev.per_class {
            md.push_str(&format!(
                "| {class} | {:.3} | {:.3} | {:.3} | {} |\n",
                c.precision, c.recall, c.f1, c.support
            ));
        }
        md
    }
}
