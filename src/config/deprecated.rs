//! Keys pipeline files used to have. Each is still read: its value is converted to the key that replaced
//! it, and the loader reports a deprecation warning (`medic validate` prints them, `medic run` logs them).
//!
//! Durations were bare integers in the key's unit (`cooldown_secs = 300`); they are now strings that
//! carry their unit (`cooldown = "5m"`), like the window sizes always were. The one size in KiB is now in
//! bytes, like every other size.

use schemas::config::Problem;
use schemas::span::Span;

/// How an old key's integer becomes its replacement's value.
#[derive(Debug, Clone, Copy)]
enum Conversion {
    /// Milliseconds → a duration string.
    Millis,
    /// Seconds → a duration string.
    Secs,
    /// KiB → bytes.
    KibToBytes,
}

/// One renamed key of a section.
#[derive(Debug)]
struct Renamed {
    section: &'static str,
    old: &'static str,
    new: &'static str,
    conversion: Conversion,
}

const fn renamed(
    section: &'static str,
    old: &'static str,
    new: &'static str,
    conversion: Conversion,
) -> Renamed {
    Renamed {
        section,
        old,
        new,
        conversion,
    }
}

/// Every key replaced so far.
const RENAMED: [Renamed; 14] = {
    use Conversion::{KibToBytes, Millis, Secs};
    [
        renamed("kafka", "session_timeout_ms", "session_timeout", Millis),
        renamed(
            "kafka",
            "consumer_queue_kbytes",
            "consumer_queue_bytes",
            KibToBytes,
        ),
        renamed("runner", "batch_linger_ms", "batch_linger", Millis),
        renamed("runner", "tick_interval_ms", "tick_interval", Millis),
        renamed("runner", "produce_timeout_ms", "produce_timeout", Millis),
        renamed(
            "runner",
            "checkpoint_interval_ms",
            "checkpoint_interval",
            Millis,
        ),
        renamed("runner", "lag_interval_ms", "lag_interval", Millis),
        renamed("ingest", "partial_flush_ms", "partial_flush", Millis),
        renamed("ingest", "max_future_skew_secs", "max_future_skew", Secs),
        renamed("diagnose", "episode_gap_secs", "episode_gap", Secs),
        renamed("decide", "cooldown_secs", "cooldown", Secs),
        renamed("act", "command_ttl_secs", "command_ttl", Secs),
        renamed("act", "verify_timeout_secs", "verify_timeout", Secs),
        renamed("act", "verify_interval_ms", "verify_interval", Millis),
    ]
};

/// Keys no longer used, with what replaced them: read, ignored, and reported as a warning.
const RETIRED: [(&str, &str, &str); 3] = [
    (
        "diagnose",
        "window",
        "diagnose reads the windows enrich closes: set their size in [[enrich.windows]]",
    ),
    (
        "diagnose",
        "window_secs",
        "diagnose reads the windows enrich closes: set their size in [[enrich.windows]]",
    ),
    (
        "diagnose",
        "max_window_lines",
        "a window's evidence is bounded by evidence_templates in [[enrich.windows]]",
    ),
];

/// What [`migrate`] found in one source of configuration.
#[derive(Debug, Default)]
pub(crate) struct Migration {
    /// One per deprecated key that was rewritten, at the old key's path.
    pub warnings: Vec<Problem>,
    /// Deprecated keys that could not be rewritten: not a whole number, or set beside their replacement.
    pub problems: Vec<Problem>,
    /// Each rewritten key as `(new path, old path)`, so a problem found later with the new key can be
    /// pointed at the line the old one is written on.
    pub renamed: Vec<(String, String)>,
}

impl Migration {
    /// The deprecated key `path` (a current key path) was written as, if it was.
    pub(crate) fn written_as(&self, path: &str) -> Option<&str> {
        self.renamed
            .iter()
            .find(|(new, _)| new == path)
            .map(|(_, old)| old.as_str())
    }
}

/// Rewrites every deprecated key in `table` (one source: a pipeline file, or the environment's
/// overrides) to the key that replaced it.
pub(crate) fn migrate(table: &mut toml::Table) -> Migration {
    let mut migration = Migration::default();
    for key in &RENAMED {
        let Some(section) = table
            .get_mut(key.section)
            .and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        let Some(old) = section.remove(key.old) else {
            continue;
        };
        let path = format!("{}.{}", key.section, key.old);
        if section.contains_key(key.new) {
            migration.problems.push(Problem::new(
                path,
                format!(
                    "is deprecated and replaced by {}, which is set too: remove it",
                    key.new
                ),
            ));
            continue;
        }
        let Some(number) = old.as_integer().filter(|n| *n >= 0) else {
            migration.problems.push(Problem::new(
                path,
                format!(
                    "{old} is not a whole number (the key is deprecated: write {} = {})",
                    key.new,
                    key.conversion.example()
                ),
            ));
            continue;
        };
        let Some(value) = key.conversion.apply(number) else {
            migration
                .problems
                .push(Problem::new(path, format!("{number} is too large")));
            continue;
        };
        migration.warnings.push(Problem::new(
            path.clone(),
            format!("is deprecated: write {} = {value}", key.new),
        ));
        migration
            .renamed
            .push((format!("{}.{}", key.section, key.new), path));
        section.insert(key.new.to_owned(), value);
    }
    for (section, key, why) in RETIRED {
        let removed = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .and_then(|s| s.remove(key));
        if removed.is_some() {
            migration.warnings.push(Problem::new(
                format!("{section}.{key}"),
                format!("is no longer used and is ignored: {why}"),
            ));
        }
    }
    migration
}

