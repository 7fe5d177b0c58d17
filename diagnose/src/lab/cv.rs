//! Grouped K-fold cross-validation: every model trained on K−1 folds and scored on the held-out one, no
//! group (source thread, Hadoop application) in two folds, each class's groups spread over the folds.
//! This — not a dev split — predicts how a model does on logs nobody here has seen: whatever a model
//! chooses (epochs, temperature, thresholds) it chooses inside the training folds.

use crate::lab::corpus::Sample;
use crate::lab::metrics::Scores;
use crate::lab::workload::Pooled;
use schemas::FaultClass;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which kind of evidence a sample is: the two are scored apart, because they differ in kind (a few
/// Kubernetes lines vs a Hadoop application's whole template sequence) and a pooled figure hides either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Kubernetes / container fault lines.
    Kubernetes,
    /// Hadoop fault-type sequences (ids `hadoop/<application>/<container>`).
    Hadoop,
}

impl Domain {
    /// The domain of a sample, by its id.
    #[must_use]
    pub fn of(sample: &Sample) -> Self {
        if sample.id.starts_with("hadoop/") {
            Self::Hadoop
        } else {
            Self::Kubernetes
        }
    }
}

/// The fold of each sample (`0..k`). Groups are dealt largest first, each to the fold that holds the
/// fewest samples of the group's most common class (then the fewest samples), ties broken by a hash of
/// the group and `seed`: the same corpus and seed always give the same folds.
#[must_use]
pub fn grouped_folds(samples: &[Sample], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut groups: BTreeMap<&str, BTreeMap<Option<FaultClass>, usize>> = BTreeMap::new();
    for s in samples {
        *groups
            .entry(s.group())
            .or_default()
            .entry(s.label)
            .or_insert(0) += 1;
    }
    let mut order: Vec<(&str, usize, Option<FaultClass>)> = groups
        .iter()
        .map(|(g, counts)| {
            let size = counts.values().sum();
            let major = counts
                .iter()
                .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
                .and_then(|(c, _)| *c);
            (*g, size, major)
        })
        .collect();
    order.sort_by_key(|(g, size, _)| {
        (
            std::cmp::Reverse(*size),
            schemas::id::stable_hash(&[&seed.to_string(), g]),
        )
    });
    let mut by_class: BTreeMap<Option<FaultClass>, Vec<usize>> = BTreeMap::new();
    let mut totals = vec![0usize; k];
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (group, size, major) in order {
        let class_counts = by_class.entry(major).or_insert_with(|| vec![0; k]);
        let fold = (0..k)
            .min_by_key(|f| (class_counts[*f], totals[*f]))
            .unwrap_or(0);
        class_counts[fold] += size;
        totals[fold] += size;
        fold_of.insert(group, fold);
    }
    samples
        .iter()
        .map(|s| fold_of.get(s.group()).copied().unwrap_or(0))
        .collect()
}

/// Mean and sample standard deviation of per-fold scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds (0 for one fold).
    pub sd: f64,
    /// The per-fold values, fold 1 first.
    pub folds: Vec<f64>,
}

impl Summary {
    /// The summary of `values`.
    #[must_use]
    pub fn of(values: Vec<f64>) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n.max(1.0);
        let sd = if values.len() < 2 {
            0.0
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        Self {
            mean,
            sd,
            folds: values,
        }
    }
}

/// One model's cross-validated scores in one domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainScores {
    /// Macro-F1 of each held-out fold.
    pub macro_f1: Summary,
    /// Every sample scored once, by the model trained without its fold (per-class F1 lives here).
    pub out_of_fold: Scores,
}

/// What a model does: trained on the first set, predict the second.
pub type Predictor<'a> = dyn Fn(&[Sample], &[Sample]) -> Result<Vec<FaultClass>, String> + 'a;

