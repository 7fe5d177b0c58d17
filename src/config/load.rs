//! Loading a pipeline: embedded default → file → environment, then validation.

use super::{DEFAULT_PIPELINE, PipelineConfig, locate};
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a pipeline, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, e.g. `runner.batch_max_records` (empty when the problem is the whole file).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The 1-based line in the pipeline file, when known.
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.path.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.path, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The pipeline file could not be read.
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline (file, default or environment) has problems; every one is listed.
    #[error("{origin} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Which source the problems are in.
        origin: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// A loaded, validated pipeline.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration.
    pub config: PipelineConfig,
    /// Where it came from, for logs.
    pub origin: String,
}

/// Loads a pipeline: the embedded default, overridden by `path` if given, overridden by `MEDIC__*`
/// variables from `env`; then validates it and reports every problem, with line numbers where the
/// problem is in the file.
///
/// # Errors
/// [`ConfigError::Read`] if the file cannot be read; [`ConfigError::Invalid`] listing every problem.
pub fn load_pipeline(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let (origin, text) = match path {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
        ),
        None => (
            "the embedded default pipeline".to_owned(),
            DEFAULT_PIPELINE.to_owned(),
        ),
    };
    let invalid = |problems| ConfigError::Invalid {
        origin: origin.clone(),
        problems,
    };

    // Parse the file on its own first, so syntax errors and unknown keys point at its lines.
    let file_table: toml::Table = parse_with_lines(&text).map_err(|p| invalid(vec![p]))?;
    if let Err(e) = toml::from_str::<PipelineConfig>(&text) {
        return Err(invalid(vec![problem_from_toml(&text, &e)]));
    }
    let mut merged: toml::Table =
        toml::from_str(DEFAULT_PIPELINE).map_err(|e| ConfigError::Invalid {
            origin: "the embedded default pipeline".into(),
            problems: vec![problem_from_toml(DEFAULT_PIPELINE, &e)],
        })?;
    merge(&mut merged, file_table);
    let mut env_problems = Vec::new();
    for (name, value) in env {
        if let Some(path) = name.strip_prefix("MEDIC__")
            && let Err(message) = set_path(&mut merged, path, &value)
        {
            env_problems.push(Problem {
                path: name.clone(),
                message,
                line: None,
            });
        }
    }
    if !env_problems.is_empty() {
        return Err(ConfigError::Invalid {
            origin: "the environment".into(),
            problems: env_problems,
        });
    }
    let config: PipelineConfig =
        merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                origin: format!("{origin} with MEDIC__* overrides"),
                problems: vec![Problem {
                    path: String::new(),
                    message: e.message().to_owned(),
                    line: None,
                }],
            })?;
    let mut problems: Vec<Problem> = config
        .problems()
        .into_iter()
        .map(|(path, message)| Problem {
            line: locate::line_of(&text, &path),
            path,
            message,
        })
        .collect();
    // File order reads best; problems with no line (defaults) go last.
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    if problems.is_empty() {
        Ok(Loaded { config, origin })
    } else {
        Err(invalid(problems))
    }
}

fn parse_with_lines(text: &str) -> Result<toml::Table, Problem> {
    toml::from_str(text).map_err(|e| problem_from_toml(text, &e))
}

fn problem_from_toml(text: &str, error: &toml::de::Error) -> Problem {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    Problem {
        path: String::new(),
        message: error.message().trim().to_owned(),
        line,
    }
}

/// Deep-merges `overlay` into `base`: tables merge key by key, everything else is replaced.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge(base_table, overlay_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Tables whose values are always strings: an environment value there is taken verbatim, never read as
/// TOML (a numeric SASL password from a Secret must stay a string).
const STRING_TABLES: [&[&str]; 1] = [&["kafka", "properties"]];

