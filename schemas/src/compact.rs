//! The compact record encoding: [`LogRecord`] and [`ParsedRecord`] as length-prefixed binary fields
//! instead of JSON, for the topics that carry one record per log line (inside frames, [`crate::frame`]).
//!
//! JSON in and out was the largest share of ingest's and enrich's CPU once the per-line topics carried
//! frames: every field name written and matched, every string escaped and unescaped. The compact form
//! writes each field in a fixed order with no names and no escaping; it carries exactly what the JSON
//! form carries (a record round-trips to the same JSON), and `medic topic cat` prints it as that JSON.
//!
//! # Layout, version 1
//!
//! ```text
//! header:  0x00 'M' 'R'   version: u8 = 1   kind: u8 (1 = LogRecord, 2 = ParsedRecord)
//! LogRecord:    schema_version: var   event_time_ns: i64   observed_time_ns: i64
//!               source_format: u8   severity: u8   stream: u8 (0 none, 1 stdout, 2 stderr)
//!               message: str   resource   attributes   source
//! resource:     present: u16 (bit i: field i is there, in the order cloud, account, region, project,
//!               cluster, namespace, workload, pod, container, node), then each present field:
//!               str (workload: kind str, name str)
//! attributes:   count: var, then count × (key: str, value: str), keys strictly ascending
//! source:       topic: str   partition: i32   offset: i64   index: var
//! ParsedRecord: schema_version: var   template_id: str   template: str   template_version: var
//!               params: count: var, then count × str   log: a LogRecord without header
//! ```
//!
//! Fixed-width integers are little-endian; `var` is an unsigned LEB128 integer of at most 32 bits;
//! `str` is a `var` length followed by that many bytes of UTF-8. Enumerations are their place in the
//! JSON Schema's `enum` list, from 0.
//!
//! # Compatibility
//!
//! A JSON record has no NUL before its first character, so a reader tells the two encodings apart by
//! the first byte and reads both ([`crate::decode_record`]). A compact record of a version newer than
//! [`COMPACT_VERSION`] is refused with a `schema` error that says to upgrade its readers first, never
//! guessed at; anything that does not add up (a length past the end, bytes after the record, invalid
//! UTF-8, an unknown enumeration value, attribute keys out of order) is a `decode` error. Nothing here
//! trusts a length or count before checking it against the bytes left, so what a hostile record makes
//! its reader allocate is bounded by its size (at most a few dozen bytes per byte, for a record of
//! empty strings: each costs a string's header).

use crate::bytes::ByteReader;
use crate::records::Pairs;
use crate::{
    AttributesView, ErrorKind, LogRecord, LogSeverity, LogView, ParsedRecord, ResourceView,
    SourceFormat, SourceRef, StageError, Stream,
};

/// The first bytes of every compact record.
pub const COMPACT_MAGIC: [u8; 3] = [0x00, b'M', b'R'];

/// The compact layout this build writes, and the newest it reads.
pub const COMPACT_VERSION: u8 = 1;

/// The most items a list is given room for before its items are read (more grow it as they come).
const PREALLOCATED: usize = 64;

const KIND_LOG: u8 = 1;
const KIND_PARSED: u8 = 2;
const HEADER_BYTES: usize = COMPACT_MAGIC.len() + 2;

/// Whether `payload` is a compact record (of any version or kind) rather than JSON.
#[must_use]
pub fn is_compact(payload: &[u8]) -> bool {
    payload.starts_with(&COMPACT_MAGIC)
}

/// `record` in the compact encoding.
#[must_use]
pub fn encode_log(record: &LogRecord) -> Vec<u8> {
    let view = record.view();
    let mut out = Vec::with_capacity(HEADER_BYTES + log_size_hint(&view));
    header(&mut out, KIND_LOG);
    write_log(&mut out, &view);
    out
}

/// `record` in the compact encoding.
#[must_use]
pub fn encode_parsed(record: &ParsedRecord) -> Vec<u8> {
    encode_parsed_parts(&ParsedParts::of(record), &record.log.view())
}

