//! Loading a pipeline: embedded default → file → environment, deprecated keys rewritten, then
//! validation.

use super::{DEFAULT_PIPELINE, PipelineConfig, deprecated, locate};
use schemas::config::Problem;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    /// Deprecated keys that were read and rewritten, with their lines; the loader's caller reports them.
    pub warnings: Vec<Problem>,
}

impl Loaded {
    /// Logs each deprecation warning, and hands the pipeline on.
    #[must_use]
    pub fn warned(self) -> Self {
        for warning in &self.warnings {
            tracing::warn!(pipeline = %self.origin, "{warning}");
        }
        self
    }
}

/// Loads a pipeline: the embedded default, overridden by `path` if given, overridden by `MEDIC__*`
/// variables from `env`; deprecated keys in the file or the environment are rewritten to their
/// replacements (and listed in [`Loaded::warnings`]); then validates it and reports every problem,
/// with line numbers where the problem is in the file.
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
    let mut file_table: toml::Table = parse_with_lines(&text).map_err(|p| invalid(vec![p]))?;
    let file_migration = deprecated::migrate(&mut file_table);
    // A problem with a key the file wrote under its deprecated name points at that name's line.
    let located = |problems: Vec<Problem>| -> Vec<Problem> {
        problems
            .into_iter()
            .map(|p| match file_migration.written_as(&p.path) {
                Some(old) => Problem {
                    line: locate::line_of(&text, old),
                    message: format!("{} (written as the deprecated {old})", p.message),
                    ..p
                },
                None => Problem {
                    line: locate::line_of(&text, &p.path),
                    ..p
                },
            })
            .collect()
    };
    if !file_migration.problems.is_empty() {
        return Err(invalid(located(file_migration.problems.clone())));
    }
    check_keys(&text, &file_table).map_err(|p| invalid(vec![p]))?;
    let mut merged: toml::Table =
        toml::from_str(DEFAULT_PIPELINE).map_err(|e| ConfigError::Invalid {
            origin: "the embedded default pipeline".into(),
            problems: vec![problem_from_toml(DEFAULT_PIPELINE, &e)],
        })?;
    merge(&mut merged, file_table);

    // The overrides are collected apart (their deprecated keys are rewritten on their own), and each is
    // also set on a copy of the pipeline so far, which reports a key whose parent is not a table.
    let mut env_table = toml::Table::new();
    let mut shape = merged.clone();
    let mut env_problems = Vec::new();
    for (name, value) in env {
        if let Some(path) = name.strip_prefix("MEDIC__")
            && let Err(message) = set_path(&mut shape, path, &value)
                .and_then(|()| set_path(&mut env_table, path, &value))
        {
            env_problems.push(Problem::new(name.clone(), message));
        }
    }
    let env_migration = deprecated::migrate(&mut env_table);
    env_problems.extend(env_migration.problems);
    if !env_problems.is_empty() {
        return Err(ConfigError::Invalid {
            origin: "the environment".into(),
            problems: env_problems,
        });
    }
    merge(&mut merged, env_table);
    let mut warnings = located(file_migration.warnings.clone());
    warnings.extend(env_migration.warnings.into_iter().map(|w| Problem {
        message: format!("{} (MEDIC__ environment variable)", w.message),
        ..w
    }));

    let config: PipelineConfig =
        merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                origin: format!("{origin} with MEDIC__* overrides"),
                problems: vec![Problem::new("", e.to_string().trim().replace('\n', " "))],
            })?;
    let mut problems = located(config.problems());
    // File order reads best; problems with no line (defaults) go last.
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    if problems.is_empty() {
        Ok(Loaded {
            config,
            origin,
            warnings,
        })
    } else {
        Err(invalid(problems))
    }
}

