//! The n-gram classifier: word 1–2-grams and character 3–5-grams (TF-IDF, [`features`]) under a
//! multinomial logistic regression ([`softmax`], fitted with [`lbfgs`]). A sample's lines are read as one
//! text. It is the strong simple baseline the transformer is measured against in grouped
//! cross-validation: character n-grams read `OOMKilled`, `ImagePullBackOff` and `CrashLoopBackOff` in any
//! spelling, which words alone do not.

mod features;
mod lbfgs;
mod softmax;

pub use features::{NgramFeatures, SparseRow};
pub use softmax::{FitReport, SoftmaxRegression};

use schemas::FaultClass;
use serde::{Deserialize, Serialize};

/// Settings of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NgramOptions {
    /// A term enters the vocabulary when at least this many training samples have it.
    pub min_df: usize,
    /// Inverse L2 regularisation strength.
    pub c: f64,
}

impl Default for NgramOptions {
    fn default() -> Self {
        Self { min_df: 1, c: 10.0 }
    }
}

/// A fitted n-gram classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NgramClassifier {
    labels: Vec<FaultClass>,
    features: NgramFeatures,
    model: SoftmaxRegression,
}

/// The text of a sample: its lines, one per line.
fn text_of(lines: &[String]) -> String {
    lines.join("\n")
}

impl NgramClassifier {
    /// Fits on labelled samples (each its lines and its class).
    #[must_use]
    pub fn fit(samples: &[(&[String], FaultClass)], options: NgramOptions) -> (Self, FitReport) {
        let labels: Vec<FaultClass> = FaultClass::ALL
            .into_iter()
            .filter(|c| samples.iter().any(|(_, label)| label == c))
            .collect();
        let texts: Vec<String> = samples.iter().map(|(lines, _)| text_of(lines)).collect();
        let features = NgramFeatures::fit(&texts, options.min_df);
        let rows: Vec<SparseRow> = texts.iter().map(|t| features.transform(t)).collect();
        let y: Vec<usize> = samples
            .iter()
            .map(|(_, label)| labels.iter().position(|l| l == label).unwrap_or_default())
            .collect();
        let (model, report) =
            SoftmaxRegression::fit(&rows, &y, labels.len(), features.len(), options.c);
        (
            Self {
                labels,
                features,
                model,
            },
            report,
        )
    }

    /// The classes the model knows, in the order of [`NgramClassifier::probabilities`].
    #[must_use]
    pub fn labels(&self) -> &[FaultClass] {
        &self.labels
    }

    /// The probability of each of [`NgramClassifier::labels`] for a sample's lines.
    #[must_use]
    pub fn probabilities(&self, lines: &[String]) -> Vec<f64> {
        self.model
            .probabilities(&self.features.transform(&text_of(lines)), 1.0)
    }

    /// The most likely class of a sample's lines, with its probability.
    #[must_use]
    pub fn predict(&self, lines: &[String]) -> (FaultClass, f64) {
        let p = self.probabilities(lines);
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or((FaultClass::Normal, 0.0), |(i, p)| (self.labels[i], *p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_grams_carry_a_class_to_spellings_never_seen() {
        let lines = |l: &str| vec![l.to_owned()];
        let train = [
            (
                lines("Back-off pulling image \"nginx:latst\""),
                FaultClass::ImagePull,
            ),
            (
                lines("Warning Failed ErrImagePull rpc error"),
                FaultClass::ImagePull,
            ),
            (
                lines("Last State: Terminated Reason: OOMKilled"),
                FaultClass::Oom,
            ),
            (
                lines("Memory cgroup out of memory: Kill process"),
                FaultClass::Oom,
            ),
            (lines("GET /healthz 200 in 3 ms"), FaultClass::Normal),
            (lines("synced 12 items"), FaultClass::Normal),
        ];
        let samples: Vec<(&[String], FaultClass)> =
            train.iter().map(|(l, c)| (l.as_slice(), *c)).collect();
        let (model, report) = NgramClassifier::fit(&samples, NgramOptions::default());
        assert!(report.converged, "{report:?}");
        // Words the training set never had as words, only inside others.
        assert_eq!(
            model.predict(&lines("ImagePullBackOff")).0,
            FaultClass::ImagePull
        );
        assert_eq!(
            model.predict(&lines("container oom-killed")).0,
            FaultClass::Oom
        );
    }
}
