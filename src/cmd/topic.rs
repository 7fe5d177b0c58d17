//! `medic topic cat <topic>`: any topic medic reads or writes, as JSON lines — the records inside frames
//! ([`schemas::frame`]) one by one and compact records ([`schemas::compact`]) as their JSON form, gzip
//! checkpoints unpacked, and anything else that is not JSON as base64, so no topic is opaque to an
//! operator.

use crate::topic_reader::TopicReader;
use base64::Engine as _;
use schemas::SourceRecord;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The flags of `medic topic`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: TopicCommand,
}

/// `medic topic …`.
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// Print every record of a topic, from the beginning to its end when reading began, one JSON
    /// document per line.
    Cat(CatArgs),
}

/// The flags of `medic topic cat`.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// The topic.
    pub topic: String,
    /// Pipeline file (brokers, credentials), layered over the embedded default.
    #[arg(long, short)]
    pub pipeline: Option<PathBuf>,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Stop after this many records.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Wrap each record with where it is: `{"partition","offset","index","key","value"}`.
    #[arg(long)]
    pub meta: bool,
    /// Give up reading after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

/// The most bytes a gzip payload is inflated to (raw source topics carry gzip from outside: a bomb
/// must not exhaust the operator's machine); a larger one is shown as base64.
const MAX_GUNZIPPED_BYTES: u64 = 64 * 1024 * 1024;

/// A payload as JSON: itself when it is JSON, a compact record's JSON form when it comes from a per-line
/// topic (`compact`: elsewhere, a raw log line shaped like one is shown as the bytes it is), its
/// gunzipped content when that is JSON, else base64.
#[must_use]
pub fn payload_json(payload: &[u8], compact: bool) -> Value {
    if let Ok(value) = serde_json::from_slice::<Value>(payload) {
        return value;
    }
    if compact
        && schemas::compact::is_compact(payload)
        && let Ok(json) = schemas::compact::to_json(payload)
        && let Ok(value) = serde_json::from_slice::<Value>(&json)
    {
        return value;
    }
    if payload.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        if flate2::read::GzDecoder::new(payload)
            .take(MAX_GUNZIPPED_BYTES)
            .read_to_end(&mut text)
            .is_ok()
            && let Ok(value) = serde_json::from_slice::<Value>(&text)
        {
            return json!({ "gzip": value });
        }
    }
    json!({ "base64": base64::engine::general_purpose::STANDARD.encode(payload) })
}

/// One record as the line `medic topic cat` prints; `compact`: it comes from a per-line topic, where
/// records may be compact.
#[must_use]
pub fn line(record: &SourceRecord, meta: bool, compact: bool) -> Value {
    let value = payload_json(&record.payload, compact);
    if !meta {
        return value;
    }
    json!({
        "partition": record.coordinates.partition,
        "offset": record.coordinates.offset,
        "index": record.coordinates.index,
        "key": record.key.as_deref().map(String::from_utf8_lossy),
        "value": value,
    })
}

/// Runs `medic topic …`.
///
/// # Errors
/// An invalid pipeline, or a topic that cannot be read.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let TopicCommand::Cat(cat) = &args.verb;
    let config = crate::config::load_pipeline(cat.pipeline.as_deref(), std::env::vars())?
        .warned()
        .config;
    let reader = TopicReader::new(
        &config.kafka,
        &config.topics,
        Duration::from_secs(cat.timeout_secs),
    )?;
    let compact = runtime::kafka::frames::framed_topics(&config.topics).contains(&cat.topic);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0;
    let mut failed = None;
    reader.each(&cat.topic, cat.partition, |record| {
        if cat.limit.is_some_and(|limit| printed >= limit) {
            return false;
        }
        if let Err(error) = writeln!(out, "{}", line(&record, cat.meta, compact)) {
            failed = Some(error);
            return false;
        }
        printed += 1;
        true
    })?;
    out.flush()?;
    match failed {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Some(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_gzip_opens_and_bytes_become_base64() {
        assert_eq!(payload_json(br#"{"a":1}"#, false), json!({"a": 1}));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"{"state":[1,2]}"#).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(payload_json(&gz, false), json!({"gzip": {"state": [1, 2]}}));
        assert_eq!(
            payload_json(&[0, 159, 146], false),
            json!({"base64": "AJ+S"})
        );
        let log = schemas::fixtures::log_record("compact", 7);
        let compact = schemas::encode_record(&log).expect("compact");
        assert!(schemas::compact::is_compact(&compact));
        assert_eq!(
            payload_json(&compact, true),
            serde_json::to_value(&log).expect("json")
        );
        // On any other topic (a raw source's, the dead letters'), bytes shaped like a record are bytes.
        assert!(payload_json(&compact, false).get("base64").is_some());
        // A damaged compact record is not guessed at.
        assert!(payload_json(&compact[..10], true).get("base64").is_some());
    }

    #[test]
    fn meta_says_where_the_record_is() {
        let mut record = SourceRecord::new("t", 2, 7, "{}").with_key("shop/checkout");
        record.coordinates.index = 3;
        assert_eq!(
            line(&record, true, false),
            json!({"partition": 2, "offset": 7, "index": 3, "key": "shop/checkout", "value": {}})
        );
        assert_eq!(line(&record, false, false), json!({}));
    }
}
