//! The n-gram classifier: word 1–2-grams and character 3–5-grams (TF-IDF, [`NgramFeatures`]) under a
//! linear model — one-vs-rest support vector machines (squared hinge, [`hinge`]) or a multinomial
//! logistic regression ([`SoftmaxRegression`], fitted with L-BFGS), as [`NgramLoss`] says. A sample is the
//! bag of its lines' n-grams. Chosen as medic's default classifier by grouped cross-validation on real
//! Kubernetes fault lines; character n-grams read `OOMKilled`, `ImagePullBackOff` and `CrashLoopBackOff`
//! in any spelling, which words alone do not.

mod features;
pub mod hinge;
mod lbfgs;
mod softmax;
mod store;
mod term_cache;

pub use features::{LineTerms, NgramFeatures, SparseRow};
pub use softmax::{FitReport, SoftmaxRegression, softmax_in_place};
pub use store::{KIND, NgramSpec, is_ngram_dir};
pub use term_cache::TermCache;

use schemas::FaultClass;
use serde::{Deserialize, Serialize};

/// The loss the linear model minimises over the n-gram features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NgramLoss {
    /// Multinomial cross-entropy (logistic regression). What a spec written before the loss was
    /// recorded was fitted with, hence the default when reading one.
    #[default]
    Logistic,
    /// One-vs-rest squared hinge (linear support vector machines): chosen by grouped cross-validation.
    SquaredHinge,
}

impl NgramLoss {
    /// The name in specs and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::SquaredHinge => "squared_hinge",
        }
    }
}

impl std::str::FromStr for NgramLoss {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Logistic, Self::SquaredHinge]
            .into_iter()
            .find(|loss| loss.name() == s)
            .ok_or_else(|| format!("unknown loss `{s}` (logistic, squared_hinge)"))
    }
}

impl std::fmt::Display for NgramLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NgramOptions {
    /// A term enters the vocabulary when at least this many training samples have it.
    pub min_df: usize,
    /// Inverse L2 regularisation strength.
    pub c: f64,
    /// The loss (a spec without one was fitted with [`NgramLoss::Logistic`]).
    #[serde(default)]
    pub loss: NgramLoss,
    /// The length of the word block in a row, the character block's being 1 (a spec without one was
    /// fitted with 1).
    #[serde(default = "unit_weight")]
    pub word_weight: f32,
}

fn unit_weight() -> f32 {
    1.0
}

/// What a new fit uses. Not what a spec without a loss reads as: that is [`NgramLoss::default`],
/// logistic, because such a spec was fitted before the SVMs existed.
impl Default for NgramOptions {
    fn default() -> Self {
        Self {
            min_df: 1,
            c: 10.0,
            loss: NgramLoss::SquaredHinge,
            word_weight: 1.0,
        }
    }
}

/// A fitted n-gram classifier.
#[derive(Debug, Clone)]
pub struct NgramClassifier {
    labels: Vec<FaultClass>,
    features: NgramFeatures,
    model: SoftmaxRegression,
    options: NgramOptions,
    temperature: f64,
    /// SHA-256 of `spec.json` once saved or loaded (empty before): it names labels, options, temperature
    /// and the hashes of the other files, so any change to the model changes it.
    spec_sha256: String,
}

impl NgramClassifier {
    /// Fits on labelled samples (each its lines and its class).
    #[must_use]
    pub fn fit(samples: &[(&[String], FaultClass)], options: NgramOptions) -> (Self, FitReport) {
        let labels: Vec<FaultClass> = FaultClass::ALL
            .into_iter()
            .filter(|c| samples.iter().any(|(_, label)| label == c))
            .collect();
        let documents: Vec<&[String]> = samples.iter().map(|(lines, _)| *lines).collect();
        let features =
            NgramFeatures::fit(&documents, options.min_df).with_word_weight(options.word_weight);
        let rows: Vec<SparseRow> = documents.iter().map(|d| features.transform(d)).collect();
        let y: Vec<usize> = samples
            .iter()
            .map(|(_, label)| labels.iter().position(|l| l == label).unwrap_or_default())
            .collect();
        let (model, report) = match options.loss {
            NgramLoss::Logistic => {
                SoftmaxRegression::fit(&rows, &y, labels.len(), features.len(), options.c)
            }
            NgramLoss::SquaredHinge => {
                hinge::fit_one_vs_rest(&rows, &y, labels.len(), features.len(), options.c)
            }
        };
        (
            Self {
                labels,
                features,
                model,
                options,
                temperature: 1.0,
                spec_sha256: String::new(),
            },
            report,
        )
    }

    /// The name and version written on diagnoses: `ngram@<first 12 hex digits of spec.json's hash>`.
    #[must_use]
    pub fn model_id(&self) -> String {
        let hash = self.spec_sha256.get(..12).unwrap_or("unsaved");
        format!("ngram@{hash}")
    }

