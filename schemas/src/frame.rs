//! Frames: many records in one Kafka message, for the topics that carry one record per log line
//! (`medic.logs.normalized`, `medic.logs.parsed`).
//!
//! One Kafka message per line costs more than the stages' own work (the runner's `--pass-through` bench
//! tops out near 16–20k lines/s on two cores), so the runner packs the records a batch sends to one
//! partition into frames and unpacks them on the other side. Each record inside keeps its own key and its
//! own payload, so a stage still sees, rejects and dead-letters single records.
//!
//! # Layout, version 2 (all integers little-endian)
//!
//! ```text
//! 0x00 'M' 'F'  version: u8 = 2   count: u32
//! count × { key_len: u32 (0xFFFF_FFFF = no key)   payload_len: u32   key bytes   payload bytes }
//! ```
//!
//! Version 1 has the same layout with JSON records only; version 2 records are in the compact encoding
//! ([`crate::compact`]) or JSON, which a reader tells apart by their first byte. A version 1 reader
//! would take a compact record for bad JSON, so frames that may hold one say version 2, and a version 1
//! reader refuses them whole with what to do.
//!
//! The leading NUL cannot start a JSON document, so a message without it is one record as before frames
//! existed ("version 0"): a reader of this version reads topics written before and after. A frame of a
//! version newer than [`FRAME_VERSION`] is refused with [`FrameError::Newer`] (the runner dead-letters it
//! whole, with that reason), never guessed at. The same layout is described in `schemas/json/frame.md`.

use crate::bytes::ByteReader;
use std::fmt;

/// The first bytes of every frame.
pub const FRAME_MAGIC: [u8; 3] = [0x00, b'M', b'F'];

/// The frame layout this build writes, and the newest it reads (it reads every older one too).
pub const FRAME_VERSION: u8 = 2;

/// Bytes before the first record: magic, version, count.
pub const FRAME_HEADER_BYTES: usize = FRAME_MAGIC.len() + 1 + 4;

/// Bytes a record adds besides its key and payload.
pub const FRAME_RECORD_OVERHEAD: usize = 8;

/// The most records one frame may hold: a reader refuses more, so one message cannot turn into an
/// unbounded number of records (and dead letters) downstream.
pub const MAX_FRAME_RECORDS: u32 = 10_000;

const NO_KEY: u32 = u32::MAX;

/// One record of a frame, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramedRecord<'a> {
    /// The record's key, if it had one.
    pub key: Option<&'a [u8]>,
    /// The record's payload (compact or JSON, [`crate::compact`]).
    pub payload: &'a [u8],
}

/// Why a message could not be read as records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A frame written by a newer medic; this reader does not know its layout.
    Newer {
        /// The frame's version.
        version: u8,
    },
    /// The frame ends before its records do, or has bytes after them.
    Malformed {
        /// What was wrong, and where.
        reason: String,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Newer { version } => write!(
                f,
                "frame version {version} is newer than this reader's {FRAME_VERSION}: upgrade the stages \
                 that read this topic before the ones that write it"
            ),
            FrameError::Malformed { reason } => write!(f, "malformed frame: {reason}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Whether `payload` is a frame (of any version) rather than a single record.
#[must_use]
pub fn is_frame(payload: &[u8]) -> bool {
    payload.starts_with(&FRAME_MAGIC)
}

/// Builds one frame record by record.
#[derive(Debug, Clone)]
pub struct FrameWriter {
    bytes: Vec<u8>,
    count: u32,
}

impl Default for FrameWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameWriter {
    /// An empty frame.
    #[must_use]
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(1024);
        bytes.extend_from_slice(&FRAME_MAGIC);
        bytes.push(FRAME_VERSION);
        bytes.extend_from_slice(&0u32.to_le_bytes());
        Self { bytes, count: 0 }
    }

    /// Whether the frame holds [`MAX_FRAME_RECORDS`] and takes no more.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.count >= MAX_FRAME_RECORDS
    }

    /// The frame's size in bytes if `key` and `payload` were added.
    #[must_use]
    pub fn len_with(&self, key: Option<&[u8]>, payload: &[u8]) -> usize {
        self.bytes.len() + FRAME_RECORD_OVERHEAD + key.map_or(0, <[u8]>::len) + payload.len()
    }

    /// Appends a record.
    ///
    /// # Panics
    /// When the key or payload is 4 GiB or more (Kafka's message limit keeps both far below that), or
    /// the frame [`FrameWriter::is_full`].
    pub fn push(&mut self, key: Option<&[u8]>, payload: &[u8]) {
        assert!(
            !self.is_full(),
            "a frame holds at most {MAX_FRAME_RECORDS} records"
        );
        let key_len = key.map_or(NO_KEY, |k| {
            u32::try_from(k.len()).expect("a key under 4 GiB")
        });
        let payload_len = u32::try_from(payload.len()).expect("a payload under 4 GiB");
        self.bytes.extend_from_slice(&key_len.to_le_bytes());
        self.bytes.extend_from_slice(&payload_len.to_le_bytes());
        if let Some(key) = key {
            self.bytes.extend_from_slice(key);
        }
        self.bytes.extend_from_slice(payload);
        self.count = self
            .count
            .checked_add(1)
            .expect("fewer than 4 billion records");
    }

    /// How many records the frame holds.
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the frame holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The frame's bytes.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let at = FRAME_MAGIC.len() + 1;
        self.bytes[at..at + 4].copy_from_slice(&self.count.to_le_bytes());
        self.bytes
    }
}

