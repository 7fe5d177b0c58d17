//! Temperature scaling of the n-gram model from out-of-fold scores: every sample is scored by a model
//! fitted without its fold (the folds of [`crate::lab::cv`]), and the one temperature that makes those
//! scores' probabilities most likely is the one shipped. Calibration matters because
//! `diagnose.min_confidence` reads the probability: below it a diagnosis is `uncertain` and decide only
//! escalates.

use crate::lab::corpus::Sample;
use crate::lab::workload::Pooled;
use crate::ngram::{NgramClassifier, NgramOptions, softmax_in_place};
use schemas::FaultClass;
use serde::Serialize;

/// One sample's class scores from a model that never saw it.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Scores (logits) in the order of `labels`.
    pub logits: Vec<f64>,
    /// The classes of the model that scored it.
    pub labels: Vec<FaultClass>,
    /// The sample's class.
    pub truth: FaultClass,
}

/// How well the probabilities fit, before and after scaling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// The fitted temperature (scores are divided by it before the softmax).
    pub temperature: f64,
    /// Mean negative log-likelihood of the true class at temperature 1 and at the fitted one.
    pub nll: (f64, f64),
    /// Expected calibration error (10 equal-width confidence bins) at temperature 1 and at the fitted one.
    pub ece: (f64, f64),
    /// Samples scored.
    pub samples: usize,
}

/// Scores every labelled sample with the n-gram model fitted on the other folds (`fold_of[i]`: sample
/// `i`'s fold), a held-out fold pooled per workload as it is served ([`Pooled`]).
#[must_use]
pub fn out_of_fold_ngram(
    samples: &[Sample],
    fold_of: &[usize],
    options: NgramOptions,
) -> Vec<Scored> {
    let folds = fold_of.iter().max().map_or(0, |f| f + 1);
    let mut scored = Vec::new();
    for fold in 0..folds {
        let train: Vec<(&[String], FaultClass)> = samples
            .iter()
            .zip(fold_of)
            .filter(|(_, f)| **f != fold)
            .filter_map(|(s, _)| Some((s.lines.as_slice(), s.label?)))
            .collect();
        if train.is_empty() {
            continue;
        }
        let (model, _) = NgramClassifier::fit(&train, options);
        let held_out: Vec<&Sample> = samples
            .iter()
            .zip(fold_of)
            .filter(|(_, f)| **f == fold)
            .map(|(s, _)| s)
            .collect();
        let pooled = Pooled::of(held_out.iter().copied());
        let logits: Vec<Vec<f64>> = pooled
            .samples
            .iter()
            .map(|s| model.scores(&s.lines))
            .collect();
        let Ok(logits) = pooled.spread(&logits) else {
            unreachable!("one score per workload")
        };
        for (sample, logits) in held_out.iter().zip(logits) {
            if let Some(truth) = sample.label {
                scored.push(Scored {
                    logits,
                    labels: model.labels().to_vec(),
                    truth,
                });
            }
        }
    }
    scored
}

fn softmax(logits: &[f64], temperature: f64) -> Vec<f64> {
    let mut p: Vec<f64> = logits.iter().map(|v| v / temperature).collect();
    softmax_in_place(&mut p);
    p
}

/// Mean negative log-likelihood of the true class at `temperature` (a class the scoring model did not
/// know has probability 0, counted as 1e-12).
#[must_use]
pub fn nll(scored: &[Scored], temperature: f64) -> f64 {
    let total: f64 = scored
        .iter()
        .map(|s| {
            let p = softmax(&s.logits, temperature);
            let truth = s.labels.iter().position(|l| *l == s.truth);
            -truth.map_or(1e-12, |i| p[i]).max(1e-12).ln()
        })
        .sum();
    total / scored.len().max(1) as f64
}

