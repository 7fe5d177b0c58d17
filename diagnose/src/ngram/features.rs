//! Word and character n-gram TF-IDF features of a sample's lines: lower-cased word 1–2-grams (words of two
//! or more word characters; pairs within a line) and character 3–5-grams inside word boundaries
//! (`char_wb`: each whitespace-separated word padded with one space on each side). Each block has
//! sub-linear term frequency (`1 + ln tf`), smoothed IDF (`ln((1 + n) / (1 + df)) + 1`) and unit L2 norm,
//! as scikit-learn's `TfidfVectorizer` with `analyzer="word", ngram_range=(1, 2)` and
//! `analyzer="char_wb", ngram_range=(3, 5)` side by side. The word block is then scaled by a weight
//! ([`NgramFeatures::with_word_weight`], 1 unless set): below 1, the linear model leans on character
//! n-grams, which carry to words a thread never used, more than on whole words, which name its own.
//!
//! Lines are untrusted: only the first [`MAX_LINE_BYTES`] of each are read, and n-grams are looked up as
//! borrowed slices, so a window's memory does not grow with the length of its lines.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Bytes of a line read at most (cut at a character boundary).
pub const MAX_LINE_BYTES: usize = 2048;

/// A sparse feature row: ascending feature indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRow {
    /// Feature indices, ascending.
    pub indices: Vec<u32>,
    /// The value of each index.
    pub values: Vec<f32>,
}

/// The first [`MAX_LINE_BYTES`] of `line`.
fn clip(line: &str) -> &str {
    let mut end = line.len().min(MAX_LINE_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Calls `word` with each word unigram and bigram of `line` and `char_gram` with each character n-gram.
fn for_each_term(line: &str, mut word: impl FnMut(&str), mut char_gram: impl FnMut(&str)) {
    let lower = clip(line).to_lowercase();
    let mut previous: Option<&str> = None;
    let mut pair = String::new();
    let words = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().nth(1).is_some());
    for w in words {
        word(w);
        if let Some(p) = previous {
            pair.clear();
            pair.push_str(p);
            pair.push(' ');
            pair.push_str(w);
            word(&pair);
        }
        previous = Some(w);
    }
    let (mut padded, mut bounds) = (String::new(), Vec::new());
    for w in lower.split_whitespace() {
        padded.clear();
        padded.push(' ');
        padded.push_str(w);
        padded.push(' ');
        bounds.clear();
        bounds.extend(padded.char_indices().map(|(i, _)| i));
        bounds.push(padded.len());
        let chars = bounds.len() - 1;
        for n in 3..=5 {
            // A padded word no longer than the n-gram counts once, whole.
            if chars <= n {
                char_gram(&padded);
                break;
            }
            for start in 0..=chars - n {
                char_gram(&padded[bounds[start]..bounds[start + n]]);
            }
        }
    }
}

/// `terms` sorted by index with the counts of equal indices summed.
fn summed(mut terms: Vec<(u32, f32, f32)>) -> Vec<(u32, f32, f32)> {
    terms.sort_unstable_by_key(|t| t.0);
    let mut out: Vec<(u32, f32, f32)> = Vec::with_capacity(terms.len());
    for (i, count, idf) in terms {
        match out.last_mut() {
            Some(last) if last.0 == i => last.1 += count,
            _ => out.push((i, count, idf)),
        }
    }
    out
}

/// One line's vocabulary terms: `(index in its block, occurrences, idf)`, words and character grams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineTerms {
    words: Vec<(u32, f32, f32)>,
    chars: Vec<(u32, f32, f32)>,
}

/// One block of the features: a vocabulary with IDF weights.
#[derive(Debug, Clone, Default)]
struct Block {
    /// Term → (feature index within the block, IDF).
    terms: HashMap<String, (u32, f32)>,
}