/// The records in `payload`: every record of a frame, or the payload itself (with `key`) when it is not
/// a frame.
///
/// # Errors
/// [`FrameError::Newer`] for a frame of a newer version, [`FrameError::Malformed`] for a frame whose
/// lengths do not add up.
pub fn read_frame<'a>(
    key: Option<&'a [u8]>,
    payload: &'a [u8],
) -> Result<Vec<FramedRecord<'a>>, FrameError> {
    if !is_frame(payload) {
        return Ok(vec![FramedRecord { key, payload }]);
    }
    let malformed = |reason: String| FrameError::Malformed { reason };
    let version = *payload
        .get(FRAME_MAGIC.len())
        .ok_or_else(|| malformed("no version byte".into()))?;
    if version > FRAME_VERSION {
        return Err(FrameError::Newer { version });
    }
    if version == 0 {
        return Err(malformed("version 0 is never written as a frame".into()));
    }
    let mut reader = ByteReader::new(payload, FRAME_MAGIC.len() + 1);
    let count = u32::from_le_bytes(reader.array().map_err(malformed)?);
    if count == 0 || count > MAX_FRAME_RECORDS {
        return Err(malformed(format!(
            "{count} records; a frame holds 1 to {MAX_FRAME_RECORDS}"
        )));
    }
    // Each record takes at least its 8 length bytes: a count beyond that is a lie, not a reason to allocate.
    let most = (payload.len() - FRAME_HEADER_BYTES.min(payload.len())) / FRAME_RECORD_OVERHEAD;
    if count as usize > most {
        return Err(malformed(format!(
            "{count} records announced in {} bytes",
            payload.len()
        )));
    }
    let mut records = Vec::with_capacity(count as usize);
    for index in 0..count {
        let record = read_record(&mut reader)
            .map_err(|reason| malformed(format!("record {index}: {reason}")))?;
        records.push(record);
    }
    if reader.left() > 0 {
        return Err(malformed(format!(
            "{} bytes after the last of {count} records",
            reader.left()
        )));
    }
    Ok(records)
}

