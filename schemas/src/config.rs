//! What is wrong with a configuration: [`Problem`] (one key, one message, a line once located) and
//! [`Problems`], the collector every section's `validate()` fills.

use std::fmt::{self, Display};

/// One problem in a configuration, at a key path such as `runner.batch_max_records` or
/// `ingest.sources[1].name` (empty when the problem is the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The 1-based line in the file the key is written on, once the loader has located it.
    pub line: Option<usize>,
}

impl Problem {
    /// A problem at `path`, not yet located in a file.
    #[must_use]
    pub fn new(path: impl Into<String>, message: impl Display) -> Self {
        Self {
            path: path.into(),
            message: message.to_string(),
            line: None,
        }
    }
}

impl Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.path.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.path, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Joins problems one per line, for errors that end a command.
#[must_use]
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects every problem of one configuration section (or of one entry in it), each under
/// `<section>.<key>`.
#[derive(Debug)]
pub struct Problems {
    section: String,
    list: Vec<Problem>,
}

impl Problems {
    /// An empty collector for `section` (e.g. `"enrich"` or `"enrich.windows[2]"`).
    #[must_use]
    pub fn new(section: impl Into<String>) -> Self {
        Self {
            section: section.into(),
            list: Vec::new(),
        }
    }

    /// Records `message` for `key` (a key path inside the section, e.g. `sources[1].name`).
    pub fn push(&mut self, key: &str, message: impl Display) {
        self.list
            .push(Problem::new(format!("{}.{key}", self.section), message));
    }

    /// Records `message()` for `key` unless `ok`.
    pub fn require<M: Display>(&mut self, ok: bool, key: &str, message: impl FnOnce() -> M) {
        if !ok {
            self.push(key, message());
        }
    }

    /// Takes over problems found elsewhere (already under their full path).
    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.list.extend(problems);
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The recorded problems.
    #[must_use]
    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }

    /// `Ok` when nothing was recorded.
    ///
    /// # Errors
    /// Every recorded problem.
    pub fn into_result(self) -> Result<(), Vec<Problem>> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(self.list)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_kept_under_section_and_key() {
        let mut problems = Problems::new("decide");
        problems.require(true, "cooldown", || "never");
        problems.require(false, "min_confidence", || {
            format!("{} must be in [0, 1]", 2.0)
        });
        problems.push("max_tracked_targets", "must be at least 1");
        let list = problems.into_result().expect_err("two problems");
        assert_eq!(
            list.iter()
                .map(|p| (p.path.as_str(), p.message.as_str()))
                .collect::<Vec<_>>(),
            [
                ("decide.min_confidence", "2 must be in [0, 1]"),
                ("decide.max_tracked_targets", "must be at least 1")
            ]
        );
        assert_eq!(
            list[1].to_string(),
            "decide.max_tracked_targets: must be at least 1"
        );
        assert_eq!(Problems::new("x").into_result(), Ok(()));
    }

    #[test]
    fn a_located_problem_names_its_line() {
        let mut problem = Problem::new("kafka.partitions", "0 must be at least 1");
        problem.line = Some(3);
        assert_eq!(
            problem.to_string(),
            "line 3: kafka.partitions: 0 must be at least 1"
        );
        assert_eq!(Problem::new("", "broken").to_string(), "broken");
        assert_eq!(describe(&[problem.clone(), problem]).lines().count(), 2);
    }
}
