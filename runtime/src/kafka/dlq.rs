//! Dead-letter records: the rejected input unchanged, with why and where in its headers.

use rdkafka::message::{Header, OwnedHeaders};
use schemas::Rejection;

/// The header names every dead letter carries.
/// `medic.source.index` is the record's place in a framed message (`schemas::frame`), 0 for a message
/// holding one record.
pub const DLQ_HEADERS: [&str; 7] = [
    "medic.stage",
    "medic.error.kind",
    "medic.error.reason",
    "medic.source.topic",
    "medic.source.partition",
    "medic.source.offset",
    "medic.source.index",
];

/// The longest `medic.error.reason` a dead letter carries, in bytes: reasons may quote the input, and a
/// dead letter must stay within one message (see [`crate::kafka::oversize`]).
pub const MAX_REASON_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
#[must_use]
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// The headers of the dead letter for `rejection` by `stage`.
#[must_use]
pub fn dlq_headers(stage: &str, rejection: &Rejection) -> OwnedHeaders {
    let c = &rejection.coordinates;
    let values = [
        stage.to_owned(),
        rejection.error.kind.as_str().to_owned(),
        clip(&rejection.error.reason, MAX_REASON_BYTES).into_owned(),
        c.topic.clone(),
        c.partition.to_string(),
        c.offset.to_string(),
        c.index.to_string(),
    ];
    DLQ_HEADERS.iter().zip(values.iter()).fold(
        OwnedHeaders::new_with_capacity(DLQ_HEADERS.len()),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;
    use schemas::{SourceCoordinates, StageError};

    #[test]
    fn headers_name_stage_kind_reason_and_source() {
        let rejection = Rejection {
            coordinates: SourceCoordinates {
                topic: "medic.logs.k8s".into(),
                partition: 2,
                offset: 41,
                index: 3,
            },
            key: None,
            payload: b"garbage".to_vec(),
            error: StageError::decode("not JSON"),
        };
        let headers = dlq_headers("ingest", &rejection);
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("medic.stage", "ingest"),
                ("medic.error.kind", "decode"),
                ("medic.error.reason", "not JSON"),
                ("medic.source.topic", "medic.logs.k8s"),
                ("medic.source.partition", "2"),
                ("medic.source.offset", "41"),
                ("medic.source.index", "3"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn a_reason_quoting_a_huge_input_is_clipped() {
        let reason = format!("bad timestamp {:?}", "ü".repeat(600_000));
        let clipped = clip(&reason, MAX_REASON_BYTES);
        assert!(clipped.len() <= MAX_REASON_BYTES && clipped.ends_with('…'));
        assert_eq!(clip("short", MAX_REASON_BYTES), "short");
    }
}