/// What a [`ParsedRecord`] adds to its log, borrowed: enrich writes its parsed records from these and a
/// [`LogView`] without building the record.
#[derive(Debug, Clone, Copy)]
pub struct ParsedParts<'a, P> {
    /// [`ParsedRecord::schema_version`].
    pub schema_version: u32,
    /// [`ParsedRecord::template_id`].
    pub template_id: &'a str,
    /// [`ParsedRecord::template`].
    pub template: &'a str,
    /// [`ParsedRecord::template_version`].
    pub template_version: u32,
    /// [`ParsedRecord::params`].
    pub params: &'a [P],
}

impl<'a> ParsedParts<'a, String> {
    /// `record`'s parts.
    #[must_use]
    pub fn of(record: &'a ParsedRecord) -> Self {
        Self {
            schema_version: record.schema_version,
            template_id: &record.template_id,
            template: &record.template,
            template_version: record.template_version,
            params: &record.params,
        }
    }
}

/// The compact [`ParsedRecord`] of `parts` and `log`.
#[must_use]
pub fn encode_parsed_parts<P: AsRef<str>>(
    parts: &ParsedParts<'_, P>,
    log: &LogView<'_>,
) -> Vec<u8> {
    parsed_with(parts, log_size_hint(log), |out| write_log(out, log))
}

/// The compact [`ParsedRecord`] of `parts` and `log`, the log's bytes copied from the record it was read
/// from rather than its fields written again: a reader accepts only a record's one encoding (no
/// redundant number bytes, attribute keys ascending, nothing after the record), so the bytes a decode
/// accepted are the bytes encoding it writes (enrich does this for every line).
#[must_use]
pub fn encode_parsed_copying<P: AsRef<str>>(
    parts: &ParsedParts<'_, P>,
    log: &CompactLog<'_>,
) -> Vec<u8> {
    parsed_with(parts, log.body.len(), |out| {
        debug_assert_eq!(
            log.body,
            {
                let mut written = Vec::new();
                write_log(&mut written, &log.view);
                written
            }
            .as_slice(),
            "the log bytes copied are not the view's log"
        );
        out.extend_from_slice(log.body);
    })
}

/// A compact parsed record: `parts`, then its log (`log_bytes` long, about) written by `write_log`.
fn parsed_with<P: AsRef<str>>(
    parts: &ParsedParts<'_, P>,
    log_bytes: usize,
    write_log: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let params: usize = parts.params.iter().map(|p| p.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(
        HEADER_BYTES + 16 + parts.template_id.len() + parts.template.len() + params + log_bytes,
    );
    header(&mut out, KIND_PARSED);
    var(&mut out, parts.schema_version);
    string(&mut out, parts.template_id);
    string(&mut out, parts.template);
    var(&mut out, parts.template_version);
    count(&mut out, parts.params.len());
    for param in parts.params {
        string(&mut out, param.as_ref());
    }
    write_log(&mut out);
    out
}

/// A compact [`LogRecord`] read in place ([`decode_log_view`]): its view, which can be read and not
/// changed, and the bytes it was read from, which [`encode_parsed_copying`] copies. A record to change
/// is built from the view ([`LogView::to_record`]) and written from its fields.
#[derive(Debug, Clone)]
pub struct CompactLog<'a> {
    view: LogView<'a>,
    /// The record's bytes after its header.
    body: &'a [u8],
}

impl<'a> CompactLog<'a> {
    /// The record, borrowed.
    #[must_use]
    pub fn view(&self) -> &LogView<'a> {
        &self.view
    }
}

/// Reads a compact [`LogRecord`].
///
/// # Errors
/// See the module's *Compatibility*.
pub fn decode_log(payload: &[u8]) -> Result<LogRecord, StageError> {
    read_log(payload).map(|log| log.view.to_record())
}

/// Reads a compact [`LogRecord`] in place, its strings borrowed from `payload`, and checks its
/// `schema_version` as [`crate::decode_record`] does.
///
/// # Errors
/// See the module's *Compatibility*; a `schema` error for a `schema_version` this build does not read.
pub fn decode_log_view(payload: &[u8]) -> Result<CompactLog<'_>, StageError> {
    let log = read_log(payload)?;
    crate::wire::check_version(crate::RecordKind::Log, log.view.schema_version)?;
    Ok(log)
}