/// Whether a deserialisation error names a deprecated key (as an unknown field), i.e. is one that
/// [`migrate`] removes.
pub(crate) fn names_deprecated_key(message: &str) -> bool {
    let named = |key: &str| message.contains(&format!("unknown field `{key}`"));
    RENAMED.iter().any(|key| named(key.old)) || RETIRED.iter().any(|(_, key, _)| named(key))
}

impl Conversion {
    fn apply(self, number: i64) -> Option<toml::Value> {
        let duration = |nanos_per_unit: i64| {
            number
                .checked_mul(nanos_per_unit)
                .map(|nanos| toml::Value::String(Span::from_nanos(nanos).to_string()))
        };
        match self {
            Self::Millis => duration(1_000_000),
            Self::Secs => duration(1_000_000_000),
            Self::KibToBytes => number.checked_mul(1024).map(toml::Value::Integer),
        }
    }

    fn example(self) -> &'static str {
        match self {
            Self::Millis => "\"500ms\"",
            Self::Secs => "\"30s\"",
            Self::KibToBytes => "4194304",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn old_keys_become_their_replacements_in_the_new_unit() {
        let mut file = table(
            "[decide]\ncooldown_secs = 300\n[runner]\nbatch_linger_ms = 20\nlag_interval_ms = 0\n\
             [kafka]\nconsumer_queue_kbytes = 4096\nbrokers = \"k:9092\"\n",
        );
        let migration = migrate(&mut file);
        assert!(migration.problems.is_empty(), "{:?}", migration.problems);
        assert_eq!(file["decide"]["cooldown"].as_str(), Some("5m"));
        assert_eq!(file["runner"]["batch_linger"].as_str(), Some("20ms"));
        assert_eq!(file["runner"]["lag_interval"].as_str(), Some("0ms"));
        assert_eq!(
            file["kafka"]["consumer_queue_bytes"].as_integer(),
            Some(4 << 20)
        );
        assert_eq!(file["kafka"]["brokers"].as_str(), Some("k:9092"));
        assert!(file["decide"].get("cooldown_secs").is_none());
        let warned: Vec<_> = migration.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            warned,
            [
                "kafka.consumer_queue_kbytes",
                "runner.batch_linger_ms",
                "runner.lag_interval_ms",
                "decide.cooldown_secs"
            ]
        );
        assert_eq!(
            migration.warnings[3].message,
            "is deprecated: write cooldown = \"5m\""
        );
    }

    #[test]
    fn an_old_key_beside_its_replacement_or_not_a_number_is_a_problem() {
        let mut file = table(
            "[decide]\ncooldown_secs = 300\ncooldown = \"1m\"\n[act]\ncommand_ttl_secs = \"10m\"\n",
        );
        let migration = migrate(&mut file);
        let paths: Vec<_> = migration.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["decide.cooldown_secs", "act.command_ttl_secs"]);
        assert!(migration.warnings.is_empty());
        assert_eq!(file["decide"]["cooldown"].as_str(), Some("1m"), "kept");
    }

    #[test]
    fn every_replacement_is_a_key_of_the_current_pipeline() {
        let mut file = toml::Table::new();
        for key in &RENAMED {
            file.entry(key.section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("table")
                .insert(key.old.to_owned(), toml::Value::Integer(1_000));
        }
        let migration = migrate(&mut file);
        assert_eq!(migration.warnings.len(), RENAMED.len());
        let config: Result<crate::config::PipelineConfig, _> = toml::Value::Table(file).try_into();
        assert!(config.is_ok(), "{config:?}");
        assert!(names_deprecated_key(
            "unknown field `cooldown_secs`, expected one of"
        ));
        assert!(!names_deprecated_key(
            "unknown field `brokres`, expected one of"
        ));
    }

    #[test]
    fn a_retired_key_is_ignored_with_a_warning_that_says_what_replaced_it() {
        let mut file =
            table("[diagnose]\nwindow = \"1m\"\nmax_window_lines = 2000\nmodel = \"ngram\"\n");
        let migration = migrate(&mut file);
        let warned: Vec<_> = migration.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(warned, ["diagnose.window", "diagnose.max_window_lines"]);
        assert!(migration.warnings[0].message.contains("[[enrich.windows]]"));
        let config: Result<crate::config::PipelineConfig, _> = toml::Value::Table(file).try_into();
        assert!(config.is_ok(), "{config:?}");
    }
}
