//! Dead-letter records: the rejected input unchanged, with why and where in its headers.

use rdkafka::message::{Header, OwnedHeaders};
use schemas::Rejection;

/// The header names every dead letter carries.
pub const DLQ_HEADERS: [&str; 6] = [
    "medic.stage",
    "medic.error.kind",
    "medic.error.reason",
    "medic.source.topic",
    "medic.source.partition",
    "medic.source.offset",
];

/// The headers of the dead letter for `rejection` by `stage`.
#[must_use]
pub fn dlq_headers(stage: &str, rejection: &Rejection) -> OwnedHeaders {
    let c = &rejection.coordinates;
    let values = [
        stage.to_owned(),
        rejection.error.kind.as_str().to_owned(),
        rejection.error.reason.clone(),
        c.topic.clone(),
        c.partition.to_string(),
        c.offset.to_string(),
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
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