/// The cross-validation report.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    /// K.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Samples, and the groups they form.
    pub samples: usize,
    /// Groups.
    pub groups: usize,
    /// Samples per fold.
    pub fold_sizes: Vec<usize>,
    /// Per model, per domain.
    pub models: BTreeMap<String, BTreeMap<Domain, DomainScores>>,
}

/// Runs every model through the same folds. A held-out fold is pooled per workload before a model
/// predicts it ([`Pooled`]: a YARN application's containers are read as one), and each part gets its
/// workload's verdict; scores stay per sample. `progress` hears `(fold, model, seconds)` after each fit.
///
/// # Errors
/// The first model that fails, with its name and fold.
pub fn cross_validate(
    samples: &[Sample],
    k: usize,
    seed: u64,
    models: &[(&str, &Predictor<'_>)],
    progress: &mut dyn FnMut(usize, &str, f64),
) -> Result<CvReport, String> {
    let fold_of = grouped_folds(samples, k, seed);
    let mut predicted: BTreeMap<&str, Vec<Option<FaultClass>>> = models
        .iter()
        .map(|(name, _)| (*name, vec![None; samples.len()]))
        .collect();
    let mut per_fold: BTreeMap<(&str, Domain), Vec<f64>> = BTreeMap::new();
    for fold in 0..k {
        let (test_at, train_at): (Vec<usize>, Vec<usize>) =
            (0..samples.len()).partition(|i| fold_of[*i] == fold);
        if test_at.is_empty() {
            continue;
        }
        let train: Vec<Sample> = train_at.iter().map(|i| samples[*i].clone()).collect();
        let test = Pooled::of(test_at.iter().map(|i| &samples[*i]));
        for (name, model) in models {
            let started = std::time::Instant::now();
            let out = model(&train, &test.samples)
                .and_then(|verdicts| test.spread(&verdicts))
                .map_err(|e| format!("{name}, fold {}: {e}", fold + 1))?;
            progress(fold + 1, name, started.elapsed().as_secs_f64());
            for (&i, class) in test_at.iter().zip(out) {
                predicted.entry(name).or_default()[i] = Some(class);
            }
            for domain in [Domain::Kubernetes, Domain::Hadoop] {
                let (truth, guess): (Vec<FaultClass>, Vec<FaultClass>) = test_at
                    .iter()
                    .filter(|i| Domain::of(&samples[**i]) == domain)
                    .filter_map(|i| Some((samples[*i].label?, predicted[name][*i]?)))
                    .unzip();
                if !truth.is_empty() {
                    per_fold
                        .entry((name, domain))
                        .or_default()
                        .push(Scores::new(&truth, &guess).macro_f1);
                }
            }
        }
    }
    let mut report_models: BTreeMap<String, BTreeMap<Domain, DomainScores>> = BTreeMap::new();
    for ((name, domain), values) in per_fold {
        let (truth, guess): (Vec<FaultClass>, Vec<FaultClass>) = samples
            .iter()
            .zip(&predicted[name])
            .filter(|(s, _)| Domain::of(s) == domain)
            .filter_map(|(s, p)| Some((s.label?, (*p)?)))
            .unzip();
        report_models.entry(name.to_owned()).or_default().insert(
            domain,
            DomainScores {
                macro_f1: Summary::of(values),
                out_of_fold: Scores::new(&truth, &guess),
            },
        );
    }
    Ok(CvReport {
        folds: k,
        seed,
        samples: samples.len(),
        groups: samples
            .iter()
            .map(Sample::group)
            .collect::<BTreeSet<_>>()
            .len(),
        fold_sizes: (0..k)
            .map(|f| fold_of.iter().filter(|x| **x == f).count())
            .collect(),
        models: report_models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, source: Option<&str>, label: FaultClass) -> Sample {
        Sample {
            id: id.into(),
            lines: vec![id.into()],
            label: Some(label),
            source: source.map(str::to_owned),
        }
    }

    #[test]
    fn no_group_is_in_two_folds_and_classes_spread_over_them() {
        let mut samples = Vec::new();
        for app in 0..10 {
            for c in 0..4 {
                samples.push(sample(
                    &format!("hadoop/app{app}/c{c}"),
                    None,
                    FaultClass::NodeFailure,
                ));
            }
        }
        for i in 0..20 {
            // Two samples per thread.
            let thread = format!("owner/repo#{}", i / 2);
            samples.push(sample(&format!("k8s/{i}"), Some(&thread), FaultClass::Oom));
        }
        let folds = grouped_folds(&samples, 5, 3);
        let mut fold_of_group: BTreeMap<&str, usize> = BTreeMap::new();
        for (s, f) in samples.iter().zip(&folds) {
            assert_eq!(
                *fold_of_group.entry(s.group()).or_insert(*f),
                *f,
                "{}",
                s.group()
            );
        }
        for f in 0..5 {
            let of_class = |c| {
                samples
                    .iter()
                    .zip(&folds)
                    .filter(|(s, x)| **x == f && s.label == Some(c))
                    .count()
            };
            assert_eq!(of_class(FaultClass::NodeFailure), 8);
            assert_eq!(of_class(FaultClass::Oom), 4);
        }
        assert_eq!(grouped_folds(&samples, 5, 3), folds, "deterministic");
    }

    #[test]
    fn every_sample_is_scored_once_by_a_model_that_never_saw_it() {
        let samples: Vec<Sample> = (0..12)
            .map(|i| {
                let label = if i % 2 == 0 {
                    FaultClass::Oom
                } else {
                    FaultClass::Normal
                };
                sample(&format!("k8s/{i}"), None, label)
            })
            .collect();
        // A "model" that answers the class of the test sample only if it was in training: a leak would
        // score 1.0.
        let memorise: &Predictor<'_> = &|train, test| {
            Ok(test
                .iter()
                .map(|t| {
                    train
                        .iter()
                        .find(|s| s.id == t.id)
                        .and_then(|s| s.label)
                        .unwrap_or(FaultClass::ImagePull)
                })
                .collect())
        };
        let report = cross_validate(&samples, 3, 1, &[("memorise", memorise)], &mut |_, _, _| {})
            .expect("cv");
        let k8s = &report.models["memorise"][&Domain::Kubernetes];
        assert_eq!(k8s.out_of_fold.samples, 12);
        assert_eq!(k8s.macro_f1.folds.len(), 3);
        assert!(k8s.macro_f1.mean.abs() < 1e-12, "{k8s:?}");
        assert_eq!(report.fold_sizes, [4, 4, 4]);
    }

    #[test]
    fn a_held_out_application_is_read_as_one_and_each_container_scored() {
        // Four applications of two containers each; only one container of a faulty one says so.
        let mut samples = Vec::new();
        for app in 0..4 {
            let label = if app % 2 == 0 {
                FaultClass::NodeFailure
            } else {
                FaultClass::Normal
            };
            for c in 1..=2 {
                let id = format!("hadoop/application_9_{app}/container_9_{app}_01_00000{c}");
                let mut s = sample(&id, None, label);
                s.lines = vec![
                    if c == 2 && app % 2 == 0 {
                        "lost node"
                    } else {
                        "ok"
                    }
                    .into(),
                ];
                samples.push(s);
            }
        }
        let reads_lines: &Predictor<'_> = &|_, test| {
            Ok(test
                .iter()
                .map(|t| {
                    if t.lines.iter().any(|l| l == "lost node") {
                        FaultClass::NodeFailure
                    } else {
                        FaultClass::Normal
                    }
                })
                .collect())
        };
        let report = cross_validate(&samples, 2, 1, &[("lines", reads_lines)], &mut |_, _, _| {})
            .expect("cv");
        let hadoop = &report.models["lines"][&Domain::Hadoop];
        assert_eq!(hadoop.out_of_fold.samples, 8, "every container scored");
        assert!(
            (hadoop.out_of_fold.macro_f1 - 1.0).abs() < 1e-12,
            "{hadoop:?}"
        );
    }
}
