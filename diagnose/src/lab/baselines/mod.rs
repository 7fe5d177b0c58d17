//! The baselines the transformer is measured against, trained on the same data: keyword rules, word TF-IDF
//! with logistic regression, word and character n-gram TF-IDF with logistic regression or linear SVMs
//! ([`crate::ngram`]), and frozen sentence embeddings with logistic regression.

mod logreg;
mod tfidf;

pub use logreg::LogisticRegression;
pub use tfidf::TfIdf;

use crate::lab::corpus::Sample;
use crate::rules::{default_rules, first_match};
use crate::transformer::{
    BaseModelFiles, ClassifierError, Condensed, LowerEncoder, SampleRows, UpperEncoder,
    distinct_rows, load_base_config, load_base_tensors, summarise,
};
use schemas::FaultClass;
use std::collections::HashMap;

/// The keyword rules (`keyword-rules@1`, the stage's transparent model): each line votes for the class of
/// the first rule it matches with the rule's weight; no vote means `normal`.
#[must_use]
pub fn keyword_predict(samples: &[Sample]) -> Vec<FaultClass> {
    let rules = default_rules();
    samples
        .iter()
        .map(|sample| {
            let mut votes: HashMap<FaultClass, f64> = HashMap::new();
            for line in &sample.lines {
                if let Some(rule) = first_match(&rules, &line.to_lowercase()) {
                    *votes.entry(rule.class).or_insert(0.0) += rule.weight;
                }
            }
            votes
                .into_iter()
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .map_or(FaultClass::Normal, |(class, _)| class)
        })
        .collect()
}

/// Labels of a training set as indices into the classes present, in taxonomy order.
fn label_indices(train: &[Sample]) -> (Vec<FaultClass>, Vec<usize>) {
    let classes: Vec<FaultClass> = FaultClass::ALL
        .into_iter()
        .filter(|c| train.iter().any(|s| s.label == Some(*c)))
        .collect();
    let y = train
        .iter()
        .map(|s| {
            classes
                .iter()
                .position(|c| Some(*c) == s.label)
                .unwrap_or_default()
        })
        .collect();
    (classes, y)
}

/// TF-IDF + logistic regression, trained on `train`, predicting `test`.
///
/// # Errors
/// Tensor computation failed.
pub fn tfidf_predict(train: &[Sample], test: &[Sample]) -> candle_core::Result<Vec<FaultClass>> {
    let (classes, y) = label_indices(train);
    let lines = |s: &[Sample]| -> Vec<Vec<String>> { s.iter().map(|s| s.lines.clone()).collect() };
    let (train_lines, test_lines) = (lines(train), lines(test));
    let tfidf = TfIdf::fit(&slices(&train_lines), 1);
    let model = LogisticRegression::fit(
        &tfidf.transform(&slices(&train_lines))?,
        &y,
        classes.len(),
        1e-4,
    )?;
    Ok(model
        .predict(&tfidf.transform(&slices(&test_lines))?)?
        .into_iter()
        .map(|c| classes[c])
        .collect())
}

/// Word 1–2-gram + character 3–5-gram TF-IDF under the linear model `options` names (logistic regression
/// or one-vs-rest SVMs, [`crate::ngram`]), trained on `train`, predicting `test`.
#[must_use]
pub fn ngram_predict(
    train: &[Sample],
    test: &[Sample],
    options: crate::ngram::NgramOptions,
) -> Vec<FaultClass> {
    let labelled: Vec<(&[String], FaultClass)> = train
        .iter()
        .filter_map(|s| Some((s.lines.as_slice(), s.label?)))
        .collect();
    let (model, _) = crate::ngram::NgramClassifier::fit(&labelled, options);
    test.iter().map(|s| model.predict(&s.lines).0).collect()
}

fn slices(lines: &[Vec<String>]) -> Vec<&[String]> {
    lines.iter().map(Vec::as_slice).collect()
}

/// Frozen all-MiniLM-L6-v2 sentence embeddings (all six layers, mean pooling), summarised per sample like
/// the transformer's input (weighted mean, tail mean, max, sequence features), + logistic regression.
///
/// # Errors
/// Model files missing or computation failed.
pub fn frozen_embedding_predict(
    base: &BaseModelFiles,
    train: &[Sample],
    test: &[Sample],
    max_tokens: usize,
    max_distinct: usize,
) -> Result<Vec<FaultClass>, ClassifierError> {
    let config = load_base_config(base)?;
    let lower = LowerEncoder::new(
        base,
        &load_base_tensors(base)?,
        &config,
        config.num_hidden_layers,
        max_tokens,
    )?;
    let pooling = UpperEncoder::new(
        candle_nn::VarBuilder::zeros(candle_core::DType::F32, &candle_core::Device::Cpu),
        &config,
        0,
    )?;
    let condensed = |s: &[Sample]| -> Vec<Condensed> {
        s.iter()
            .map(|s| Condensed::new(&s.lines, max_distinct))
            .collect()
    };
    let (train_c, test_c) = (condensed(train), condensed(test));
    let all: Vec<&Condensed> = train_c.iter().chain(&test_c).collect();
    let (texts, mut rows) = distinct_rows(&all);
    let states = lower.encode(&texts)?;
    let pooled = pooling.pooled(&states.iter().collect::<Vec<_>>())?;
    let test_rows = rows.split_off(train_c.len());
    let features = |rows: &[SampleRows]| summarise(&pooled, rows);
    let (classes, y) = label_indices(train);
    let model = LogisticRegression::fit(&features(&rows)?, &y, classes.len(), 1e-4)?;
    Ok(model
        .predict(&features(&test_rows)?)?
        .into_iter()
        .map(|c| classes[c])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lines: &[&str], label: FaultClass) -> Sample {
        Sample {
            id: "x".into(),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            label: Some(label),
            source: None,
        }
    }

    #[test]
    fn keywords_vote_and_default_to_normal() {
        let samples = [
            sample(
                &["Last State: Terminated", "Reason: OOMKilled"],
                FaultClass::Oom,
            ),
            sample(&["GET /healthz 200"], FaultClass::Normal),
        ];
        assert_eq!(
            keyword_predict(&samples),
            [FaultClass::Oom, FaultClass::Normal]
        );
    }

    #[test]
    fn tfidf_learns_words_that_separate_classes() {
        let train = [
            sample(
                &["Back-off pulling image nginx:latst"],
                FaultClass::ImagePull,
            ),
            sample(
                &["Failed to pull image registry/app"],
                FaultClass::ImagePull,
            ),
            sample(
                &["0/3 nodes are available: Insufficient cpu"],
                FaultClass::Scheduling,
            ),
            sample(
                &["0/5 nodes are available: node(s) had taint"],
                FaultClass::Scheduling,
            ),
        ];
        let test = [
            sample(&["pull image foo failed"], FaultClass::ImagePull),
            sample(
                &["nodes are available: Insufficient memory"],
                FaultClass::Scheduling,
            ),
        ];
        assert_eq!(
            tfidf_predict(&train, &test).expect("fit"),
            [FaultClass::ImagePull, FaultClass::Scheduling]
        );
    }
}