impl Block {
    fn fit(document_terms: &[HashSet<String>], min_df: usize) -> Self {
        let mut df: BTreeMap<&str, usize> = BTreeMap::new();
        for terms in document_terms {
            for t in terms {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let n = document_terms.len() as f32;
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

    /// Counts `term` into `tf` when it is in the vocabulary.
    fn count(&self, term: &str, times: f32, tf: &mut BTreeMap<u32, (f32, f32)>) {
        if let Some(&(i, idf)) = self.terms.get(term) {
            tf.entry(i).or_insert((0.0, idf)).0 += times;
        }
    }

    /// Appends the TF-IDF values of `tf` (ascending term indices, each once, with count and idf) to `row`
    /// as one block of length `weight` starting at feature `base`.
    fn push(tf: Vec<(u32, f32, f32)>, base: u32, weight: f32, row: &mut SparseRow) {
        let values: Vec<(u32, f32)> = tf
            .into_iter()
            .map(|(i, count, idf)| (i, (1.0 + count.ln()) * idf))
            .collect();
        let norm = values.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return;
        }
        for (i, v) in values {
            row.indices.push(base + i);
            row.values.push(weight * v / norm);
        }
    }

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
}

/// Fitted word and character n-gram vocabularies.
#[derive(Debug, Clone)]
pub struct NgramFeatures {
    words: Block,
    chars: Block,
    /// The length of the word block in a row (the character block's is 1).
    word_weight: f32,
}

impl Default for NgramFeatures {
    fn default() -> Self {
        Self {
            words: Block::default(),
            chars: Block::default(),
            word_weight: 1.0,
        }
    }
}

impl NgramFeatures {
    /// Learns both vocabularies (terms in at least `min_df` documents) and their IDF from `documents`, each
    /// a sample's lines.
    #[must_use]
    pub fn fit<S: AsRef<str>>(documents: &[&[S]], min_df: usize) -> Self {
        let (mut words, mut chars) = (Vec::new(), Vec::new());
        for lines in documents {
            let (mut w, mut c) = (HashSet::new(), HashSet::new());
            for line in *lines {
                for_each_term(
                    line.as_ref(),
                    |t| {
                        w.insert(t.to_owned());
                    },
                    |t| {
                        c.insert(t.to_owned());
                    },
                );
            }
            words.push(w);
            chars.push(c);
        }
        Self {
            words: Block::fit(&words, min_df),
            chars: Block::fit(&chars, min_df),
            word_weight: 1.0,
        }
    }

    /// The same features with the word block of length `weight` in every row (the character block's
    /// stays 1).
    #[must_use]
    pub fn with_word_weight(mut self, weight: f32) -> Self {
        self.word_weight = weight;
        self
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
            word_weight: 1.0,
        })
    }

    /// The vocabulary terms of one line, counted: what [`NgramFeatures::transform_terms`] combines.
    /// Worth caching for lines that recur (templates).
    #[must_use]
    pub fn terms(&self, line: &str) -> LineTerms {
        let (mut words, mut chars) = (BTreeMap::new(), BTreeMap::new());
        for_each_term(
            line,
            |t| self.words.count(t, 1.0, &mut words),
            |t| self.chars.count(t, 1.0, &mut chars),
        );
        let flat = |tf: BTreeMap<u32, (f32, f32)>| {
            tf.into_iter()
                .map(|(i, (count, idf))| (i, count, idf))
                .collect()
        };
        LineTerms {
            words: flat(words),
            chars: flat(chars),
        }
    }

    /// The feature row of a sample given as its lines' terms, each with how many times the line
    /// occurred.
    #[must_use]
    pub fn transform_terms<'a>(
        &self,
        lines: impl IntoIterator<Item = (&'a LineTerms, u32)>,
    ) -> SparseRow {
        // Gathered unsorted, then sorted and summed: far cheaper than a map per term.
        let (mut words, mut chars) = (Vec::new(), Vec::new());
        for (terms, times) in lines {
            let times = times as f32;
            for (block, gathered) in [(&terms.words, &mut words), (&terms.chars, &mut chars)] {
                gathered.extend(block.iter().map(|&(i, count, idf)| (i, count * times, idf)));
            }
        }
        let mut row = SparseRow::default();
        Block::push(summed(words), 0, self.word_weight, &mut row);
        Block::push(summed(chars), self.words.len() as u32, 1.0, &mut row);
        row
    }

