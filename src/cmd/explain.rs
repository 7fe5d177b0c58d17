//! `medic explain <command-id>`: the provenance chain of one command, read back from the topics —
//! result ← command ← decision (policy) ← diagnosis (model, evidence) ← window, templates ← raw records.

use crate::config::PipelineConfig;
use crate::topic_reader::TopicReader;
use anyhow::anyhow;
use schemas::{ActionResult, Decision, Diagnosis, RemediationCommand, SourceCoordinates};
use serde::Serialize;
use std::time::Duration;

/// Everything found about one command.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// The command (last copy on the actions topic).
    pub command: RemediationCommand,
    /// Its results, in topic order.
    pub results: Vec<ActionResult>,
    /// The decision it came from, when found.
    pub decision: Option<Decision>,
    /// The diagnosis behind the decision, when found.
    pub diagnosis: Option<Diagnosis>,
    /// The raw input records the evidence came from: coordinates and payload (lossy UTF-8), redacted
    /// with `[ingest.redaction]` as ingest would (the source topic holds them as they were written).
    pub sources: Vec<(SourceCoordinates, Option<String>)>,
}

/// Reads the topics of `config` and assembles the chain of `command_id`.
///
/// # Errors
/// When the broker cannot be read or no command has that id.
pub fn explain(
    config: &PipelineConfig,
    command_id: &str,
    timeout: Duration,
) -> anyhow::Result<Explanation> {
    let reader = TopicReader::new(&config.kafka, &config.topics, timeout)?;
    let topics = &config.topics;
    let command = reader
        .records::<RemediationCommand>(&topics.actions)?
        .into_iter()
        .rfind(|c| c.command_id == command_id)
        .ok_or_else(|| anyhow!("no command {command_id:?} on {}", topics.actions))?;
    let results = reader
        .records::<ActionResult>(&topics.results)?
        .into_iter()
        .filter(|r| r.command_id == command_id)
        .collect();
    let provenance = &command.provenance;
    let decision = reader
        .records::<Decision>(&topics.decisions)?
        .into_iter()
        .rfind(|d| d.decision_id == provenance.decision_id);
    let diagnosis = reader
        .records::<Diagnosis>(&topics.diagnoses)?
        .into_iter()
        .rfind(|d| d.diagnosis_id == provenance.diagnosis_id);
    let redactor = ingest::Redactor::new(&config.ingest.redaction);
    let sources = provenance
        .sources
        .iter()
        .map(|at| {
            let mut payload = reader
                .one(at)
                .ok()
                .flatten()
                .map(|p| String::from_utf8_lossy(&p).into_owned());
            if let Some(text) = payload.as_mut() {
                redactor.redact(text, |_, _| {});
            }
            (at.clone(), payload)
        })
        .collect();
    Ok(Explanation {
        command,
        results,
        decision,
        diagnosis,
        sources,
    })
}

/// The chain as text for a person.
#[must_use]
pub fn render(e: &Explanation) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let c = &e.command;
    let signed = c.signature.as_ref().map_or("UNSIGNED".to_owned(), |s| {
        format!(
            "signature by key {}, not verified here: the actuator verifies",
            s.key_id
        )
    });
    let _ = writeln!(
        out,
        "command   {}  {} {}  ({signed})",
        c.command_id, c.action, c.target
    );
    let _ = writeln!(
        out,
        "          issued {}, expires {}; reason: {}",
        time(c.issued_at_ns),
        time(c.expires_at_ns),
        c.reason
    );
    if e.results.is_empty() {
        let _ = writeln!(out, "result    none yet");
    }
    for r in &e.results {
        let recovered = r
            .time_to_recover_ms
            .map_or(String::new(), |ms| format!(", healthy after {ms} ms"));
        let _ = writeln!(
            out,
            "result    {} ({}) at {}{recovered}: {}",
            r.outcome.name(),
            r.mode,
            time(r.finished_at_ns),
            r.message
        );
    }
    let p = &c.provenance;
    match &e.decision {
        Some(d) => {
            let _ = writeln!(
                out,
                "decision  {} by {}: {} on {} ({} at {:.2}) — {}",
                d.decision_id,
                d.policy_id,
                d.action,
                d.target,
                d.fault.as_str(),
                d.confidence,
                d.reason
            );
        }
        None => {
            let _ = writeln!(
                out,
                "decision  {} by {} (record not on the topic)",
                p.decision_id, p.policy_id
            );
        }
    }
    match &e.diagnosis {
        Some(d) => {
            let _ = writeln!(
                out,
                "diagnosis {} by {}: {} {:?} confidence {:.2}{}",
                d.diagnosis_id,
                d.model,
                d.fault.as_str(),
                d.severity,
                d.confidence,
                if d.uncertain { " (uncertain)" } else { "" }
            );
            for ev in d.evidence.iter().take(5) {
                let _ = writeln!(
                    out,
                    "          evidence [{}] {}",
                    ev.template_id, ev.message
                );
            }
        }
        None if !p.diagnosis_id.is_empty() => {
            let _ = writeln!(
                out,
                "diagnosis {} by {} (record not on the topic)",
                p.diagnosis_id, p.model
            );
        }
        None => {}
    }
    if let Some((start, end)) = p.window_ns {
        let _ = writeln!(out, "window    {} – {}", time(start), time(end));
    }
    if !p.template_ids.is_empty() {
        let _ = writeln!(out, "templates {}", p.template_ids.join(", "));
    }
    for (at, payload) in &e.sources {
        let text = payload.as_deref().map_or("(not found)".to_owned(), |t| {
            t.chars().take(160).collect::<String>().replace('\n', " ")
        });
        let _ = writeln!(
            out,
            "source    {}/{}/{}: {text}",
            at.topic, at.partition, at.offset
        );
    }
    printable(&out)
}

/// `text` with every control character but the line breaks shown escaped (`\u{1b}`): log content is
/// printed here, and a terminal must not take any of it for a command.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The flags of `medic explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command id.
    pub command_id: String,
    /// Pipeline file (brokers and topic names), layered over the embedded default.
    #[arg(long, short)]
    pub pipeline: Option<std::path::PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up reading after this many seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,
}

/// `medic explain`: the chain as text, or JSON with `--json`.
///
/// # Errors
/// An invalid pipeline, an unreadable broker, or no command with that id.
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let config = crate::config::load_pipeline(args.pipeline.as_deref(), std::env::vars())?
        .warned()
        .config;
    let found = explain(
        &config,
        &args.command_id,
        Duration::from_secs(args.timeout_secs),
    )?;
    if args.json {
        return super::print_json(&found);
    }
    print!("{}", render(&found));
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_content_cannot_drive_the_terminal() {
        let hostile = "ok\u{1b}]0;owned\u{7}\u{1b}[2J\rdone\nnext";
        assert_eq!(
            printable(hostile),
            "ok\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{d}done\nnext"
        );
    }
}