    /// The same model with scores divided by `temperature` before the softmax (calibration).
    #[must_use]
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// The classes the model knows, in the order of [`NgramClassifier::probabilities`].
    #[must_use]
    pub fn labels(&self) -> &[FaultClass] {
        &self.labels
    }

    /// The probability of each of [`NgramClassifier::labels`] for a sample's lines.
    #[must_use]
    pub fn probabilities<S: AsRef<str>>(&self, lines: &[S]) -> Vec<f64> {
        self.model
            .probabilities(&self.features.transform(lines), self.temperature)
    }

    /// The class scores (logits, before the temperature) of a sample's lines, in the order of
    /// [`NgramClassifier::labels`].
    #[must_use]
    pub fn scores<S: AsRef<str>>(&self, lines: &[S]) -> Vec<f64> {
        self.model.scores(&self.features.transform(lines))
    }

    /// The most likely class of a sample given as distinct lines with how often each occurred, with its
    /// probability.
    #[must_use]
    pub fn predict_counted<'a>(
        &self,
        lines: impl IntoIterator<Item = (&'a str, u32)>,
    ) -> (FaultClass, f64) {
        let row = self.features.transform_counted(lines);
        self.most_likely(&self.model.probabilities(&row, self.temperature))
    }

    /// [`NgramClassifier::predict_counted`] with each distinct line's terms taken from `cache`.
    pub fn predict_cached(
        &self,
        lines: &[(&str, u32)],
        cache: &mut TermCache,
    ) -> (FaultClass, f64) {
        if !cache.fill(&self.features, lines.iter().map(|(line, _)| *line)) {
            return self.predict_counted(lines.iter().copied());
        }
        let row = self.features.transform_terms(
            lines
                .iter()
                .filter_map(|(line, times)| Some((cache.get(line)?, *times))),
        );
        self.most_likely(&self.model.probabilities(&row, self.temperature))
    }

    /// [`NgramClassifier::probabilities`] of one line, computed once and then taken from `cache`.
    pub fn line_probabilities(&self, line: &str, cache: &mut TermCache) -> Vec<f64> {
        cache.fill(&self.features, std::iter::once(line));
        let compute = |terms: &LineTerms| {
            let row = self.features.transform_terms([(terms, 1)]);
            self.model.probabilities(&row, self.temperature)
        };
        match cache.alone(line, compute) {
            Some(p) => p.to_vec(),
            None => self.probabilities(&[line]),
        }
    }

    fn most_likely(&self, p: &[f64]) -> (FaultClass, f64) {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or((FaultClass::Normal, 0.0), |(i, p)| (self.labels[i], *p))
    }

    /// The most likely class of a sample's lines, with its probability.
    #[must_use]
    pub fn predict<S: AsRef<str>>(&self, lines: &[S]) -> (FaultClass, f64) {
        self.most_likely(&self.probabilities(lines))
    }
}

