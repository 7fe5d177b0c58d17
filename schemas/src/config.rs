//! Shared helpers for the stages' configuration sections.

use std::fmt::Display;

/// Collects every problem of one configuration section, each written `section.key: message` so the
/// pipeline loader can point at the key's line.
#[derive(Debug)]
pub struct Problems {
    section: &'static str,
    list: Vec<String>,
}

impl Problems {
    /// An empty collector for `section` (e.g. `"enrich"`).
    #[must_use]
    pub fn new(section: &'static str) -> Self {
        Self {
            section,
            list: Vec::new(),
        }
    }

    /// Records `message` for `key` (a key path inside the section, e.g. `sources[1].name`).
    pub fn push(&mut self, key: &str, message: impl Display) {
        self.list.push(format!("{}.{key}: {message}", self.section));
    }

    /// Records `message()` for `key` unless `ok`.
    pub fn require<M: Display>(&mut self, ok: bool, key: &str, message: impl FnOnce() -> M) {
        if !ok {
            self.push(key, message());
        }
    }

    /// `Ok` when nothing was recorded.
    ///
    /// # Errors
    /// Every recorded problem.
    pub fn into_result(self) -> Result<(), Vec<String>> {
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
    fn problems_are_prefixed_with_section_and_key() {
        let mut problems = Problems::new("decide");
        problems.require(true, "cooldown_secs", || "never");
        problems.require(false, "min_confidence", || {
            format!("{} must be in [0, 1]", 2.0)
        });
        problems.push("max_tracked_targets", "must be at least 1");
        assert_eq!(
            problems.into_result(),
            Err(vec![
                "decide.min_confidence: 2 must be in [0, 1]".to_owned(),
                "decide.max_tracked_targets: must be at least 1".to_owned()
            ])
        );
        assert_eq!(Problems::new("x").into_result(), Ok(()));
    }
}
