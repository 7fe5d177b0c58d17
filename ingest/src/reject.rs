//! Why ingest refuses an input: a fixed set of reasons, each with its own counter
//! (`medic_stage_events_total{stage="ingest", event="rejected.<reason>"}`) and a dead-letter reason text.

use schemas::{ErrorKind, StageError};
use std::fmt;

/// The reason an input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The payload is empty or only whitespace.
    EmptyPayload,
    /// The payload exceeds `max_record_bytes`.
    RecordTooLarge,
    /// Text that should be JSON is not.
    MalformedJson,
    /// JSON of the wrong shape or with fields of the wrong type.
    WrongShape,
    /// A field that should hold base64 does not.
    InvalidBase64,
    /// Bytes that start like gzip do not decompress.
    BadGzip,
    /// Decompressed data would exceed `max_decompressed_bytes` (a gzip bomb, or a limit set too low).
    GzipTooLarge,
    /// A timestamp does not parse.
    BadTimestamp,
    /// A timestamp parses but lies outside the accepted range.
    AbsurdTimestamp,
    /// Envelopes nested deeper than medic unwraps.
    TooDeep,
    /// One input holds more records than `max_records_per_input`.
    TooManyRecords,
}

impl Reason {
    /// Every reason (to pre-register counters and document them).
    pub const ALL: [Reason; 11] = [
        Reason::EmptyPayload,
        Reason::RecordTooLarge,
        Reason::MalformedJson,
        Reason::WrongShape,
        Reason::InvalidBase64,
        Reason::BadGzip,
        Reason::GzipTooLarge,
        Reason::BadTimestamp,
        Reason::AbsurdTimestamp,
        Reason::TooDeep,
        Reason::TooManyRecords,
    ];

    /// The snake_case reason code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Reason::EmptyPayload => "empty_payload",
            Reason::RecordTooLarge => "record_too_large",
            Reason::MalformedJson => "malformed_json",
            Reason::WrongShape => "wrong_shape",
            Reason::InvalidBase64 => "invalid_base64",
            Reason::BadGzip => "bad_gzip",
            Reason::GzipTooLarge => "gzip_too_large",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::AbsurdTimestamp => "absurd_timestamp",
            Reason::TooDeep => "too_deep",
            Reason::TooManyRecords => "too_many_records",
        }
    }

    /// The counter event name, `rejected.<code>`.
    #[must_use]
    pub const fn event(self) -> &'static str {
        match self {
            Reason::EmptyPayload => "rejected.empty_payload",
            Reason::RecordTooLarge => "rejected.record_too_large",
            Reason::MalformedJson => "rejected.malformed_json",
            Reason::WrongShape => "rejected.wrong_shape",
            Reason::InvalidBase64 => "rejected.invalid_base64",
            Reason::BadGzip => "rejected.bad_gzip",
            Reason::GzipTooLarge => "rejected.gzip_too_large",
            Reason::BadTimestamp => "rejected.bad_timestamp",
            Reason::AbsurdTimestamp => "rejected.absurd_timestamp",
            Reason::TooDeep => "rejected.too_deep",
            Reason::TooManyRecords => "rejected.too_many_records",
        }
    }

    /// The coarse error kind (the DLQ header and the `error_kind` label).
    #[must_use]
    pub const fn kind(self) -> ErrorKind {
        match self {
            Reason::EmptyPayload | Reason::AbsurdTimestamp => ErrorKind::Invalid,
            Reason::RecordTooLarge
            | Reason::GzipTooLarge
            | Reason::TooDeep
            | Reason::TooManyRecords => ErrorKind::TooLarge,
            Reason::MalformedJson | Reason::InvalidBase64 | Reason::BadGzip => ErrorKind::Decode,
            Reason::WrongShape | Reason::BadTimestamp => ErrorKind::Schema,
        }
    }
}

/// An input refused for `reason`, with details for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Why.
    pub reason: Reason,
    /// What exactly was wrong.
    pub detail: String,
}

impl Reject {
    /// A rejection for `reason`.
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// A JSON error: malformed text, or (for serde data errors) the wrong shape.
    pub(crate) fn json(what: &str, error: &serde_json::Error) -> Self {
        let reason = if error.is_data() {
            Reason::WrongShape
        } else {
            Reason::MalformedJson
        };
        Self::new(reason, format!("{what}: {error}"))
    }

    /// A wrong-shape rejection.
    pub(crate) fn shape(detail: impl Into<String>) -> Self {
        Self::new(Reason::WrongShape, detail)
    }

    /// Prefixes the detail with where it happened (`line 3`, `record 2`).
    #[must_use]
    pub(crate) fn at(mut self, place: impl fmt::Display) -> Self {
        self.detail = format!("{place}: {}", self.detail);
        self
    }
}

impl From<Reject> for StageError {
    fn from(reject: Reject) -> Self {
        StageError::new(
            reject.reason.kind(),
            format!("[{}] {}", reject.reason.code(), reject.detail),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_events_agree_and_are_unique() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        for reason in Reason::ALL {
            assert_eq!(reason.event(), format!("rejected.{}", reason.code()));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
    }

    #[test]
    fn stage_error_carries_the_code() {
        let error: StageError = Reject::new(Reason::InvalidBase64, "awslogs.data").into();
        assert_eq!(error.kind, ErrorKind::Decode);
        assert_eq!(error.reason, "[invalid_base64] awslogs.data");
    }
}
