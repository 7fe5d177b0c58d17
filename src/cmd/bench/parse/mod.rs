//! `medic bench parse`: template-mining accuracy (GA, FGA, PA, Loghub-2.0 definitions) and speed per
//! Loghub-2k system, optionally beside another parser's predictions.

use crate::cmd::parse::parse_lines_with;
use enrich::accuracy::{Accuracy, score};
use enrich::drain::DrainConfig;
use enrich::log_format::{LogFormat, LogFormatError};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub mod loso;

/// One Loghub system's result.
#[derive(Debug, Serialize)]
pub struct SystemResult {
    /// System name.
    pub system: String,
    /// Lines parsed.
    pub lines: usize,
    /// GA, FGA, PA.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Distinct templates found.
    pub templates: usize,
    /// Lines per second (header extraction + masking + mining, one core).
    pub lines_per_sec: f64,
    /// The same scores for another parser's predictions (`--compare`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Compared>,
}

/// Another parser's result on the same system (from `scripts/compare-drain3.py`).
#[derive(Debug, Serialize)]
pub struct Compared {
    /// GA, FGA, PA.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Its lines per second, from its `timings.json`.
    pub lines_per_sec: Option<f64>,
    /// medic's lines/s divided by its lines/s.
    pub speed_ratio: Option<f64>,
}