/// A compact [`LogRecord`], read in place.
fn read_log(payload: &[u8]) -> Result<CompactLog<'_>, StageError> {
    let mut reader = Reader::after_header(payload, KIND_LOG)?;
    let view = reader.log()?;
    reader.end()?;
    Ok(CompactLog {
        view,
        body: &payload[HEADER_BYTES..],
    })
}

/// Reads a compact [`ParsedRecord`].
///
/// # Errors
/// See the module's *Compatibility*.
pub fn decode_parsed(payload: &[u8]) -> Result<ParsedRecord, StageError> {
    let mut reader = Reader::after_header(payload, KIND_PARSED)?;
    let schema_version = reader.var()?;
    let template_id = reader.string()?.to_owned();
    let template = reader.string()?.to_owned();
    let template_version = reader.var()?;
    let n = reader.count(1)?;
    let mut params = Vec::with_capacity(n.min(PREALLOCATED));
    for _ in 0..n {
        params.push(reader.string()?.to_owned());
    }
    let log = reader.log()?.to_record();
    reader.end()?;
    Ok(ParsedRecord {
        schema_version,
        template_id,
        template,
        template_version,
        params,
        log,
    })
}

/// A compact record as its JSON form (what the record would have been as JSON); anything else as it is.
///
/// # Errors
/// A compact record that does not decode.
pub fn to_json(payload: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, StageError> {
    if !is_compact(payload) {
        return Ok(payload.into());
    }
    let json = match payload.get(HEADER_BYTES - 1) {
        Some(&KIND_PARSED) => serde_json::to_vec(&decode_parsed(payload)?),
        _ => serde_json::to_vec(&decode_log(payload)?),
    };
    json.map(Into::into)
        .map_err(|e| StageError::internal(format!("compact record to JSON: {e}")))
}

/// `payload` as operators read it: a compact record that decodes as its JSON form, anything else (JSON,
/// raw input, a damaged compact record) unchanged.
#[must_use]
pub fn into_json(payload: Vec<u8>) -> Vec<u8> {
    match to_json(&payload) {
        Ok(std::borrow::Cow::Owned(json)) => json,
        _ => payload,
    }
}

fn header(out: &mut Vec<u8>, kind: u8) {
    out.extend_from_slice(&COMPACT_MAGIC);
    out.push(COMPACT_VERSION);
    out.push(kind);
}

fn log_size_hint(log: &LogView<'_>) -> usize {
    let r = &log.resource;
    let (before, after) = resource_strings(r);
    let resource: usize = before
        .iter()
        .chain(&after)
        .map(|field| field.map_or(0, |s| s.len() + 2))
        .sum::<usize>()
        + r.workload
            .map_or(0, |(kind, name)| kind.len() + name.len() + 4);
    let attributes: usize = log
        .attributes
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum();
    48 + log.message.len() + resource + attributes + log.source.topic.len()
}

fn write_log(out: &mut Vec<u8>, log: &LogView<'_>) {
    var(out, log.schema_version);
    out.extend_from_slice(&log.event_time_ns.to_le_bytes());
    out.extend_from_slice(&log.observed_time_ns.to_le_bytes());
    out.push(format_code(log.source_format));
    out.push(severity_code(log.severity));
    out.push(match log.stream {
        None => 0,
        Some(Stream::Stdout) => 1,
        Some(Stream::Stderr) => 2,
    });
    string(out, log.message);
    write_resource(out, &log.resource);
    count(out, log.attributes.len());
    for (key, value) in log.attributes.iter() {
        string(out, key);
        string(out, value);
    }
    let source = &log.source;
    string(out, source.topic);
    out.extend_from_slice(&source.partition.to_le_bytes());
    out.extend_from_slice(&source.offset.to_le_bytes());
    var(out, source.index);
}

/// The resource's optional strings in layout order: bits 0 to 5 before the workload (bit 6), bits 7 to 9
/// after it.
fn resource_strings<'a>(r: &ResourceView<'a>) -> ([Option<&'a str>; 6], [Option<&'a str>; 3]) {
    (
        [
            r.cloud,
            r.account,
            r.region,
            r.project,
            r.cluster,
            r.namespace,
        ],
        [r.pod, r.container, r.node],
    )
}