/// Sets `SECTION__KEY` (case-insensitive, `__`-separated) to `value`, read as a TOML scalar if it parses
/// (except under [`STRING_TABLES`]).
fn set_path(table: &mut toml::Table, path: &str, value: &str) -> Result<(), String> {
    let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if keys.iter().any(String::is_empty) {
        return Err("expected MEDIC__<SECTION>__<KEY>".to_owned());
    }
    let verbatim = STRING_TABLES.iter().any(|prefix| {
        keys.len() > prefix.len() && keys.iter().zip(prefix.iter()).all(|(k, p)| k == p)
    });
    let parsed = if verbatim {
        toml::Value::String(value.to_owned())
    } else {
        toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_owned()))
    };
    let (last, parents) = keys.split_last().ok_or("empty path")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{key} is not a table"))?;
    }
    current.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    /// A tiny temp-file helper (no extra dependency).
    mod tempfile_path {
        pub(crate) struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub(crate) fn with(text: &str) -> Self {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("medic-config-{}-{n}.toml", std::process::id()));
                std::fs::write(&path, text).expect("write temp file");
                Self(path)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn the_embedded_default_loads() {
        let loaded = load_pipeline(None, []).expect("default is valid");
        assert_eq!(loaded.config.topics.actions, "medic.actions");
    }

    #[test]
    fn file_then_env_override_the_default() {
        let file = write("[kafka]\nbrokers = \"k1:9092\"\npartitions = 3\n");
        let env = [
            ("MEDIC__KAFKA__PARTITIONS".to_owned(), "12".to_owned()),
            ("MEDIC__TOPICS__DLQ".to_owned(), "ops.dlq".to_owned()),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let config = load_pipeline(Some(&file.0), env).expect("valid").config;
        assert_eq!(config.kafka.brokers, "k1:9092");
        assert_eq!(config.kafka.partitions, 12);
        assert_eq!(config.topics.dlq, "ops.dlq");
        assert_eq!(
            config.runner.batch_max_records, 500,
            "untouched keys keep the default"
        );
    }

    #[test]
    fn librdkafka_properties_from_the_environment_stay_strings() {
        // As a Secret sets them on Kubernetes: dotted names, values that look like TOML numbers or bools.
        let env = [
            (
                "MEDIC__KAFKA__PROPERTIES__SASL.PASSWORD".to_owned(),
                "123456".to_owned(),
            ),
            (
                "MEDIC__KAFKA__PROPERTIES__SASL.USERNAME".to_owned(),
                "true".to_owned(),
            ),
            ("MEDIC__KAFKA__PARTITIONS".to_owned(), "9".to_owned()),
        ];
        let config = load_pipeline(None, env).expect("valid").config;
        assert_eq!(
            config
                .kafka
                .properties
                .get("sasl.password")
                .map(String::as_str),
            Some("123456")
        );
        assert_eq!(
            config
                .kafka
                .properties
                .get("sasl.username")
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(config.kafka.partitions, 9, "elsewhere values are TOML");
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let file = write(
            "[kafka]\npartitions = 0\n\n[runner]\nbatch_max_records = 0\n\n[topics]\ndlq = \"medic.actions\"\n",
        );
        let err = load_pipeline(Some(&file.0), []).expect_err("invalid");
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected Invalid")
        };
        let found: Vec<_> = problems.iter().map(|p| (p.path.as_str(), p.line)).collect();
        assert!(found.contains(&("kafka.partitions", Some(2))), "{found:?}");
        assert!(
            found.contains(&("runner.batch_max_records", Some(5))),
            "{found:?}"
        );
        assert!(
            found.iter().any(|(path, _)| path.starts_with("topics.")),
            "{found:?}"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_keys_point_at_lines() {
        let file = write("[kafka]\nbrokers = \"x\"\nbrokres = \"y\"\n");
        let err = load_pipeline(Some(&file.0), []).expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.contains("line 3") && text.contains("brokres"),
            "{text}"
        );

        let file = write("[kafka\n");
        assert!(
            load_pipeline(Some(&file.0), [])
                .expect_err("syntax")
                .to_string()
                .contains("line 1")
        );
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err =
            load_pipeline(Some(Path::new("/nonexistent/pipeline.toml")), []).expect_err("missing");
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}