/// One record of a frame: its two lengths, its key (none for `NO_KEY`) and its payload.
fn read_record<'a>(reader: &mut ByteReader<'a>) -> Result<FramedRecord<'a>, String> {
    let key_len = u32::from_le_bytes(reader.array()?);
    let payload_len = u32::from_le_bytes(reader.array()?);
    let key = if key_len == NO_KEY {
        None
    } else {
        Some(reader.take(key_len as usize)?)
    };
    let payload = reader.take(payload_len as usize)?;
    Ok(FramedRecord { key, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(records: &[(Option<&[u8]>, &[u8])]) -> Vec<u8> {
        let mut writer = FrameWriter::new();
        for (key, payload) in records {
            writer.push(*key, payload);
        }
        writer.finish()
    }

    #[test]
    fn records_come_back_with_their_keys_in_order() {
        let records: Vec<(Option<&[u8]>, &[u8])> = vec![
            (Some(b"shop/checkout"), br#"{"a":1}"#),
            (None, br#"{"b":2}"#),
            (Some(b""), b""),
            (Some(b"shop/cart"), br#"{"c":3}"#),
        ];
        let mut writer = FrameWriter::new();
        for (key, payload) in &records {
            let expected = writer.len_with(*key, payload);
            writer.push(*key, payload);
            assert_eq!(writer.bytes.len(), expected, "len_with predicts the size");
        }
        assert_eq!(writer.count(), 4);
        let bytes = writer.finish();
        assert!(is_frame(&bytes));
        let read = read_frame(Some(b"ignored"), &bytes).expect("reads");
        let read: Vec<(Option<&[u8]>, &[u8])> = read.iter().map(|r| (r.key, r.payload)).collect();
        assert_eq!(read, records);
    }

    #[test]
    fn a_message_written_before_frames_is_one_record() {
        let payload = br#"{"schema_version":1}"#;
        let read = read_frame(Some(b"k"), payload).expect("reads");
        assert_eq!(
            read,
            vec![FramedRecord {
                key: Some(b"k"),
                payload
            }]
        );
        assert_eq!(read_frame(None, b"").expect("reads").len(), 1);
    }

    #[test]
    fn a_version_1_frame_of_json_records_is_read_beside_compact_ones() {
        let old = crate::fixtures::log_record("written by a version 1 writer", 1);
        let new = crate::fixtures::log_record("written by this one", 2);
        let json = serde_json::to_vec(&old).expect("json");
        let mut version_1 = frame_of(&[(Some(b"shop/web"), &json)]);
        version_1[3] = 1;
        let current = frame_of(&[
            (
                Some(b"shop/web"),
                &crate::encode_record(&new).expect("compact"),
            ),
            (Some(b"shop/web"), &json),
        ]);
        assert_eq!(
            current[3], 2,
            "frames that may hold compact records say version 2"
        );
        let read = |bytes: &[u8]| -> Vec<crate::LogRecord> {
            read_frame(None, bytes)
                .expect("reads")
                .iter()
                .map(|r| crate::decode_record(r.payload).expect("decodes"))
                .collect()
        };
        assert_eq!(read(&version_1), vec![old.clone()]);
        assert_eq!(read(&current), vec![new, old]);
    }

    #[test]
    fn a_newer_frame_is_refused_with_what_to_do() {
        let mut bytes = frame_of(&[(None, b"{}")]);
        bytes[3] = FRAME_VERSION + 1;
        let error = read_frame(None, &bytes).expect_err("newer");
        assert_eq!(
            error,
            FrameError::Newer {
                version: FRAME_VERSION + 1
            }
        );
        assert!(error.to_string().contains("upgrade the stages"), "{error}");
    }

    #[test]
    fn truncated_padded_or_lying_frames_are_malformed() {
        let bytes = frame_of(&[(Some(b"key"), b"{\"x\":1}"), (None, b"{}")]);
        for cut in FRAME_MAGIC.len()..bytes.len() {
            let error = read_frame(None, &bytes[..cut]).expect_err("truncated");
            assert!(
                matches!(error, FrameError::Malformed { .. }),
                "{cut}: {error}"
            );
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(read_frame(None, &padded).is_err(), "trailing bytes");
        let mut lying = bytes;
        lying[4..8].copy_from_slice(&9_999u32.to_le_bytes());
        let error = read_frame(None, &lying).expect_err("count too large");
        assert!(error.to_string().contains("announced"), "{error}");
        for count in [0, MAX_FRAME_RECORDS + 1, u32::MAX] {
            lying[4..8].copy_from_slice(&count.to_le_bytes());
            let error = read_frame(None, &lying).expect_err("count out of bounds");
            assert!(error.to_string().contains("a frame holds 1 to"), "{error}");
        }
    }

    #[test]
    fn json_never_looks_like_a_frame() {
        for json in [&b"{}"[..], b"[]", b" {}", b"\"s\"", b"1", b"null"] {
            assert!(!is_frame(json));
        }
    }
}
