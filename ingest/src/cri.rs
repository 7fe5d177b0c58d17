//! Kubernetes CRI container log lines and partial-line reassembly.
//!
//! A CRI line is `<RFC3339Nano time> <stdout|stderr> <P|F> <message>`. The runtime splits long lines into
//! `P` (partial) chunks followed by one `F` (full) chunk; the [`Assembler`] joins them per log stream.

use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use schemas::Stream;
use std::collections::{BTreeMap, HashMap};

/// One parsed CRI line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CriLine<'a> {
    pub time_ns: i64,
    pub stream: Stream,
    pub partial: bool,
    pub message: &'a str,
}

/// Whether `line` starts like a CRI line (used by format detection).
pub(crate) fn looks_like_cri(line: &str) -> bool {
    parse_line(line).is_ok()
}

/// Parses one CRI line.
///
/// # Errors
/// [`Reason::BadTimestamp`] or [`Reason::WrongShape`] naming the field that is malformed.
pub(crate) fn parse_line(line: &str) -> Result<CriLine<'_>, Reject> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = line.splitn(4, ' ');
    let time = fields.next().unwrap_or_default();
    let time_ns = crate::time::rfc3339_ns(time).ok_or_else(|| {
        Reject::new(
            Reason::BadTimestamp,
            format!("CRI line: bad timestamp {time:?}"),
        )
    })?;
    let stream = match fields.next() {
        Some("stdout") => Stream::Stdout,
        Some("stderr") => Stream::Stderr,
        other => return Err(Reject::shape(format!("CRI line: bad stream {other:?}"))),
    };
    let partial = match fields.next() {
        Some("P") => true,
        Some("F") => false,
        other => {
            return Err(Reject::shape(format!(
                "CRI line: bad tag {other:?} (expected P or F)"
            )));
        }
    };
    Ok(CriLine {
        time_ns,
        stream,
        partial,
        message: fields.next().unwrap_or_default(),
    })
}

/// A message being reassembled from partial chunks.
#[derive(Debug)]
struct Pending {
    first: Decoded,
    text: String,
    first_seen_ns: i64,
    /// Its place in the age order ([`Assembler::by_age`]).
    order: (i64, u64),
}

/// A stream: the message key (or topic/partition) and stdout/stderr.
type StreamKey = (String, Option<Stream>);

/// What one pending message is charged against the bound besides its text: its stream key and the
/// bookkeeping around it, so that many streams with empty chunks are bounded too.
const ENTRY_BYTES: usize = 256;

fn charge(key: &StreamKey, pending: &Pending) -> usize {
    pending.text.len() + key.0.len() + ENTRY_BYTES
}

/// Joins partial chunks per log stream (message key + stdout/stderr), bounded in size and age.
///
/// # Guarantees
/// A pending message is emitted when its final chunk arrives, when it would exceed `max_bytes` (marked
/// `truncated`), when it is older than the flush timeout at a tick (marked `partial`), or, oldest first,
/// when the messages pending across all streams would hold more than `max_pending_bytes` (marked
/// `partial`; taken with [`Assembler::take_evicted`]): many streams each left unfinished cannot grow the
/// stage's memory without bound.
#[derive(Debug)]
pub(crate) struct Assembler {
    pending: HashMap<StreamKey, Pending>,
    /// The pending streams by age (first seen, then arrival), for evicting the oldest first.
    by_age: BTreeMap<(i64, u64), StreamKey>,
    arrivals: u64,
    max_bytes: usize,
    flush_after_ns: i64,
    max_pending_bytes: usize,
    pending_bytes: usize,
    evicted: Vec<(String, Decoded)>,
}

impl Assembler {
    /// An assembler holding at most `max_bytes` per message and `max_pending_bytes` in all, and flushing
    /// after `flush_after_ns`.
    pub(crate) fn new(max_bytes: usize, max_pending_bytes: usize, flush_after_ns: i64) -> Self {
        Self {
            pending: HashMap::new(),
            by_age: BTreeMap::new(),
            arrivals: 0,
            max_bytes,
            flush_after_ns,
            max_pending_bytes,
            pending_bytes: 0,
            evicted: Vec::new(),
        }
    }

