//! Dead-letter records: the rejected input unchanged, with why and where in its headers (a compact
//! record from a per-line topic as its JSON form, [`as_dead_letter`]).

use crate::kafka::oversize::MessageLimit;
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

/// `rejection` as it is dead-lettered: a compact record ([`schemas::compact`]) read from one of the
/// per-line topics (`framed`) as its JSON form, which operators read, when that decodes — unless the
/// compact form fits one message under `limit` and the JSON form would not (it would be cut); anything
/// else exactly as it came — a raw source's input above all, whatever its bytes.
#[must_use]
pub fn as_dead_letter(
    mut rejection: Rejection,
    framed: &[String],
    limit: MessageLimit,
) -> Rejection {
    let key = limit.key(rejection.key.as_deref());
    if framed.contains(&rejection.coordinates.topic)
        && let Ok(std::borrow::Cow::Owned(json)) = schemas::compact::to_json(&rejection.payload)
        && (limit.fits(key, &json) || !limit.fits(key, &rejection.payload))
    {
        rejection.payload = json;
    }
    rejection
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
    fn only_a_per_line_topics_compact_record_is_dead_lettered_as_json_and_only_if_it_fits() {
        let log = schemas::fixtures::log_record("bad", 1);
        let compact = schemas::encode_record(&log).expect("compact");
        let json = serde_json::to_vec(&log).expect("json");
        let rejected = |topic: &str, key: Option<&[u8]>, payload: &[u8]| Rejection {
            coordinates: SourceCoordinates {
                topic: topic.into(),
                ..SourceCoordinates::default()
            },
            key: key.map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            error: StageError::schema("newer"),
        };
        let framed = ["medic.logs.normalized".to_owned()];
        let roomy = MessageLimit::new(1_000_000);
        let keyed = |topic: &str, key: Option<&[u8]>, payload: &[u8], limit: MessageLimit| {
            as_dead_letter(rejected(topic, key, payload), &framed, limit).payload
        };
        let as_sent =
            |topic: &str, payload: &[u8], limit: MessageLimit| keyed(topic, None, payload, limit);
        assert_eq!(as_sent("medic.logs.normalized", &compact, roomy), json);
        // A raw source's bytes stay as they came, even when they are a compact record.
        assert_eq!(as_sent("medic.logs.k8s", &compact, roomy), compact);
        // A damaged record, and a JSON form that would not fit where the record did, stay as they are.
        assert_eq!(
            as_sent("medic.logs.normalized", &compact[..9], roomy),
            &compact[..9]
        );
        // Control characters take 6 bytes each in JSON: this record fits as it is, not as JSON.
        let tight = MessageLimit::new(0);
        let escaped = schemas::fixtures::log_record(&"\u{1}".repeat(tight.room() / 2), 1);
        let compact = schemas::encode_record(&escaped).expect("compact");
        let json = serde_json::to_vec(&escaped).expect("json");
        assert!(tight.fits(None, &compact));
        assert!(!tight.fits(None, &json));
        assert_eq!(as_sent("medic.logs.normalized", &compact, tight), compact);
        // The key counts: JSON that fits alone, but not beside the key the dead letter keeps.
        let room = tight.room();
        let fitting = schemas::fixtures::log_record(&"\u{1}".repeat(room / 7), 1);
        let (compact, json) = (
            schemas::encode_record(&fitting).expect("compact"),
            serde_json::to_vec(&fitting).expect("json"),
        );
        let key = vec![b'k'; room / 4];
        assert!(tight.fits(None, &json) && !tight.fits(Some(&key), &json));
        assert!(tight.fits(Some(&key), &compact));
        assert_eq!(
            keyed("medic.logs.normalized", Some(&key), &compact, tight),
            compact
        );
        assert_eq!(keyed("medic.logs.normalized", None, &compact, tight), json);
        // When neither form fits, the JSON form is kept (and cut): its start is readable.
        let huge = schemas::fixtures::log_record(&"x".repeat(2 * room), 1);
        let compact = schemas::encode_record(&huge).expect("compact");
        assert_eq!(
            as_sent("medic.logs.normalized", &compact, tight),
            serde_json::to_vec(&huge).expect("json")
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