const WORKLOAD_BIT: u16 = 6;
const RESOURCE_BITS: u16 = 10;

fn write_resource(out: &mut Vec<u8>, r: &ResourceView<'_>) {
    let (before, after) = resource_strings(r);
    let bits = before
        .iter()
        .map(Option::is_some)
        .chain([r.workload.is_some()])
        .chain(after.iter().map(Option::is_some))
        .zip(0..RESOURCE_BITS)
        .fold(0u16, |bits, (set, bit)| bits | (u16::from(set) << bit));
    out.extend_from_slice(&bits.to_le_bytes());
    for field in before.into_iter().flatten() {
        string(out, field);
    }
    if let Some((kind, name)) = r.workload {
        string(out, kind);
        string(out, name);
    }
    for field in after.into_iter().flatten() {
        string(out, field);
    }
}

const FORMATS: [SourceFormat; 8] = [
    SourceFormat::Cri,
    SourceFormat::DockerJson,
    SourceFormat::K8sEvent,
    SourceFormat::Cloudwatch,
    SourceFormat::GcpLogEntry,
    SourceFormat::AzureResourceLog,
    SourceFormat::JsonLine,
    SourceFormat::PlainText,
];

fn format_code(format: SourceFormat) -> u8 {
    code_of(&FORMATS, format)
}

fn severity_code(severity: LogSeverity) -> u8 {
    code_of(&LogSeverity::ALL, severity)
}