    /// Messages emitted early to keep the pending total within its bound, oldest first, each with its
    /// stream key.
    pub(crate) fn take_evicted(&mut self) -> Vec<(String, Decoded)> {
        std::mem::take(&mut self.evicted)
    }

    fn remove(&mut self, key: &StreamKey) -> Option<Pending> {
        let pending = self.pending.remove(key)?;
        self.pending_bytes -= charge(key, &pending);
        self.by_age.remove(&pending.order);
        Some(pending)
    }

    /// Keeps `pending` for `key`, first emitting the oldest pending messages until it fits the bound.
    fn keep(&mut self, key: StreamKey, mut pending: Pending) {
        let needed = charge(&key, &pending);
        while self.pending_bytes + needed > self.max_pending_bytes {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(evicted) = self.remove(&oldest) {
                self.evicted
                    .push((oldest.0, finish(evicted, Some("partial"))));
            }
        }
        self.pending_bytes += needed;
        if pending.order == (0, 0) {
            self.arrivals += 1;
            pending.order = (pending.first_seen_ns, self.arrivals);
        }
        self.by_age.insert(pending.order, key.clone());
        self.pending.insert(key, pending);
    }

    /// Adds one chunk of stream `key`; returns the complete message when this chunk finishes one (or
    /// pushes it past the size bound). `seen_ns` is the wall-clock time the chunk was read.
    pub(crate) fn push(
        &mut self,
        key: &str,
        chunk: Decoded,
        partial: bool,
        seen_ns: i64,
    ) -> Option<Decoded> {
        if !partial && self.pending.is_empty() {
            // The common case: a whole line, nothing pending anywhere — no lookup, no allocation.
            return Some(chunk);
        }
        let stream_key = (key.to_owned(), chunk.stream);
        let mut pending = match self.remove(&stream_key) {
            None if !partial => return Some(chunk),
            None => {
                let mut first = chunk;
                Pending {
                    text: std::mem::take(&mut first.message),
                    first,
                    first_seen_ns: seen_ns,
                    order: (0, 0),
                }
            }
            Some(mut pending) => {
                pending.text.push_str(&chunk.message);
                pending
            }
        };
        if pending.text.len() > self.max_bytes {
            let mut cut = self.max_bytes;
            while !pending.text.is_char_boundary(cut) {
                cut -= 1;
            }
            pending.text.truncate(cut);
            return Some(finish(pending, Some("truncated")));
        }
        if partial {
            self.keep(stream_key, pending);
            return None;
        }
        Some(finish(pending, None))
    }

    /// Emits every message whose first chunk was seen more than the flush timeout before `now_ns`, each
    /// with its stream key.
    pub(crate) fn flush_expired(&mut self, now_ns: i64) -> Vec<(String, Decoded)> {
        let deadline = now_ns - self.flush_after_ns;
        let expired: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.first_seen_ns <= deadline)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| Some((self.remove(&k)?, k.0)))
            .map(|(p, key)| (key, finish(p, Some("partial"))))
            .collect()
    }

    /// Emits everything pending (at shutdown), each with its stream key.
    pub(crate) fn flush_all(&mut self) -> Vec<(String, Decoded)> {
        self.pending_bytes = 0;
        self.by_age.clear();
        let mut all = self.take_evicted();
        all.extend(
            self.pending
                .drain()
                .map(|((key, _), p)| (key, finish(p, Some("partial")))),
        );
        all
    }

    /// The source coordinates of pending messages (they are not yet emitted).
    #[cfg(test)]
    pub(crate) fn pending_sources(&self) -> Vec<schemas::SourceCoordinates> {
        self.pending
            .values()
            .map(|p| p.first.source.clone())
            .collect()
    }
}

