//! Template-mining accuracy, with the Loghub-2.0 definitions: GA (grouping accuracy), FGA (F1 of
//! grouping over groups) and PA (parsing accuracy). Rows whose ground-truth template is empty are
//! dropped; groups are keyed by template string.

use serde::Serialize;
use std::collections::HashMap;

/// Accuracy of one system (or a mean of several, [`Accuracy::mean`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Messages whose predicted group has exactly the members of their true group, over all messages.
    pub ga: f64,
    /// F1 of precision (correct predicted groups / predicted groups) and recall (correct / true groups).
    pub fga: f64,
    /// Messages whose predicted template equals the true one (normalised), over all messages.
    pub pa: f64,
}

impl Accuracy {
    /// The mean of each measure over `all`; `None` when there is none.
    #[must_use]
    pub fn mean(all: impl IntoIterator<Item = Accuracy>) -> Option<Self> {
        let mut sum = (0.0, 0.0, 0.0);
        let mut n = 0u32;
        for a in all {
            sum = (sum.0 + a.ga, sum.1 + a.fga, sum.2 + a.pa);
            n += 1;
        }
        let n = f64::from(n);
        (n > 0.0).then(|| Self {
            ga: sum.0 / n,
            fga: sum.1 / n,
            pa: sum.2 / n,
        })
    }
}

/// Whitespace folded, and runs of wildcards (adjacent or separated only by spaces) counted as one.
#[must_use]
pub fn normalise_template(template: &str) -> String {
    let folded = template.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(folded.len());
    let mut rest = folded.as_str();
    while let Some(i) = rest.find("<*>") {
        out.push_str(&rest[..i]);
        out.push_str("<*>");
        rest = &rest[i + 3..];
        loop {
            let trimmed = rest.trim_start_matches(' ');
            match trimmed.strip_prefix("<*>") {
                Some(after) => rest = after,
                None => break,
            }
        }
    }
    out.push_str(rest);
    out
}

/// Scores `predicted` templates against `truth` templates, line by line.
///
/// # Panics
/// When the two slices differ in length (a caller bug).
#[must_use]
pub fn score(predicted: &[String], truth: &[String]) -> Accuracy {
    assert_eq!(predicted.len(), truth.len(), "one prediction per line");
    let rows: Vec<usize> = (0..truth.len())
        .filter(|&i| !truth[i].trim().is_empty())
        .collect();
    if rows.is_empty() {
        return Accuracy {
            ga: 0.0,
            fga: 0.0,
            pa: 0.0,
        };
    }
    let mut true_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut predicted_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in &rows {
        true_groups.entry(truth[i].as_str()).or_default().push(i);
        predicted_groups
            .entry(predicted[i].as_str())
            .or_default()
            .push(i);
    }
    let mut correct_messages = 0usize;
    let mut correct_groups = 0usize;
    for members in predicted_groups.values() {
        let first_truth = truth[members[0]].as_str();
        let same_truth = members.iter().all(|&i| truth[i] == first_truth);
        if same_truth && true_groups[first_truth].len() == members.len() {
            correct_messages += members.len();
            correct_groups += 1;
        }
    }
    let pa_correct = rows
        .iter()
        .filter(|&&i| normalise_template(&predicted[i]) == normalise_template(&truth[i]))
        .count();
    #[allow(clippy::cast_precision_loss, reason = "counts are small")]
    let (n, groups_p, groups_t, correct) = (
        rows.len() as f64,
        predicted_groups.len() as f64,
        true_groups.len() as f64,
        correct_groups as f64,
    );
    let precision = correct / groups_p;
    let recall = correct / groups_t;
    let fga = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    #[allow(clippy::cast_precision_loss, reason = "counts are small")]
    Accuracy {
        ga: correct_messages as f64 / n,
        fga,
        pa: pa_correct as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn perfect_and_imperfect_groupings() {
        let truth = s(&["a <*>", "a <*>", "b", "c"]);
        let perfect = score(&truth, &truth);
        assert_eq!((perfect.ga, perfect.fga, perfect.pa), (1.0, 1.0, 1.0));
        // "b" and "c" merged: those two messages are wrong; the "a" group is right.
        let merged = score(&s(&["a <*>", "a <*>", "x", "x"]), &truth);
        assert!((merged.ga - 0.5).abs() < 1e-9);
        assert!((merged.pa - 0.5).abs() < 1e-9);
        // precision 1/2, recall 1/3 → F1 0.4
        assert!((merged.fga - 0.4).abs() < 1e-9);
    }

    #[test]
    fn means_measure_by_measure() {
        let a = |ga, fga, pa| Accuracy { ga, fga, pa };
        assert_eq!(
            Accuracy::mean([a(1.0, 0.5, 0.0), a(0.5, 0.5, 1.0)]),
            Some(a(0.75, 0.5, 0.5))
        );
        assert_eq!(Accuracy::mean([]), None);
    }

    #[test]
    fn empty_truth_rows_are_dropped_and_wildcard_runs_fold() {
        let truth = s(&["a <*>", ""]);
        let result = score(&s(&["a <*> <*>", "zzz"]), &truth);
        assert_eq!((result.ga, result.pa), (1.0, 1.0));
        assert_eq!(normalise_template("x  <*><*> <*>  y"), "x <*> y");
    }
}