/// Expected calibration error at `temperature`: over 10 equal-width bins of the top probability, the
/// sample-weighted gap between mean confidence and accuracy.
#[must_use]
pub fn ece(scored: &[Scored], temperature: f64) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0.0f64); 10];
    for s in scored {
        let p = softmax(&s.logits, temperature);
        let (top, confidence) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or((0, 0.0), |(i, p)| (i, *p));
        let bin = ((confidence * 10.0) as usize).min(9);
        bins[bin].0 += 1;
        bins[bin].1 += confidence;
        bins[bin].2 += f64::from(u8::from(s.labels.get(top) == Some(&s.truth)));
    }
    let n = scored.len().max(1) as f64;
    // Per bin, |Σ confidence − Σ correct| / n = (bin size / n) · |mean confidence − accuracy|.
    bins.iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|(_, confidence, correct)| (confidence - correct).abs() / n)
        .sum()
}

/// The temperature (on a log grid from 0.05 to 10: a support vector machine's margins are near ±1, a
/// logistic model's logits wider) with the lowest [`nll`], and the scores before and after.
#[must_use]
pub fn calibrate(scored: &[Scored]) -> Calibration {
    let temperature = (0..=92)
        .map(|step| 0.05 * 200f64.powf(f64::from(step) / 92.0))
        .min_by(|a, b| nll(scored, *a).total_cmp(&nll(scored, *b)))
        .unwrap_or(1.0);
    Calibration {
        temperature,
        nll: (nll(scored, 1.0), nll(scored, temperature)),
        ece: (ece(scored, 1.0), ece(scored, temperature)),
        samples: scored.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(logits: [f64; 2], truth: FaultClass) -> Scored {
        Scored {
            logits: logits.to_vec(),
            labels: vec![FaultClass::Normal, FaultClass::Oom],
            truth,
        }
    }

    #[test]
    fn overconfident_scores_are_cooled_and_their_error_falls() {
        // Always 99 % sure, right 3 times out of 4.
        let sure = [5.0, 0.4];
        let set = [
            scored(sure, FaultClass::Normal),
            scored(sure, FaultClass::Normal),
            scored(sure, FaultClass::Normal),
            scored(sure, FaultClass::Oom),
        ];
        let c = calibrate(&set);
        assert!(c.temperature > 1.5, "{c:?}");
        assert!(c.nll.1 < c.nll.0 && c.ece.1 < c.ece.0, "{c:?}");
        // At the fitted temperature the confidence is close to the 75 % accuracy.
        assert!((c.ece.1).abs() < 0.05, "{c:?}");
    }

    #[test]
    fn a_held_out_applications_containers_are_scored_as_one() {
        let sample = |id: &str, line: &str, label| Sample {
            id: id.into(),
            lines: vec![line.into()],
            label: Some(label),
            source: None,
        };
        let app = "hadoop/application_9_1";
        let container = |n: u32, line: &str, label| {
            sample(&format!("{app}/container_9_1_01_00000{n}"), line, label)
        };
        // Two labels in one application, so that the order of the scores shows.
        let samples = [
            sample("k8s/1", "OOMKilled exit code 137", FaultClass::Oom),
            sample("k8s/2", "all good here", FaultClass::Normal),
            container(1, "OOMKilled", FaultClass::Oom),
            Sample {
                label: None,
                ..container(3, "quiet", FaultClass::Oom)
            },
            container(2, "all good", FaultClass::Normal),
        ];
        let scored = out_of_fold_ngram(&samples, &[0, 0, 1, 1, 1], NgramOptions::default());
        let truths: Vec<FaultClass> = scored.iter().map(|s| s.truth).collect();
        use FaultClass::{Normal, Oom};
        assert_eq!(
            truths,
            [Oom, Normal, Oom, Normal],
            "every labelled sample once, in order"
        );
        assert_eq!(
            scored[2].logits, scored[3].logits,
            "one application, one score"
        );
        assert_ne!(scored[0].logits, scored[1].logits);
    }
}
