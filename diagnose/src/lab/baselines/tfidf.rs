//! TF-IDF features: lower-cased word unigrams and bigrams (digits-only words dropped), sub-linear term
//! frequency, smoothed IDF, L2-normalised rows.

use candle_core::{Device, Result, Tensor};
use std::collections::{BTreeMap, HashMap};

/// A fitted vocabulary with IDF weights.
pub struct TfIdf {
    vocabulary: HashMap<String, (usize, f32)>,
}

/// The terms of a sample: words of its lines and adjacent-word bigrams.
fn terms(lines: &[String]) -> Vec<String> {
    let mut terms = Vec::new();
    for line in lines {
        let words: Vec<String> = line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 1 && !w.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_lowercase)
            .collect();
        for pair in words.windows(2) {
            terms.push(format!("{} {}", pair[0], pair[1]));
        }
        terms.extend(words);
    }
    terms
}

impl TfIdf {
    /// Learns the vocabulary (terms in at least `min_df` samples) and IDF from `samples`.
    #[must_use]
    pub fn fit(samples: &[&[String]], min_df: usize) -> Self {
        let mut df: BTreeMap<String, usize> = BTreeMap::new();
        for sample in samples {
            let mut seen = terms(sample);
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let n = samples.len() as f32;
        let vocabulary = df
            .into_iter()
            .filter(|(_, d)| *d >= min_df)
            .enumerate()
            .map(|(i, (t, d))| (t, (i, ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)))
            .collect();
        Self { vocabulary }
    }

    /// The feature matrix `[samples, vocabulary]`.
    pub fn transform(&self, samples: &[&[String]]) -> Result<Tensor> {
        let width = self.vocabulary.len().max(1);
        let mut data = vec![0f32; samples.len() * width];
        for (row, sample) in samples.iter().enumerate() {
            let mut tf: HashMap<usize, (f32, f32)> = HashMap::new();
            for t in terms(sample) {
                if let Some(&(i, idf)) = self.vocabulary.get(&t) {
                    tf.entry(i).or_insert((0.0, idf)).0 += 1.0;
                }
            }
            let values: Vec<(usize, f32)> = tf
                .into_iter()
                .map(|(i, (count, idf))| (i, (1.0 + count.ln()) * idf))
                .collect();
            let norm = values
                .iter()
                .map(|(_, v)| v * v)
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            for (i, v) in values {
                data[row * width + i] = v / norm;
            }
        }
        Tensor::from_vec(data, (samples.len(), width), &Device::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_weigh_more_and_rows_are_unit_length() {
        let a = vec!["pod OOMKilled".to_owned()];
        let b = vec!["pod pending 123".to_owned()];
        let model = TfIdf::fit(&[&a, &b], 1);
        let x: Vec<Vec<f32>> = model.transform(&[&a]).expect("x").to_vec2().expect("vec");
        let norm: f32 = x[0].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let pod = model.vocabulary["pod"].0;
        let oom = model.vocabulary["oomkilled"].0;
        assert!(x[0][oom] > x[0][pod]);
        assert!(!model.vocabulary.contains_key("123"));
    }
}