/// Why a Loghub directory could not be benchmarked.
#[derive(Debug, thiserror::Error)]
pub enum BenchParseError {
    /// A file is missing or unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The ground truth CSV is malformed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// A header in loghub_formats.tsv is invalid.
    #[error(transparent)]
    Format(#[from] LogFormatError),
}

fn read(path: &Path) -> Result<String, BenchParseError> {
    std::fs::read(path)
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .map_err(|source| BenchParseError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// The templates of a Loghub-style CSV (`LineId`, `EventTemplate` columns) by 1-based line id.
fn truth(path: &Path) -> Result<Vec<(usize, String)>, BenchParseError> {
    let csv_error = |source| BenchParseError::Csv {
        path: path.display().to_string(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(line_col), Some(template_col)) = (column("LineId"), column("EventTemplate")) else {
        return Err(BenchParseError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other("missing LineId or EventTemplate column"),
        });
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record
            .get(line_col)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        rows.push((
            line,
            record.get(template_col).unwrap_or_default().to_owned(),
        ));
    }
    Ok(rows)
}

/// One Loghub-2k system: its header, raw lines and corrected ground truth.
pub struct LoghubSystem {
    /// System name (`HDFS`, …).
    pub name: String,
    format: LogFormat,
    raw: String,
    truth: Vec<(usize, String)>,
}

/// One system mined with one configuration.
pub struct Mined {
    /// GA, FGA, PA.
    pub accuracy: Accuracy,
    /// Distinct templates predicted.
    pub templates: usize,
}

/// Fresh miners timed per system: the median is reported, so one cold or preempted pass (2,000 lines
/// take a few milliseconds) does not decide the speed.
const TIMED_PASSES: usize = 5;

impl LoghubSystem {
    fn lines(&self) -> Vec<&str> {
        self.raw.lines().map(|l| l.trim_end_matches('\r')).collect()
    }

    /// Lines in the raw log.
    #[must_use]
    pub fn line_count(&self) -> usize {
        self.raw.lines().count()
    }

    /// Mines the system with `config` and scores it.
    #[must_use]
    pub fn mine(&self, config: &DrainConfig) -> Mined {
        let predicted = parse_lines_with(&self.format, &self.lines(), config.clone());
        let (predicted, truth) = align(&predicted, &self.truth);
        let mut distinct = predicted.clone();
        distinct.sort_unstable();
        distinct.dedup();
        Mined {
            accuracy: score(&predicted, &truth),
            templates: distinct.len(),
        }
    }

    /// Lines per second mining the system with `config` (header extraction + masking + mining, one
    /// core): the median of five fresh miners.
    #[must_use]
    pub fn lines_per_sec(&self, config: &DrainConfig) -> f64 {
        let lines = self.lines();
        let mut rates: Vec<f64> = (0..TIMED_PASSES)
            .map(|_| {
                let started = Instant::now();
                let predicted = parse_lines_with(&self.format, &lines, config.clone());
                std::hint::black_box(predicted);
                #[allow(clippy::cast_precision_loss, reason = "line counts are small")]
                let rate = lines.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
                rate
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[TIMED_PASSES / 2]
    }
}

/// Pairs each ground-truth row with the prediction for its line.
fn align(predicted: &[String], truth: &[(usize, String)]) -> (Vec<String>, Vec<String>) {
    truth
        .iter()
        .filter_map(|(line, template)| {
            predicted
                .get(line.checked_sub(1)?)
                .map(|p| (p.clone(), template.clone()))
        })
        .unzip()
}

/// Every system of `DIR/loghub_formats.tsv` whose raw log (`DIR/loghub/<S>/<S>_2k.log`) and corrected
/// ground truth (`DIR/loghub2_2k_corrected/<S>/<S>_2k.log_structured_corrected.csv`) exist.
///
/// # Errors
/// [`BenchParseError`] for unreadable or malformed inputs.
pub fn load_systems(dir: &Path) -> Result<Vec<LoghubSystem>, BenchParseError> {
    let formats = read(&dir.join("loghub_formats.tsv"))?;
    let mut systems = Vec::new();
    for line in formats.lines().filter(|l| !l.trim().is_empty()) {
        let Some((system, header)) = line.split_once('\t') else {
            continue;
        };
        let raw_path = dir
            .join("loghub")
            .join(system)
            .join(format!("{system}_2k.log"));
        let truth_path = dir
            .join("loghub2_2k_corrected")
            .join(system)
            .join(format!("{system}_2k.log_structured_corrected.csv"));
        if !raw_path.exists() || !truth_path.exists() {
            continue;
        }
        systems.push(LoghubSystem {
            name: system.to_owned(),
            format: LogFormat::new(header.trim())?,
            raw: read(&raw_path)?,
            truth: truth(&truth_path)?,
        });
    }
    Ok(systems)
}

/// Another parser's predictions for `system` (`<dir>/<System>.csv`), scored, with its speed from
/// `<dir>/timings.json`; `None` when it has no file for the system.
fn compared(
    dir: &Path,
    timings: &serde_json::Value,
    system: &LoghubSystem,
    lines_per_sec: f64,
) -> Result<Option<Compared>, BenchParseError> {
    let path = dir.join(format!("{}.csv", system.name));
    if !path.exists() {
        return Ok(None);
    }
    let other: Vec<String> = truth(&path)?.into_iter().map(|(_, t)| t).collect();
    let (other, truth) = align(&other, &system.truth);
    let other_speed = timings[&system.name]["lines_per_sec"].as_f64();
    Ok(Some(Compared {
        accuracy: score(&other, &truth),
        lines_per_sec: other_speed,
        speed_ratio: other_speed.map(|o| lines_per_sec / o),
    }))
}

/// Another parser's `timings.json` in `dir` (null when absent or unreadable).
fn timings(dir: &Path) -> serde_json::Value {
    std::fs::read(dir.join("timings.json"))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default()
}

/// Mines every system of `dir` ([`load_systems`]) with the default configuration.
///
/// # Errors
/// [`BenchParseError`] for unreadable or malformed inputs.
pub fn bench_parse(
    dir: &Path,
    compare: Option<&Path>,
) -> Result<Vec<SystemResult>, BenchParseError> {
    let timings = compare.map(timings).unwrap_or_default();
    let mut results = Vec::new();
    for system in load_systems(dir)? {
        let config = DrainConfig::default();
        let mined = system.mine(&config);
        let lines_per_sec = system.lines_per_sec(&config);
        let compared = match compare {
            Some(dir) => compared(dir, &timings, &system, lines_per_sec)?,
            None => None,
        };
        results.push(SystemResult {
            lines: system.line_count(),
            system: system.name,
            accuracy: mined.accuracy,
            templates: mined.templates,
            lines_per_sec,
            compared,
        });
    }
    Ok(results)
}

/// `medic bench parse`: the table on stderr, the report as JSON on stdout.
///
/// # Errors
/// As [`bench_parse`], or no system found.
pub fn run(loghub: &Path, compare: Option<&Path>) -> anyhow::Result<ExitCode> {
    let results = bench_parse(loghub, compare)?;
    anyhow::ensure!(
        !results.is_empty(),
        "no Loghub system found under {}",
        loghub.display()
    );
    eprintln!(
        "{:<12} {:>6} {:>6} {:>6} {:>10} {:>12}",
        "system", "GA", "FGA", "PA", "templates", "lines/s"
    );
    for r in &results {
        let a = r.accuracy;
        eprint!(
            "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>10} {:>12.0}",
            r.system, a.ga, a.fga, a.pa, r.templates, r.lines_per_sec
        );
        if let Some(c) = &r.compared {
            let a = c.accuracy;
            eprint!(
                "   compared: GA {:.3} FGA {:.3} PA {:.3}, medic x{:.1} faster",
                a.ga,
                a.fga,
                a.pa,
                c.speed_ratio.unwrap_or(f64::NAN)
            );
        }
        eprintln!();
    }
    let average = Accuracy::mean(results.iter().map(|r| r.accuracy))
        .expect("at least one system (checked above)");
    eprintln!(
        "{:<12} {:>6.3} {:>6.3} {:>6.3}",
        "average", average.ga, average.fga, average.pa
    );
    let compared: Vec<_> = results.iter().filter_map(|r| r.compared.as_ref()).collect();
    #[allow(clippy::cast_precision_loss, reason = "a handful of systems")]
    let compared_average = Accuracy::mean(compared.iter().map(|c| c.accuracy)).map(|a| {
        let ratios: Vec<f64> = compared.iter().filter_map(|c| c.speed_ratio).collect();
        serde_json::json!({
            "ga": a.ga,
            "fga": a.fga,
            "pa": a.pa,
            "speed_ratio_geomean": (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp(),
        })
    });
    if let Some(avg) = &compared_average {
        eprintln!("{:<12} compared average: {avg}", "");
    }
    let report = serde_json::json!({
        "bench": "parse",
        "dataset": "loghub-2k (loghub2_2k_corrected ground truth)",
        "average": average,
        "compared_average": compared_average,
        "systems": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
