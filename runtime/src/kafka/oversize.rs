//! Records too large for one Kafka message. No record may stop a stage: a producer refuses a message over
//! its `message.max.bytes`, the runner would retry the batch, give up and stop uncommitted, and re-read
//! the same batch after every restart. So the runner checks every record against
//! `runner.max_message_bytes` first: an output that does not fit is dead-lettered instead (its payload
//! cut to fit, with the reason and its full size in headers), and a dead letter's payload is cut the
//! same way.

use rdkafka::message::{Header, OwnedHeaders};

/// Bytes kept free under the limit for what a message carries besides key and payload: headers (a dead
/// letter's are well under 1 KiB) and the record's framing.
pub const HEADROOM: usize = 4096;

/// The header that carries a cut payload's full size.
pub const TRUNCATED_FROM: &str = "medic.truncated_from";

/// The size limit of one message, `runner.max_message_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct MessageLimit {
    max: usize,
}

impl MessageLimit {
    /// A limit of `max` bytes per message (at least twice [`HEADROOM`]; configuration validates it).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(2 * HEADROOM),
        }
    }

    /// The limit, in bytes.
    #[must_use]
    pub fn max(self) -> usize {
        self.max
    }

    /// Bytes a record (key and payload) may take: the limit less the room kept for headers.
    #[must_use]
    pub fn room(self) -> usize {
        self.max - HEADROOM
    }

    /// Whether a message with `key` and `payload` fits.
    #[must_use]
    pub fn fits(self, key: Option<&[u8]>, payload: &[u8]) -> bool {
        key.map_or(0, <[u8]>::len) + payload.len() <= self.room()
    }

    /// `key`, unless it alone takes more than a quarter of the room (a dead letter then goes unkeyed).
    #[must_use]
    pub fn key(self, key: Option<&[u8]>) -> Option<&[u8]> {
        key.filter(|k| k.len() <= self.room() / 4)
    }

    /// The longest prefix of `payload` that fits beside `key`.
    #[must_use]
    pub fn cut<'a>(self, key: Option<&[u8]>, payload: &'a [u8]) -> &'a [u8] {
        let room = self.room().saturating_sub(key.map_or(0, <[u8]>::len));
        &payload[..payload.len().min(room)]
    }

    /// The headers of the dead letter that replaces an output of `stage` for `topic` of `size` bytes.
    #[must_use]
    pub fn output_headers(self, stage: &str, topic: &str, size: usize) -> OwnedHeaders {
        let reason = format!(
            "a {size}-byte output for {topic} exceeds runner.max_message_bytes ({}; {HEADROOM} kept \
             for headers)",
            self.max
        );
        let topic = crate::kafka::dlq::clip(topic, 256);
        let size = size.to_string();
        [
            ("medic.stage", stage),
            ("medic.error.kind", schemas::ErrorKind::TooLarge.as_str()),
            ("medic.error.reason", reason.as_str()),
            ("medic.output.topic", &topic),
            (TRUNCATED_FROM, size.as_str()),
        ]
        .into_iter()
        .fold(
            OwnedHeaders::new_with_capacity(5),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                })
            },
        )
    }
}

/// `headers` with [`TRUNCATED_FROM`] added: a dead letter whose payload was cut from `size` bytes.
#[must_use]
pub fn mark_truncated(headers: OwnedHeaders, size: usize) -> OwnedHeaders {
    headers.insert(Header {
        key: TRUNCATED_FROM,
        value: Some(size.to_string().as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;

    #[test]
    fn a_message_fits_with_room_for_its_headers_and_is_cut_to_fit() {
        let limit = MessageLimit::new(10_000);
        let room = 10_000 - HEADROOM;
        assert!(limit.fits(Some(b"key"), &vec![b'x'; room - 3]));
        assert!(!limit.fits(Some(b"key"), &vec![b'x'; room - 2]));
        let big = vec![b'x'; 50_000];
        assert_eq!(limit.cut(Some(b"key"), &big).len(), room - 3);
        assert_eq!(limit.cut(None, b"small"), b"small");
        assert_eq!(
            limit.key(Some(&vec![b'k'; room])),
            None,
            "a huge key is dropped"
        );
        assert_eq!(limit.key(Some(b"k")), Some(&b"k"[..]));
    }

    #[test]
    fn an_oversized_output_is_described_in_its_headers() {
        let headers = MessageLimit::new(1_000_000).output_headers(
            "ingest",
            "medic.logs.normalized",
            1_048_863,
        );
        let value = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(value("medic.error.kind").as_deref(), Some("too_large"));
        assert_eq!(value(TRUNCATED_FROM).as_deref(), Some("1048863"));
        assert!(value("medic.error.reason").is_some_and(|r| r.contains("1000000")));
        let marked = mark_truncated(OwnedHeaders::new(), 7);
        assert_eq!(marked.count(), 1);
    }
}
