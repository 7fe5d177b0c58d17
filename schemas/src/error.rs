//! Errors a stage reports about one input record.

use std::fmt;

/// Who caused an error, which tells an operator where to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The data or the configuration the user supplied is wrong; retrying the same input fails again.
    User,
    /// A service outside medic (broker, API server) failed; a retry with backoff may succeed.
    External,
    /// A bug in medic.
    Internal,
}

/// The classified kind of a per-record error. Its [`ErrorKind::as_str`] is the `error_kind` label of the
/// dead-letter counter and the `medic.error.kind` DLQ header, so the set stays small and fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The payload is not the bytes the stage expects (bad UTF-8, bad JSON, bad base64, bad gzip).
    Decode,
    /// The payload decoded, but its shape is not a record this stage understands (unknown envelope,
    /// missing required field, unsupported `schema_version`).
    Schema,
    /// The record is well-formed but its content is invalid (impossible timestamp, empty target).
    Invalid,
    /// The record is too large to process under the configured bounds.
    TooLarge,
    /// The record arrived after it stopped being valid (an expired command).
    Expired,
    /// The record failed an authenticity or policy check (forged signature, target outside the allowlist).
    Rejected,
    /// A bug in medic: an invariant did not hold.
    Internal,
}

impl ErrorKind {
    /// Every kind, in a stable order (used to pre-register metric label values).
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Decode,
        ErrorKind::Schema,
        ErrorKind::Invalid,
        ErrorKind::TooLarge,
        ErrorKind::Expired,
        ErrorKind::Rejected,
        ErrorKind::Internal,
    ];

    /// The snake_case name used on the wire and as a metric label.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Decode => "decode",
            ErrorKind::Schema => "schema",
            ErrorKind::Invalid => "invalid",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Expired => "expired",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Internal => "internal",
        }
    }

    /// Who is responsible for this kind of error.
    #[must_use]
    pub const fn domain(self) -> ErrorDomain {
        match self {
            ErrorKind::Internal => ErrorDomain::Internal,
            _ => ErrorDomain::User,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a stage could not process one input record. The runner sends the record to the dead-letter topic
/// with this kind and reason in its headers, counts it, and keeps running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct StageError {
    /// The classified kind.
    pub kind: ErrorKind,
    /// A human-readable reason, specific enough to fix the input.
    pub reason: String,
}

impl StageError {
    /// An error of `kind` with `reason`.
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    /// A [`ErrorKind::Decode`] error.
    pub fn decode(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, reason)
    }

    /// A [`ErrorKind::Schema`] error.
    pub fn schema(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Schema, reason)
    }

    /// A [`ErrorKind::Invalid`] error.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, reason)
    }

    /// A [`ErrorKind::Internal`] error: a bug in medic.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_names_are_unique_snake_case() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn only_internal_errors_are_ours() {
        for kind in ErrorKind::ALL {
            assert_eq!(
                kind.domain() == ErrorDomain::Internal,
                kind == ErrorKind::Internal
            );
        }
    }

    #[test]
    fn stage_error_stays_small() {
        assert!(std::mem::size_of::<StageError>() <= 32);
    }
}
