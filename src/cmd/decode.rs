//! `medic decode`: runs the ingest stage over a file (or standard input) and prints normalised records.

use ingest::{Format, IngestConfig, SourceConfig};
use schemas::{Emitter, LogRecord, SourceRecord, Stage, decode_record};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// What `medic decode` read and produced (printed as JSON to standard error).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Input records (lines, or the whole document).
    pub inputs: usize,
    /// Normalised records printed.
    pub records: usize,
    /// Inputs dropped on purpose (CloudWatch control messages).
    pub dropped: u64,
    /// Refused inputs by reason code.
    pub errors: BTreeMap<String, u64>,
    /// Masked secrets by redaction rule.
    pub redacted: BTreeMap<String, u64>,
}

/// Splits a file into input records: one JSON document, one pretty-printed document (its first line a
/// lone `{` or `[` and its last the matching `}` or `]`, even when it is not strict JSON, such as
/// Azure's single-quoted `properties`) or one gzip stream is one record; anything else is one record
/// per non-empty line.
#[must_use]
pub fn split_inputs(data: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = data
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty());
    let (first_line, last_line) = (lines.next(), lines.next_back());
    let whole_document = data.starts_with(&[0x1f, 0x8b])
        || matches!(
            (first_line, last_line),
            (Some(b"{"), Some(b"}")) | (Some(b"["), Some(b"]"))
        )
        || (data
            .trim_ascii_start()
            .first()
            .is_some_and(|b| matches!(b, b'{' | b'['))
            && serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok());
    if whole_document {
        return vec![data.to_vec()];
    }
    data.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Decodes `data` as `format` from the source named `origin`; writes records as JSON lines to `out`
/// and each refused input to `errors`.
///
/// # Errors
/// Only when writing to `out` or `errors` fails.
pub fn decode_inputs(
    format: Format,
    origin: &str,
    data: &[u8],
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> std::io::Result<DecodeSummary> {
    let config = IngestConfig {
        sources: vec![SourceConfig {
            name: "decode".into(),
            topic: Some(origin.to_owned()),
            format,
            redaction: None,
        }],
        ..IngestConfig::default()
    };
    let mut stage = config
        .build()
        .map_err(|p| std::io::Error::other(schemas::config::describe(&p)))?;
    let inputs = split_inputs(data);
    let mut summary = DecodeSummary {
        inputs: inputs.len(),
        ..DecodeSummary::default()
    };
    let mut emitter = Emitter::new();
    for (i, payload) in inputs.into_iter().enumerate() {
        stage.process_batch(
            &[SourceRecord::new(origin, 0, i as i64 + 1, payload)],
            &mut emitter,
        );
    }
    stage.on_close(&mut emitter);
    for emitted in emitter.emitted() {
        if let Ok(record) = decode_record::<LogRecord>(&emitted.payload) {
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
            summary.records += 1;
        }
    }
    for rejection in emitter.rejections() {
        writeln!(
            errors,
            "input {}: {}",
            rejection.coordinates.offset, rejection.error.reason
        )?;
    }
    summary.dropped = emitter.dropped();
    for (event, n) in emitter.events() {
        if let Some(reason) = event.strip_prefix("rejected.") {
            summary.errors.insert(reason.to_owned(), *n);
        } else if let Some(rule) = event.strip_prefix("redacted.") {
            summary.redacted.insert(rule.to_owned(), *n);
        }
    }
    Ok(summary)
}

/// The flags of `medic decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Envelope format: auto, cri, docker_json, k8s_event, json_line, plain_text, cloudwatch,
    /// gcp_log_entry, azure_resource_logs.
    #[arg(long, default_value = "auto")]
    pub format: ingest::Format,
    /// File to read; `-` or none for standard input. A file holding one JSON document (or one gzip
    /// stream) is one input; otherwise each line is one input.
    pub input: Option<std::path::PathBuf>,
}

/// Decodes the input: records on stdout, refusals and the summary on stderr; exit 2 when the input
/// cannot be read.
///
/// # Errors
/// When stdout cannot be written.
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let (origin, data) = match args.input.as_deref() {
        None => ("stdin".to_owned(), read_stdin()),
        Some(path) if path.as_os_str() == "-" => ("stdin".to_owned(), read_stdin()),
        Some(path) => (path.display().to_string(), std::fs::read(path)),
    };
    let data = match data {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: cannot read {origin}: {error}");
            return Ok(std::process::ExitCode::from(2));
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = decode_inputs(
        args.format,
        &origin,
        &data,
        &mut out,
        &mut std::io::stderr(),
    )?;
    std::io::Write::flush(&mut out)?;
    eprintln!("{}", serde_json::to_string(&summary)?);
    Ok(std::process::ExitCode::SUCCESS)
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_lines() {
        assert_eq!(
            split_inputs(b"{\"a\":\n1}\n").len(),
            1,
            "one JSON document across lines"
        );
        assert_eq!(
            split_inputs(b"{\"a\":1}\n{\"b\":2}\n").len(),
            2,
            "NDJSON: one per line"
        );
        assert_eq!(split_inputs(b"x\r\n\ny\n").len(), 2);
        assert_eq!(
            split_inputs(b"{\n  \"records\": [{'a': 'b'}]\n}\n").len(),
            1,
            "a pretty-printed document that is not strict JSON stays whole"
        );
        assert_eq!(
            split_inputs(b"{\nfirst line of a text log\nsecond\n").len(),
            3,
            "a text log that merely starts with `{{` is read line by line"
        );
    }

    #[test]
    fn decodes_and_summarises() {
        let data =
            b"2024-01-01T00:00:00Z stdout F password=hunter2\n2024-01-01T00:00:00Z stdin F bad\n";
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        let summary =
            decode_inputs(Format::Cri, "test.log", data, &mut out, &mut errors).expect("io");
        assert_eq!((summary.inputs, summary.records), (2, 1));
        assert_eq!(summary.errors.get("wrong_shape"), Some(&1));
        assert_eq!(summary.redacted.get("secret_key_value"), Some(&1));
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("password=[REDACTED]"), "{text}");
        assert!(
            String::from_utf8(errors)
                .expect("utf8")
                .starts_with("input 2: [wrong_shape]")
        );
    }
}
