//! `medic parse`: Loghub-style structured output (`LineId,EventId,EventTemplate`) of a log file mined with
//! the enrich stage's template miner.

use enrich::drain::{Drain, DrainConfig};
use enrich::log_format::LogFormat;
use schemas::id::stable_id;
use std::path::Path;

/// Mines templates for `lines` (message = the header's `<Content>`) with the default miner; returns
/// each line's final template.
#[must_use]
pub fn parse_lines(format: &LogFormat, lines: &[&str]) -> Vec<String> {
    parse_lines_with(format, lines, DrainConfig::default())
}

/// [`parse_lines`] with `config` (unbounded clusters); a line's template is its group's
/// ([`Drain::group_of`]), so merged clusters print as one event.
#[must_use]
pub fn parse_lines_with(format: &LogFormat, lines: &[&str], config: DrainConfig) -> Vec<String> {
    let mut drain = Drain::new(DrainConfig {
        max_clusters: usize::MAX,
        ..config
    });
    let assigned: Vec<Option<usize>> = lines
        .iter()
        .map(|line| drain.add_message(format.content(line)).cluster)
        .collect();
    let templates: Vec<String> = (0..drain.clusters().len())
        .map(|c| drain.clusters()[drain.group_of(c)].template())
        .collect();
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

/// The flags of `medic parse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The header of each line, e.g. `<Date> <Time> <Level> <Component>: <Content>`; the message is
    /// `<Content>`; lines that do not match are parsed whole.
    #[arg(long)]
    pub log_format: String,
    /// The log file.
    #[arg(long)]
    pub input: std::path::PathBuf,
    /// The CSV to write.
    #[arg(long)]
    pub output: std::path::PathBuf,
}

/// `medic parse`.
///
/// # Errors
/// As [`parse_file`].
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let lines = parse_file(&args.log_format, &args.input, &args.output)?;
    eprintln!("parsed {lines} lines into {}", args.output.display());
    Ok(std::process::ExitCode::SUCCESS)
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
