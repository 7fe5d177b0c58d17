//! `medic parse` (Loghub-style structured output) and `medic bench parse` (accuracy and speed on
//! Loghub-2k).

use enrich::accuracy::{Accuracy, score};
use enrich::drain::{Drain, DrainConfig};
use enrich::log_format::{LogFormat, LogFormatError};
use schemas::id::stable_id;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Mines templates for `lines` (message = the header's `<Content>`); returns each line's final template.
#[must_use]
pub fn parse_lines(format: &LogFormat, lines: &[&str]) -> Vec<String> {
    let mut drain = Drain::new(DrainConfig {
        max_clusters: usize::MAX,
        ..DrainConfig::default()
    });
    let assigned: Vec<Option<usize>> = lines
        .iter()
        .map(|line| drain.add_message(format.content(line)).cluster)
        .collect();
    let templates: Vec<String> = drain.clusters().iter().map(|c| c.template()).collect();
    assigned
        .into_iter()
        .map(|c| c.map_or_else(String::new, |c| templates[c].clone()))
        .collect()
}

/// Writes `LineId,EventId,EventTemplate` rows (LineId 1-based; EventId a stable hash of the template).
///
/// # Errors
/// When writing fails.
pub fn write_structured(templates: &[String], out: impl std::io::Write) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["LineId", "EventId", "EventTemplate"])?;
    for (i, template) in templates.iter().enumerate() {
        let id = stable_id("E", &[template]);
        writer.write_record([(i + 1).to_string().as_str(), &id, template])?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads `input`, mines it with `log_format`, writes the structured CSV to `output`.
///
/// # Errors
/// Unreadable input, an invalid header, or an unwritable output.
pub fn parse_file(log_format: &str, input: &Path, output: &Path) -> anyhow::Result<usize> {
    let format = LogFormat::new(log_format)?;
    let data = std::fs::read(input)?;
    let text = String::from_utf8_lossy(&data);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let templates = parse_lines(&format, &lines);
    write_structured(&templates, std::fs::File::create(output)?)?;
    Ok(lines.len())
}

/// One Loghub system's result.
#[derive(Debug, Serialize)]
pub struct SystemResult {
    /// System name.
    pub system: String,
    /// Lines parsed.
    pub lines: usize,
    /// Grouping accuracy.
    pub ga: f64,
    /// F1 grouping accuracy.
    pub fga: f64,
    /// Parsing accuracy.
    pub pa: f64,
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
    /// Grouping accuracy.
    pub ga: f64,
    /// F1 grouping accuracy.
    pub fga: f64,
    /// Parsing accuracy.
    pub pa: f64,
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

/// Runs every system of `DIR/loghub_formats.tsv` whose raw log (`DIR/loghub/<S>/<S>_2k.log`) and
/// corrected ground truth (`DIR/loghub2_2k_corrected/<S>/<S>_2k.log_structured_corrected.csv`) exist.
///
/// # Errors
/// [`BenchParseError`] for unreadable or malformed inputs.
pub fn bench_parse(
    dir: &Path,
    compare: Option<&Path>,
) -> Result<Vec<SystemResult>, BenchParseError> {
    let formats = read(&dir.join("loghub_formats.tsv"))?;
    let timings: serde_json::Value = compare
        .and_then(|c| std::fs::read(c.join("timings.json")).ok())
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    let mut results = Vec::new();
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
        let format = LogFormat::new(header.trim())?;
        let raw = read(&raw_path)?;
        let lines: Vec<&str> = raw.lines().map(|l| l.trim_end_matches('\r')).collect();
        let started = Instant::now();
        let predicted = parse_lines(&format, &lines);
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let truth = truth(&truth_path)?;
        let lines_per_sec = lines.len() as f64 / seconds;
        let compared = match compare
            .map(|c| c.join(format!("{system}.csv")))
            .filter(|p| p.exists())
        {
            None => None,
            Some(path) => {
                let other: Vec<String> = crate::parse_cmd::truth(&path)?
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect();
                let (other, truth): (Vec<String>, Vec<String>) = truth
                    .iter()
                    .filter_map(|(line, template)| {
                        other
                            .get(line.checked_sub(1)?)
                            .map(|p| (p.clone(), template.clone()))
                    })
                    .unzip();
                let Accuracy { ga, fga, pa } = score(&other, &truth);
                let other_speed = timings[system]["lines_per_sec"].as_f64();
                Some(Compared {
                    ga,
                    fga,
                    pa,
                    lines_per_sec: other_speed,
                    speed_ratio: other_speed.map(|o| lines_per_sec / o),
                })
            }
        };
        let (predicted, truth): (Vec<String>, Vec<String>) = truth
            .into_iter()
            .filter_map(|(line, template)| {
                predicted
                    .get(line.checked_sub(1)?)
                    .map(|p| (p.clone(), template))
            })
            .unzip();
        let Accuracy { ga, fga, pa } = score(&predicted, &truth);
        let mut distinct = predicted.clone();
        distinct.sort_unstable();
        distinct.dedup();
        #[allow(clippy::cast_precision_loss, reason = "line counts are small")]
        results.push(SystemResult {
            system: system.to_owned(),
            lines: lines.len(),
            ga,
            fga,
            pa,
            templates: distinct.len(),
            lines_per_sec,
            compared,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_output_has_one_row_per_line() {
        let format = LogFormat::new("<Level>: <Content>").expect("valid");
        let lines = [
            "INFO: served 1 in 2ms",
            "INFO: served 7 in 9ms",
            "not matching",
        ];
        let templates = parse_lines(&format, &lines);
        assert_eq!(templates[0], templates[1]);
        let mut out = Vec::new();
        write_structured(&templates, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "LineId,EventId,EventTemplate");
        assert_eq!(rows.len(), 4);
        assert!(
            rows[1].starts_with("1,E-") && rows[1].ends_with(",served <*> in <*>"),
            "{}",
            rows[1]
        );
        assert!(rows[3].ends_with(",not matching"));
    }
}