/// Checks the file's keys and value types against [`PipelineConfig`] on the text, so a problem points at
/// its line. A file that is wrong only in keys [`deprecated::migrate`] rewrites passes; when those hide
/// another problem from the text check, the problem is reported from the rewritten `table` (its message
/// names the key path instead of a line).
fn check_keys(text: &str, table: &toml::Table) -> Result<(), Problem> {
    let Err(on_text) = toml::from_str::<PipelineConfig>(text) else {
        return Ok(());
    };
    match PipelineConfig::deserialize(toml::Value::Table(table.clone())) {
        Ok(_) => Ok(()),
        Err(on_table) if deprecated::names_deprecated_key(on_text.message()) => Err(Problem::new(
            "",
            on_table.to_string().trim().replace('\n', " "),
        )),
        Err(_) => Err(problem_from_toml(text, &on_text)),
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
        line,
        ..Problem::new("", error.message().trim())
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
            config.runner.batch_max_records, 2000,
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
    fn deprecated_keys_are_read_in_their_old_unit_and_reported_with_their_lines() {
        let file = write(
            "[runner]\nbatch_linger_ms = 20\n\n[decide]\ncooldown_secs = 60\nmin_confidence = 0.7\n",
        );
        let env = [(
            "MEDIC__KAFKA__CONSUMER_QUEUE_KBYTES".to_owned(),
            "1024".to_owned(),
        )];
        let loaded = load_pipeline(Some(&file.0), env).expect("deprecated keys still load");
        let config = &loaded.config;
        assert_eq!(config.runner.batch_linger, schemas::span::Span::millis(20));
        assert_eq!(config.decide.cooldown, schemas::span::Span::secs(60));
        assert_eq!(config.kafka.consumer_queue_bytes, 1 << 20);
        let warnings: Vec<_> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "line 2: runner.batch_linger_ms: is deprecated: write batch_linger = \"20ms\"",
                "line 5: decide.cooldown_secs: is deprecated: write cooldown = \"1m\"",
                "kafka.consumer_queue_kbytes: is deprecated: write consumer_queue_bytes = 1048576 \
                 (MEDIC__ environment variable)",
            ]
        );
    }

    #[test]
    fn a_problem_beside_a_deprecated_key_is_still_found() {
        let file = write("[decide]\ncooldown_secs = 60\n\n[kafka]\nbrokres = \"x\"\n");
        let text = load_pipeline(Some(&file.0), [])
            .expect_err("unknown key")
            .to_string();
        assert!(text.contains("brokres") && text.contains("kafka"), "{text}");
        let file = write("[decide]\ncooldown_secs = 60\ncooldown = \"5m\"\n");
        let text = load_pipeline(Some(&file.0), [])
            .expect_err("both keys")
            .to_string();
        assert!(text.contains("line 2: decide.cooldown_secs"), "{text}");
        let file = write("[decide]\ncooldown = 300\n");
        let text = load_pipeline(Some(&file.0), [])
            .expect_err("a bare number")
            .to_string();
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn problems_with_rewritten_or_overridden_keys_name_them() {
        // Out of range after the rewrite: reported at the deprecated key's line.
        let file = write("[runner]\ntick_interval_ms = 5\n");
        let text = load_pipeline(Some(&file.0), [])
            .expect_err("5ms is too short")
            .to_string();
        assert!(
            text.contains("line 2: runner.tick_interval: 5ms must be between 10ms and 1m (written as the deprecated runner.tick_interval_ms)"),
            "{text}"
        );
        // A duration override without its unit names the key.
        let env = [("MEDIC__DECIDE__COOLDOWN".to_owned(), "300".to_owned())];
        let text = load_pipeline(None, env)
            .expect_err("a bare number")
            .to_string();
        assert!(text.contains("decide.cooldown"), "{text}");
        // An override below a key that is not a table names the variable.
        let env = [("MEDIC__INGEST__SOURCES__NAME".to_owned(), "x".to_owned())];
        let text = load_pipeline(None, env)
            .expect_err("sources is an array")
            .to_string();
        assert!(text.contains("MEDIC__INGEST__SOURCES__NAME"), "{text}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err =
            load_pipeline(Some(Path::new("/nonexistent/pipeline.toml")), []).expect_err("missing");
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}
