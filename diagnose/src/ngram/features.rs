//! Word and character n-gram TF-IDF features of a text: lower-cased word 1–2-grams (words of two or more
//! word characters) and character 3–5-grams inside word boundaries (`char_wb`: each whitespace-separated
//! word padded with one space on each side). Each block has sub-linear term frequency (`1 + ln tf`),
//! smoothed IDF (`ln((1 + n) / (1 + df)) + 1`) and unit L2 norm, as scikit-learn's `TfidfVectorizer` with
//! `analyzer="word", ngram_range=(1, 2)` and `analyzer="char_wb", ngram_range=(3, 5)` side by side.

use std::collections::{BTreeMap, HashMap};

/// A sparse feature row: ascending feature indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRow {
    /// Feature indices, ascending.
    pub indices: Vec<u32>,
    /// The value of each index.
    pub values: Vec<f32>,
}

/// One block of the features: a vocabulary with IDF weights.
#[derive(Debug, Clone, Default)]
struct Block {
    /// Term → (feature index within the block, IDF).
    terms: HashMap<String, (u32, f32)>,
}

impl Block {
    fn fit(documents: &[Vec<String>], min_df: usize) -> Self {
        let mut df: BTreeMap<&str, usize> = BTreeMap::new();
        for terms in documents {
            let mut seen: Vec<&str> = terms.iter().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let n = documents.len() as f32;
        let terms = df
            .into_iter()
            .filter(|(_, d)| *d >= min_df)
            .enumerate()
            .map(|(i, (t, d))| {
                let idf = ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0;
                (t.to_owned(), (i as u32, idf))
            })
            .collect();
        Self { terms }
    }

    fn len(&self) -> usize {
        self.terms.len()
    }

    /// Terms in feature order, with their IDF.
    fn ordered(&self) -> (Vec<String>, Vec<f32>) {
        let mut pairs: Vec<(&String, &(u32, f32))> = self.terms.iter().collect();
        pairs.sort_by_key(|(_, (i, _))| *i);
        pairs
            .into_iter()
            .map(|(t, (_, idf))| (t.clone(), *idf))
            .unzip()
    }

    fn from_ordered(terms: Vec<String>, idf: &[f32]) -> Self {
        Self {
            terms: terms
                .into_iter()
                .zip(idf)
                .enumerate()
                .map(|(i, (t, idf))| (t, (i as u32, *idf)))
                .collect(),
        }
    }

    /// The block's unit-length TF-IDF values of `terms`, indices offset by `base`, appended to `row`.
    fn push(&self, terms: &[String], base: u32, row: &mut SparseRow) {
        let mut tf: BTreeMap<u32, (f32, f32)> = BTreeMap::new();
        for t in terms {
            if let Some(&(i, idf)) = self.terms.get(t) {
                tf.entry(i).or_insert((0.0, idf)).0 += 1.0;
            }
        }
        let values: Vec<(u32, f32)> = tf
            .into_iter()
            .map(|(i, (count, idf))| (i, (1.0 + count.ln()) * idf))
            .collect();
        let norm = values.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return;
        }
        for (i, v) in values {
            row.indices.push(base + i);
            row.values.push(v / norm);
        }
    }
}

/// Words of two or more word characters (letters, digits, `_`), lower-cased.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_lowercase)
}

/// Word unigrams and bigrams.
fn word_terms(text: &str) -> Vec<String> {
    let words: Vec<String> = words(text).collect();
    let mut terms: Vec<String> = words
        .windows(2)
        .map(|pair| format!("{} {}", pair[0], pair[1]))
        .collect();
    terms.extend(words);
    terms
}

/// Character 3–5-grams of each whitespace-separated word padded with spaces; a padded word shorter than
/// an n-gram counts once, whole.
fn char_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for word in text.to_lowercase().split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in 3..=5 {
            if padded.len() <= n {
                terms.push(padded.iter().collect());
                break;
            }
            terms.extend(padded.windows(n).map(|w| w.iter().collect::<String>()));
        }
    }
    terms
}

/// Fitted word and character n-gram vocabularies.
#[derive(Debug, Clone, Default)]
pub struct NgramFeatures {
    words: Block,
    chars: Block,
}

impl NgramFeatures {
    /// Learns both vocabularies (terms in at least `min_df` texts) and their IDF from `texts`.
    #[must_use]
    pub fn fit(texts: &[String], min_df: usize) -> Self {
        let words: Vec<Vec<String>> = texts.iter().map(|t| word_terms(t)).collect();
        let chars: Vec<Vec<String>> = texts.iter().map(|t| char_terms(t)).collect();
        Self {
            words: Block::fit(&words, min_df),
            chars: Block::fit(&chars, min_df),
        }
    }

    /// Number of features (word block first, then characters).
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.len() + self.chars.len()
    }

    /// Whether no term was learnt.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Both vocabularies in feature order with their IDF: (word terms, word IDF, character terms,
    /// character IDF).
    #[must_use]
    pub fn to_parts(&self) -> (Vec<String>, Vec<f32>, Vec<String>, Vec<f32>) {
        let (words, word_idf) = self.words.ordered();
        let (chars, char_idf) = self.chars.ordered();
        (words, word_idf, chars, char_idf)
    }

    /// The features [`NgramFeatures::to_parts`] describes; `None` when a list and its IDF differ in
    /// length.
    #[must_use]
    pub fn from_parts(
        words: Vec<String>,
        word_idf: &[f32],
        chars: Vec<String>,
        char_idf: &[f32],
    ) -> Option<Self> {
        (words.len() == word_idf.len() && chars.len() == char_idf.len()).then(|| Self {
            words: Block::from_ordered(words, word_idf),
            chars: Block::from_ordered(chars, char_idf),
        })
    }

    /// The feature row of one text.
    #[must_use]
    pub fn transform(&self, text: &str) -> SparseRow {
        let mut row = SparseRow::default();
        self.words.push(&word_terms(text), 0, &mut row);
        self.chars
            .push(&char_terms(text), self.words.len() as u32, &mut row);
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_word_pairs_and_padded_character_grams() {
        assert_eq!(
            word_terms("Back-off a pulling"),
            ["back off", "off pulling", "back", "off", "pulling"]
        );
        assert_eq!(
            char_terms("OOM ab"),
            [
                " oo", "oom", "om ", " oom", "oom ", " oom ", " ab", "ab ", " ab "
            ]
        );
    }

    #[test]
    fn each_block_has_unit_length_and_rare_terms_weigh_more() {
        let texts = ["pod OOMKilled".to_owned(), "pod pending".to_owned()];
        let features = NgramFeatures::fit(&texts, 1);
        let row = features.transform(&texts[0]);
        let words = features.words.len() as u32;
        let block_norm = |in_block: &dyn Fn(u32) -> bool| -> f32 {
            row.indices
                .iter()
                .zip(&row.values)
                .filter(|(i, _)| in_block(**i))
                .map(|(_, v)| v * v)
                .sum()
        };
        assert!((block_norm(&|i| i < words) - 1.0).abs() < 1e-5);
        assert!((block_norm(&|i| i >= words) - 1.0).abs() < 1e-5);
        let value = |term: &str| {
            let index = features.words.terms[term].0;
            row.indices
                .iter()
                .position(|i| *i == index)
                .map(|p| row.values[p])
        };
        assert!(value("oomkilled") > value("pod"));
        assert_eq!(features.transform("xyz qqq").indices.len(), 0);
    }
}