/// `value`'s place in `all` (every enumeration here has fewer than 256 values, all listed).
fn code_of<T: PartialEq + Copy>(all: &[T], value: T) -> u8 {
    all.iter()
        .position(|v| *v == value)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

fn var(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        // The low seven bits, with the continuation bit: always below 256.
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a count or length. Nothing medic writes comes near 4 GiB (ingest refuses inputs over
/// `max_record_bytes`, 4 MiB by default, and a Kafka message is far smaller); a longer one would be
/// written as `u32::MAX`, a record that does not read back as itself.
fn count(out: &mut Vec<u8>, n: usize) {
    var(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn string(out: &mut Vec<u8>, text: &str) {
    count(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Reads one compact record, checking every length against the bytes left.
struct Reader<'a> {
    bytes: ByteReader<'a>,
}

fn malformed(reason: String) -> StageError {
    StageError::decode(format!("malformed compact record: {reason}"))
}

impl<'a> Reader<'a> {
    fn after_header(payload: &'a [u8], kind: u8) -> Result<Self, StageError> {
        if !is_compact(payload) {
            return Err(malformed("no magic bytes".into()));
        }
        let version = *payload
            .get(COMPACT_MAGIC.len())
            .ok_or_else(|| malformed("no version byte".into()))?;
        if version > COMPACT_VERSION {
            return Err(StageError::new(
                ErrorKind::Schema,
                format!(
                    "compact record version {version} is newer than this reader's {COMPACT_VERSION}: \
                     upgrade the stages that read this topic before the ones that write it"
                ),
            ));
        }
        if version == 0 {
            return Err(malformed("version 0 is never written".into()));
        }
        let found = *payload
            .get(HEADER_BYTES - 1)
            .ok_or_else(|| malformed("no kind byte".into()))?;
        if found != kind {
            let name = |k: u8| match k {
                KIND_LOG => "log_record".to_owned(),
                KIND_PARSED => "parsed_record".to_owned(),
                other => format!("unknown kind {other}"),
            };
            return Err(StageError::new(
                ErrorKind::Schema,
                format!(
                    "a compact {} where a {} was expected",
                    name(found),
                    name(kind)
                ),
            ));
        }
        Ok(Self {
            bytes: ByteReader::new(payload, HEADER_BYTES),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StageError> {
        self.bytes.take(n).map_err(malformed)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StageError> {
        self.bytes.array().map_err(malformed)
    }

    fn byte(&mut self) -> Result<u8, StageError> {
        Ok(self.take(1)?[0])
    }

    fn var(&mut self) -> Result<u32, StageError> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            let bits = u32::from(byte & 0x7f);
            if byte == 0 && shift > 0 {
                // Written by no writer: each number has one encoding, so each record has one.
                return Err(malformed(format!(
                    "a number with a redundant byte at byte {}",
                    self.bytes.at()
                )));
            }
            if shift == 28 && bits > 0x0f {
                return Err(malformed(format!(
                    "a number past 32 bits at byte {}",
                    self.bytes.at()
                )));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(format!(
            "a number past 32 bits at byte {}",
            self.bytes.at()
        )))
    }

    /// A count of items each at least `min_bytes` long: never more than the bytes left could hold.
    fn count(&mut self, min_bytes: usize) -> Result<usize, StageError> {
        let n = self.var()? as usize;
        let left = self.bytes.left();
        if n.saturating_mul(min_bytes) > left {
            return Err(malformed(format!(
                "{n} items announced with {left} bytes left"
            )));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<&'a str, StageError> {
        let len = self.var()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map_err(|e| malformed(format!("a string that is not UTF-8: {e}")))
    }

    fn code<T: Copy>(&mut self, all: &[T], what: &str) -> Result<T, StageError> {
        let code = self.byte()?;
        all.get(usize::from(code))
            .copied()
            .ok_or_else(|| malformed(format!("{what} {code} is not known")))
    }

    fn log(&mut self) -> Result<LogView<'a>, StageError> {
        let schema_version = self.var()?;
        let event_time_ns = i64::from_le_bytes(self.array()?);
        let observed_time_ns = i64::from_le_bytes(self.array()?);
        let source_format = self.code(&FORMATS, "source format")?;
        let severity = self.code(&LogSeverity::ALL, "severity")?;
        let stream = self.code(
            &[None, Some(Stream::Stdout), Some(Stream::Stderr)],
            "stream",
        )?;
        let message = self.string()?;
        let resource = self.resource()?;
        let attributes = self.attributes()?;
        let topic = self.string()?;
        let partition = i32::from_le_bytes(self.array()?);
        let offset = i64::from_le_bytes(self.array()?);
        let index = self.var()?;
        Ok(LogView {
            schema_version,
            event_time_ns,
            observed_time_ns,
            source_format,
            severity,
            message,
            stream,
            resource,
            attributes: AttributesView::Pairs(attributes),
            source: SourceRef {
                topic,
                partition,
                offset,
                index,
            },
        })
    }

    /// The attribute pairs, each checked (UTF-8, keys strictly ascending).
    fn attributes(&mut self) -> Result<Pairs<'a>, StageError> {
        let n = self.count(2)?;
        let mut pairs = Pairs::with_capacity(n.min(PREALLOCATED));
        for _ in 0..n {
            let key = self.string()?;
            if !pairs.push_ascending(key, self.string()?) {
                return Err(malformed(format!(
                    "attribute {key:?} out of order or repeated"
                )));
            }
        }
        Ok(pairs)
    }

    fn resource(&mut self) -> Result<ResourceView<'a>, StageError> {
        let present = u16::from_le_bytes(self.array()?);
        if present >> RESOURCE_BITS != 0 {
            return Err(malformed(format!("unknown resource fields {present:#06x}")));
        }
        // In layout order: the fields are read in the order they were written.
        let cloud = self.optional(present, 0)?;
        let account = self.optional(present, 1)?;
        let region = self.optional(present, 2)?;
        let project = self.optional(present, 3)?;
        let cluster = self.optional(present, 4)?;
        let namespace = self.optional(present, 5)?;
        let workload = if present & (1 << WORKLOAD_BIT) == 0 {
            None
        } else {
            Some((self.string()?, self.string()?))
        };
        Ok(ResourceView {
            cloud,
            account,
            region,
            project,
            cluster,
            namespace,
            workload,
            pod: self.optional(present, 7)?,
            container: self.optional(present, 8)?,
            node: self.optional(present, 9)?,
        })
    }

    /// The string of resource field `bit`, when `present` has it.
    fn optional(&mut self, present: u16, bit: u16) -> Result<Option<&'a str>, StageError> {
        if present & (1 << bit) == 0 {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    fn end(&self) -> Result<(), StageError> {
        match self.bytes.left() {
            0 => Ok(()),
            left => Err(malformed(format!("{left} bytes after the record"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Resource, SourceCoordinates, Workload, fixtures};

    /// A record with every optional field set, non-ASCII text, attributes and a frame index.
    fn full_log() -> LogRecord {
        let mut log = fixtures::log_record("connection to db-0 refused: «timeout» \u{1F525}\n", -5);
        log.observed_time_ns = i64::MAX;
        log.source_format = SourceFormat::AzureResourceLog;
        log.severity = LogSeverity::Emergency;
        log.stream = Some(Stream::Stderr);
        log.resource = Resource {
            cloud: Some("azure".into()),
            account: Some("sub-1".into()),
            region: Some("westeurope".into()),
            project: Some(String::new()),
            cluster: Some("aks-prod".into()),
            namespace: Some("shop".into()),
            workload: Some(Workload {
                kind: "StatefulSet".into(),
                name: "db".into(),
            }),
            pod: Some("db-0".into()),
            container: Some("postgres".into()),
            node: Some("aks-nodepool1-0".into()),
        };
        log.attributes = [("k8s.event.reason", "BackOff"), ("a", ""), ("é", "\"q\"")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        log.source = SourceCoordinates {
            topic: "medic.logs.azure".into(),
            partition: -1,
            offset: i64::MIN,
            index: 9_999,
        };
        log
    }

    fn parsed(log: LogRecord) -> ParsedRecord {
        ParsedRecord {
            schema_version: 1,
            template_id: "tpl-00ff".into(),
            template: "connection to <*> refused: <*>".into(),
            template_version: 300,
            params: vec!["db-0".into(), String::new()],
            log,
        }
    }

    #[test]
    fn records_round_trip_with_every_field_set_or_unset() {
        let minimal = {
            let mut log = fixtures::log_record("", 0);
            log.resource = Resource::default();
            log
        };
        for log in [full_log(), minimal, fixtures::log_record("GET /", 1)] {
            assert_eq!(decode_log(&encode_log(&log)).expect("log decodes"), log);
            let payload = encode_log(&log);
            let parsed = parsed(log);
            let encoded = encode_parsed(&parsed);
            assert_eq!(decode_parsed(&encoded).expect("parsed decodes"), parsed);
            let read = decode_log_view(&payload).expect("reads in place");
            assert_eq!(read.view().to_record(), parsed.log);
            assert_eq!(
                encode_parsed_copying(&ParsedParts::of(&parsed), &read),
                encoded,
                "the log's own bytes, copied"
            );
        }
        // Bytes that are no compact log record of this version are not read in place.
        let other = fixtures::log_record("another line", 2);
        let mut newer = encode_log(&other);
        newer[COMPACT_MAGIC.len()] = COMPACT_VERSION + 1;
        let json = serde_json::to_vec(&other).expect("json");
        let mut wrong_kind = encode_log(&other);
        wrong_kind[HEADER_BYTES - 1] = KIND_PARSED;
        for payload in [newer, json, wrong_kind] {
            assert!(decode_log_view(&payload).is_err());
        }
    }

    #[test]
    fn the_json_form_is_the_records_own_json() {
        let log = full_log();
        let compact = encode_log(&log);
        assert!(is_compact(&compact));
        assert!(compact.len() < serde_json::to_vec(&log).expect("json").len());
        assert_eq!(
            to_json(&compact).expect("reads").as_ref(),
            serde_json::to_vec(&log).expect("json")
        );
        let parsed = parsed(log);
        assert_eq!(
            to_json(&encode_parsed(&parsed)).expect("reads").as_ref(),
            serde_json::to_vec(&parsed).expect("json")
        );
        assert_eq!(
            to_json(b"{\"a\":1}").expect("as it is").as_ref(),
            b"{\"a\":1}"
        );
        let damaged = encode_parsed(&parsed)[..20].to_vec();
        assert_eq!(into_json(damaged.clone()), damaged, "kept as it is");
        assert_eq!(
            into_json(encode_parsed(&parsed)),
            serde_json::to_vec(&parsed).expect("json")
        );
    }

    #[test]
    fn every_enumeration_value_has_its_own_code() {
        for (i, format) in FORMATS.into_iter().enumerate() {
            assert_eq!(usize::from(format_code(format)), i);
        }
        for (i, severity) in LogSeverity::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(severity_code(severity)), i);
        }
        // The lists are the JSON Schema's: one code per variant, in its order.
        let names = |schema: schemars::Schema| -> Vec<serde_json::Value> {
            serde_json::to_value(schema).expect("schema")["oneOf"]
                .as_array()
                .expect("one of")
                .iter()
                .map(|variant| variant["const"].clone())
                .collect()
        };
        assert_eq!(
            names(schemars::schema_for!(SourceFormat)),
            FORMATS
                .map(|f| serde_json::to_value(f).expect("name"))
                .to_vec()
        );
        assert_eq!(
            names(schemars::schema_for!(LogSeverity)),
            LogSeverity::ALL
                .map(|s| serde_json::to_value(s).expect("name"))
                .to_vec()
        );
    }

    #[test]
    fn a_newer_version_is_refused_with_what_to_do() {
        let mut bytes = encode_log(&full_log());
        bytes[3] = COMPACT_VERSION + 1;
        let error = decode_log(&bytes).expect_err("newer");
        assert_eq!(error.kind, ErrorKind::Schema);
        assert!(
            error.reason.contains("upgrade the stages that read"),
            "{}",
            error.reason
        );
    }

    #[test]
    fn the_wrong_kind_is_a_schema_error() {
        let error = decode_parsed(&encode_log(&full_log())).expect_err("a log");
        assert_eq!(error.kind, ErrorKind::Schema);
        assert!(
            error
                .reason
                .contains("compact log_record where a parsed_record"),
            "{}",
            error.reason
        );
    }

    #[test]
    fn damaged_records_are_decode_errors_never_panics() {
        let good = encode_parsed(&parsed(full_log()));
        // Every truncation, and every single byte changed to a few values: an error or a record, never
        // a panic, and never a record from bytes that do not add up to one.
        for end in 0..good.len() {
            let error = decode_parsed(&good[..end]).expect_err("truncated");
            assert!(
                matches!(error.kind, ErrorKind::Decode | ErrorKind::Schema),
                "{error:?}"
            );
        }
        for at in HEADER_BYTES..good.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] = value;
                if let Ok(record) = decode_parsed(&bytes) {
                    assert_eq!(encode_parsed(&record), bytes, "byte {at} = {value:#x}");
                }
            }
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(
            decode_parsed(&longer)
                .expect_err("trailing")
                .reason
                .contains("after the record")
        );
    }

    #[test]
    fn a_huge_count_is_refused_before_anything_is_allocated() {
        let mut bytes = Vec::new();
        header(&mut bytes, KIND_PARSED);
        var(&mut bytes, 1);
        string(&mut bytes, "t");
        string(&mut bytes, "t");
        var(&mut bytes, 1);
        var(&mut bytes, u32::MAX);
        let error = decode_parsed(&bytes).expect_err("huge");
        assert!(error.reason.contains("items announced"), "{}", error.reason);
    }

    #[test]
    fn attribute_keys_must_ascend() {
        let mut log = fixtures::log_record("x", 0);
        log.attributes.insert("a".into(), "1".into());
        log.attributes.insert("b".into(), "2".into());
        let bytes = encode_log(&log);
        let at = bytes
            .windows(3)
            .position(|w| w == [1, b'a', 1])
            .expect("key a");
        let mut swapped = bytes.clone();
        swapped[at + 1] = b'b';
        let error = decode_log(&swapped).expect_err("repeated key");
        assert!(error.reason.contains("out of order"), "{}", error.reason);
    }
}