fn finish(pending: Pending, flag: Option<&str>) -> Decoded {
    let mut record = pending.first;
    record.message = pending.text;
    if let Some(flag) = flag {
        record
            .attributes
            .insert(format!("medic.{flag}"), "true".to_owned());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::SourceFormat;

    const FIXTURE: &str = include_str!("../tests/fixtures/cri-lines.log");

    fn chunk(line: &str, offset: i64) -> (Decoded, bool) {
        let parsed = parse_line(line).expect("valid CRI line");
        let mut decoded = Decoded::new(SourceFormat::Cri, parsed.message.to_owned());
        decoded.stream = Some(parsed.stream);
        decoded.event_time_ns = Some(parsed.time_ns);
        decoded.source.offset = offset;
        (decoded, parsed.partial)
    }

    #[test]
    fn parse_line_table() {
        let ok = parse_line("2019-05-07T18:57:50.904275087+00:00 stderr F hello world\n")
            .expect("valid");
        assert_eq!(
            (ok.stream, ok.partial, ok.message),
            (Stream::Stderr, false, "hello world")
        );
        assert_eq!(ok.time_ns, 1_557_255_470_904_275_087);
        let empty = parse_line("2019-05-07T18:57:50Z stdout F").expect("empty message is valid");
        assert_eq!(empty.message, "");
        for bad in [
            "",
            "not-a-time stdout F x",
            "2019-05-07T18:57:50Z stdin F x",
            "2019-05-07T18:57:50Z stdout X x",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn reassembles_the_fluent_bit_fixture_per_stream() {
        let mut assembler = Assembler::new(1 << 20, 1 << 24, 5_000_000_000);
        let mut complete = Vec::new();
        for (i, line) in FIXTURE.lines().enumerate() {
            let (decoded, partial) = chunk(line, i as i64);
            complete.extend(assembler.push("file", decoded, partial, 0));
        }
        let messages: Vec<_> = complete.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "1a. some multiline log",
                "1b. some multiline log",
                "2a. another multiline log",
                "2b. another multiline log",
                "3a. non multiline 1",
                "4a. non multiline 2",
                "3b. non multiline 1",
                "4b. non multiline 2",
            ]
        );
        // The reassembled message keeps the first chunk's time and coordinates.
        assert_eq!(complete[0].source.offset, 0);
        assert_eq!(complete[0].event_time_ns, Some(1_557_255_470_904_275_087));
        assert!(assembler.pending_sources().is_empty());
    }

    #[test]
    fn bounds_size_and_age() {
        let mut assembler = Assembler::new(8, 64, 1_000);
        let (a, _) = chunk("2019-05-07T18:57:50Z stdout P 12345", 0);
        assert!(assembler.push("k", a, true, 0).is_none());
        let (b, _) = chunk("2019-05-07T18:57:51Z stdout P 67890", 1);
        let cut = assembler
            .push("k", b, true, 10)
            .expect("oversized message is flushed");
        assert_eq!(cut.message, "12345678");
        assert_eq!(
            cut.attributes.get("medic.truncated").map(String::as_str),
            Some("true")
        );

        let (c, _) = chunk("2019-05-07T18:57:52Z stderr P tail", 2);
        assert!(assembler.push("k", c, true, 100).is_none());
        assert!(
            assembler.flush_expired(500).is_empty(),
            "not old enough yet"
        );
        let flushed = assembler.flush_expired(1_100);
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].0, "k", "with its stream key");
        assert_eq!(
            flushed[0]
                .1
                .attributes
                .get("medic.partial")
                .map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn many_unfinished_streams_stay_within_the_pending_bound_oldest_out_first() {
        // Each 10-byte message of stream `pod-N` is charged 10 + 5 + ENTRY_BYTES: two fit in 600.
        let mut assembler = Assembler::new(100, 600, 1_000_000);
        for stream in 0..5 {
            let (part, _) = chunk("2019-05-07T18:57:50Z stdout P 0123456789", stream);
            let key = format!("pod-{stream}");
            assert!(assembler.push(&key, part, true, stream).is_none());
            assert!(
                assembler.pending_bytes <= 600,
                "{}",
                assembler.pending_bytes
            );
        }
        let evicted = assembler.take_evicted();
        assert_eq!(
            evicted.len(),
            3,
            "two of five 10-byte messages fit in 25 bytes"
        );
        assert!(
            evicted
                .iter()
                .all(|(_, d)| d.attributes.contains_key("medic.partial"))
        );
        assert_eq!(assembler.flush_all().len(), 2);
        assert_eq!(assembler.pending_bytes, 0);
    }
}
