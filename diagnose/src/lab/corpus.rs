//! Labelled evidence: JSONL files of `{"id", "lines": […], "label"}`, and the train/dev split.

use schemas::FaultClass;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One piece of evidence: the lines (or templates) of one workload in one window, maybe labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Identifier, unique within its file. Ids with at least two `/` name a group before the last one
    /// (e.g. `hadoop/<application>/<container>`): samples of a group are kept on the same side of a split.
    pub id: String,
    /// The evidence lines, in order.
    pub lines: Vec<String>,
    /// The fault class, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<FaultClass>,
    /// Where the sample was found (e.g. the issue thread `owner/repo#N`); samples of one source form one
    /// group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Sample {
    /// The group the sample belongs to: its source when it names one, else the id's group (see
    /// [`Sample::id`]), else a YARN container's application
    /// ([`crate::lab::workload::application_prefix`]), else the sample alone. Samples of a group are never on both sides of a split or of a fold.
    #[must_use]
    pub fn group(&self) -> &str {
        if let Some(source) = &self.source {
            return source;
        }
        match self.id.rsplit_once('/') {
            Some((group, _)) if group.contains('/') => group,
            // A YARN container without its application's folder: the application.
            _ => crate::lab::workload::application_prefix(&self.id),
        }
    }
}

/// A corpus file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not a valid sample.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A directory holds no `.jsonl` file.
    #[error("{0}: no .jsonl files")]
    Empty(PathBuf),
}

/// Reads one JSONL file; blank lines are skipped. With `labelled`, every sample must carry a label.
///
/// # Errors
/// The first unreadable line, with its number.
pub fn read_jsonl(path: &Path, labelled: bool) -> Result<Vec<Sample>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |line, message: String| CorpusError::Invalid {
        path: path.to_owned(),
        line,
        message,
    };
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sample: Sample =
            serde_json::from_str(line).map_err(|e| invalid(n + 1, e.to_string()))?;
        if labelled && sample.label.is_none() {
            return Err(invalid(
                n + 1,
                format!("sample {:?} has no label", sample.id),
            ));
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// Reads a labelled corpus: one `.jsonl` file, or every `.jsonl` file of a directory (sorted by name).
///
/// # Errors
/// Unreadable files or lines, unlabelled samples, or a directory without `.jsonl` files.
pub fn read_corpus(path: &Path) -> Result<Vec<Sample>, CorpusError> {
    if path.is_file() {
        return read_jsonl(path, true);
    }
    let entries = std::fs::read_dir(path).map_err(|source| CorpusError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CorpusError::Empty(path.to_owned()));
    }
    let mut samples = Vec::new();
    for file in files {
        samples.extend(read_jsonl(&file, true)?);
    }
    Ok(samples)
}

/// Splits a labelled corpus into (train, dev): for each class, about `dev_share` of its groups (at least
/// one when the class has two or more) go to dev, chosen by a hash of the group and `seed` — the same
/// corpus and seed always give the same split.
#[must_use]
pub fn split_dev(samples: &[Sample], dev_share: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut groups: BTreeMap<Option<FaultClass>, BTreeSet<&str>> = BTreeMap::new();
    for s in samples {
        groups.entry(s.label).or_default().insert(s.group());
    }
    let mut dev_groups = BTreeSet::new();
    for members in groups.values() {
        let mut ranked: Vec<&str> = members.iter().copied().collect();
        ranked.sort_by_key(|g| schemas::id::stable_hash(&[&seed.to_string(), g]));
        let take = if ranked.len() < 2 {
            0
        } else {
            ((ranked.len() as f64 * dev_share).round() as usize).max(1)
        };
        dev_groups.extend(ranked.into_iter().take(take));
    }
    samples
        .iter()
        .cloned()
        .partition(|s| !dev_groups.contains(s.group()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, label: FaultClass) -> Sample {
        Sample {
            id: id.into(),
            lines: vec!["x".into()],
            label: Some(label),
            source: None,
        }
    }

    #[test]
    fn a_yarn_containers_group_is_its_application_even_without_its_folder() {
        let group = |id: &str| sample(id, FaultClass::Normal).group().to_owned();
        assert_eq!(
            group("hadoop/container_1_7_01_000001"),
            group("hadoop/container_1_7_02_000005")
        );
        assert_ne!(
            group("hadoop/container_1_7_01_000001"),
            group("hadoop/container_1_8_01_000001")
        );
        assert_eq!(group("hadoop/app7/container_1_7_01_000001"), "hadoop/app7");
        assert_eq!(group("k8s_train/001"), "k8s_train/001");
    }

    #[test]
    fn groups_stay_together_and_every_class_reaches_dev() {
        let mut samples = Vec::new();
        for app in 0..10 {
            for c in 0..3 {
                samples.push(sample(
                    &format!("hadoop/app{app}/c{c}"),
                    FaultClass::NodeFailure,
                ));
            }
        }
        for i in 0..5 {
            samples.push(sample(&format!("k8s/{i}"), FaultClass::Oom));
        }
        let (train, dev) = split_dev(&samples, 0.2, 7);
        assert_eq!(train.len() + dev.len(), samples.len());
        assert_eq!(
            dev.iter()
                .filter(|s| s.label == Some(FaultClass::Oom))
                .count(),
            1
        );
        let dev_apps: std::collections::BTreeSet<_> = dev.iter().map(Sample::group).collect();
        assert!(train.iter().all(|s| !dev_apps.contains(s.group())));
        assert_eq!(split_dev(&samples, 0.2, 7), (train, dev), "deterministic");
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let dir = std::env::temp_dir().join(format!("medic-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bad.jsonl");
        std::fs::write(
            &file,
            "{\"id\":\"a\",\"lines\":[],\"label\":\"oom\"}\n{\"id\":\"b\",\"lines\":[]}\n",
        )
        .expect("write");
        let err = read_corpus(&dir).expect_err("unlabelled");
        assert!(err.to_string().contains("bad.jsonl:2"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