    /// The feature row of a sample's lines, each given with how many times it occurred.
    #[must_use]
    pub fn transform_counted<'a>(
        &self,
        lines: impl IntoIterator<Item = (&'a str, u32)>,
    ) -> SparseRow {
        let lines: Vec<(LineTerms, u32)> = lines
            .into_iter()
            .map(|(line, times)| (self.terms(line), times))
            .collect();
        self.transform_terms(lines.iter().map(|(terms, times)| (terms, *times)))
    }

    /// The feature row of a sample's lines.
    #[must_use]
    pub fn transform<S: AsRef<str>>(&self, lines: &[S]) -> SparseRow {
        self.transform_counted(lines.iter().map(|l| (l.as_ref(), 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(line: &str) -> (Vec<String>, Vec<String>) {
        let (mut words, mut chars) = (Vec::new(), Vec::new());
        for_each_term(
            line,
            |t| words.push(t.to_owned()),
            |t| chars.push(t.to_owned()),
        );
        (words, chars)
    }

    #[test]
    fn terms_are_word_pairs_and_padded_character_grams() {
        let (words, _) = terms("Back-off a pulling");
        assert_eq!(words, ["back", "off", "back off", "pulling", "off pulling"]);
        let (_, chars) = terms("OOM ab");
        assert_eq!(
            chars,
            [
                " oo", "oom", "om ", " oom", "oom ", " oom ", " ab", "ab ", " ab "
            ]
        );
    }

    #[test]
    fn a_long_line_is_read_to_its_first_bytes_only() {
        let long = format!("{} tail", "é".repeat(MAX_LINE_BYTES));
        let (words, _) = terms(&long);
        assert_eq!(words.len(), 1, "the tail is past the cut");
        assert!(words[0].len() <= MAX_LINE_BYTES);
    }

    #[test]
    fn each_block_has_unit_length_rare_terms_weigh_more_and_counts_add_up() {
        let a = ["pod OOMKilled"];
        let b = ["pod pending"];
        let features = NgramFeatures::fit(&[&a[..], &b[..]], 1);
        let row = features.transform(&a);
        let words = features.words.len() as u32;
        let squared = |row: &SparseRow, in_block: &dyn Fn(u32) -> bool| -> f32 {
            row.indices
                .iter()
                .zip(&row.values)
                .filter(|(i, _)| in_block(**i))
                .map(|(_, v)| v * v)
                .sum()
        };
        assert!((squared(&row, &|i| i < words) - 1.0).abs() < 1e-5);
        assert!((squared(&row, &|i| i >= words) - 1.0).abs() < 1e-5);
        let value = |term: &str| {
            let index = features.words.terms[term].0;
            row.indices
                .iter()
                .position(|i| *i == index)
                .map(|p| row.values[p])
        };
        assert!(value("oomkilled") > value("pod"));
        assert_eq!(features.transform(&["xyz qqq"]).indices.len(), 0);
        assert_eq!(
            features.transform_counted([("pod OOMKilled", 2), ("pod pending", 1)]),
            features.transform(&["pod OOMKilled", "pod pending", "pod OOMKilled"]),
            "a line counted twice is the line twice"
        );
        // A word weight scales the word block only: its squared length is the weight squared.
        let weighted = features.clone().with_word_weight(0.3).transform(&a);
        assert!((squared(&weighted, &|i| i < words) - 0.09).abs() < 1e-5);
        assert!((squared(&weighted, &|i| i >= words) - 1.0).abs() < 1e-5);
        assert_eq!(weighted.indices, row.indices);
    }
}