/// Five rows of three nearly separable classes (features 0, 1 and 2), and their classes: the fits'
/// tests share them.
#[cfg(test)]
fn three_classes() -> (Vec<SparseRow>, Vec<usize>) {
    let row = |pairs: &[(u32, f32)]| SparseRow {
        indices: pairs.iter().map(|p| p.0).collect(),
        values: pairs.iter().map(|p| p.1).collect(),
    };
    let x = vec![
        row(&[(0, 1.0)]),
        row(&[(0, 0.9), (2, 0.1)]),
        row(&[(1, 1.0)]),
        row(&[(1, 0.8), (2, 0.2)]),
        row(&[(2, 1.0)]),
    ];
    (x, vec![0, 0, 1, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_written_before_the_loss_was_recorded_reads_as_logistic() {
        let old: NgramOptions = serde_json::from_str(r#"{"min_df":1,"c":10.0}"#).expect("old");
        assert_eq!(old.loss, NgramLoss::Logistic);
        let new = NgramOptions::default();
        let text = serde_json::to_string(&new).expect("json");
        assert!(text.contains(r#""loss":"squared_hinge""#), "{text}");
        assert_eq!(serde_json::from_str::<NgramOptions>(&text).ok(), Some(new));
        for loss in [NgramLoss::Logistic, NgramLoss::SquaredHinge] {
            assert_eq!(loss.to_string().parse::<NgramLoss>(), Ok(loss));
        }
        assert!("hinge".parse::<NgramLoss>().is_err());
    }

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

        // Terms read once and cached give the same answers, whether the cache holds a window's lines,
        // must be emptied for them, or is too small for them.
        let window = [
            ("Back-off pulling image \"web:1.2\"", 3),
            ("GET /healthz 200 in 2 ms", 40),
            ("synced 7 items", 5),
        ];
        let (class, p) = model.predict_counted(window.iter().copied());
        for capacity in [10, 4, 2] {
            let mut cache = TermCache::new(capacity);
            for _ in 0..3 {
                let (cached_class, cached_p) = model.predict_cached(&window, &mut cache);
                assert_eq!(cached_class, class, "capacity {capacity}");
                assert!((cached_p - p).abs() < 1e-9, "capacity {capacity}");
                cache.fill(&model.features, ["other line"].into_iter());
            }
            assert!(cache.len() <= capacity);
            let alone = model.line_probabilities(window[0].0, &mut cache);
            let expected = model.probabilities(&[window[0].0]);
            assert!(
                alone
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| (a - b).abs() < 1e-9)
            );
        }
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    #[test]
    fn a_saved_model_loads_back_with_the_same_answers_and_refuses_tampering() {
        let lines = |l: &str| vec![l.to_owned()];
        let train = [
            (lines("Back-off pulling image"), FaultClass::ImagePull),
            (lines("Reason: OOMKilled"), FaultClass::Oom),
            (lines("GET /healthz 200"), FaultClass::Normal),
        ];
        let samples: Vec<(&[String], FaultClass)> =
            train.iter().map(|(l, c)| (l.as_slice(), *c)).collect();
        let dir = std::env::temp_dir().join(format!("medic-ngram-{}", std::process::id()));
        let probe = lines("ErrImagePull back-off");
        for loss in [NgramLoss::SquaredHinge, NgramLoss::Logistic] {
            let options = NgramOptions {
                loss,
                ..NgramOptions::default()
            };
            let (mut model, _) = NgramClassifier::fit(&samples, options);
            let spec = model.save(&dir).expect("save");
            assert_eq!(spec.kind, KIND);
            assert_eq!(spec.options.loss, loss);
            assert!(is_ngram_dir(&dir));
            let loaded = NgramClassifier::load(&dir).expect("load");
            assert_eq!(loaded.model_id(), model.model_id());
            assert_eq!(loaded.options.loss, loss);
            assert!(loaded.model_id().starts_with("ngram@"));
            assert_eq!(loaded.probabilities(&probe), model.probabilities(&probe));
        }
        // A word weight other than 1 is applied on load as on fit, on every path that builds a row; a
        // spec with a negative one is refused.
        let options = NgramOptions {
            word_weight: 0.3,
            ..NgramOptions::default()
        };
        let (mut weighted, _) = NgramClassifier::fit(&samples, options);
        weighted.save(&dir).expect("save");
        let loaded = NgramClassifier::load(&dir).expect("load");
        assert_eq!(loaded.probabilities(&probe), weighted.probabilities(&probe));
        let counted = [("ErrImagePull back-off", 2), ("GET /healthz 200", 1)];
        let mut cache = TermCache::new(8);
        let (class, p) = weighted.predict_counted(counted.iter().copied());
        let (cached_class, cached_p) = loaded.predict_cached(&counted, &mut cache);
        assert!(class == cached_class && (p - cached_p).abs() < 1e-9);
        let unweighted = NgramClassifier::fit(&samples, NgramOptions::default()).0;
        assert_ne!(
            weighted.probabilities(&probe),
            unweighted.probabilities(&probe)
        );
        let spec_path = dir.join("spec.json");
        let text = std::fs::read_to_string(&spec_path).expect("spec");
        std::fs::write(&spec_path, text.replace("0.3", "-0.3")).expect("write");
        let error = NgramClassifier::load(&dir).expect_err("negative weight");
        assert!(error.to_string().contains("word_weight"), "{error}");
        // A spec written before the loss and the word weight were recorded (a logistic model's, less
        // both) loads as the logistic model it was, with the same answers.
        let (mut logistic, _) = NgramClassifier::fit(
            &samples,
            NgramOptions {
                loss: NgramLoss::Logistic,
                ..NgramOptions::default()
            },
        );
        logistic.save(&dir).expect("save");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&spec_path).expect("spec"))
                .expect("json");
        let options = spec["options"].as_object_mut().expect("options");
        assert_eq!(options.remove("loss"), Some(serde_json::json!("logistic")));
        assert_eq!(options.remove("word_weight"), Some(serde_json::json!(1.0)));
        std::fs::write(&spec_path, spec.to_string()).expect("write");
        let loaded = NgramClassifier::load(&dir).expect("older spec");
        assert_eq!(loaded.options.loss, NgramLoss::Logistic);
        assert!((loaded.options.word_weight - 1.0).abs() < f32::EPSILON);
        assert_eq!(loaded.probabilities(&probe), logistic.probabilities(&probe));
        std::fs::write(dir.join("vocabulary.json"), "{\"words\":[],\"chars\":[]}").expect("write");
        let error = NgramClassifier::load(&dir).expect_err("tampered");
        assert!(error.to_string().contains("hash"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
