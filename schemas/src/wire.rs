//! How records are encoded on topics: JSON with a `schema_version`, except the per-line records (log and
//! parsed), which are written in the compact binary encoding ([`crate::compact`]) and read in either.

use crate::{
    ActionResult, Decision, Diagnosis, LogRecord, ParsedRecord, RemediationCommand, ShadowDecision,
    StageError, WindowFeatures, WorkloadState,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The schema version this build writes and the highest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The kinds of record a stage can emit. The runner maps each kind to its topic from the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// [`LogRecord`] → `medic.logs.normalized`.
    Log,
    /// [`ParsedRecord`] → `medic.logs.parsed`.
    Parsed,
    /// [`WindowFeatures`] → `medic.windows`.
    Window,
    /// [`Diagnosis`] → `medic.diagnoses`.
    Diagnosis,
    /// [`Decision`] → `medic.decisions`.
    Decision,
    /// [`RemediationCommand`] → `medic.actions`.
    Command,
    /// [`ActionResult`] → `medic.actions.results`.
    ActionResult,
    /// [`WorkloadState`] → `medic.state`.
    State,
    /// [`ShadowDecision`] → `medic.decisions.shadow`.
    ShadowDecision,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 9] = [
        RecordKind::Log,
        RecordKind::Parsed,
        RecordKind::Window,
        RecordKind::Diagnosis,
        RecordKind::Decision,
        RecordKind::Command,
        RecordKind::ActionResult,
        RecordKind::State,
        RecordKind::ShadowDecision,
    ];

    /// snake_case name: the metric label and the JSON Schema file stem.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::Log => "log_record",
            RecordKind::Parsed => "parsed_record",
            RecordKind::Window => "window_features",
            RecordKind::Diagnosis => "diagnosis",
            RecordKind::Decision => "decision",
            RecordKind::Command => "remediation_command",
            RecordKind::ActionResult => "action_result",
            RecordKind::State => "workload_state",
            RecordKind::ShadowDecision => "shadow_decision",
        }
    }

    /// The JSON Schema of this kind's record.
    #[must_use]
    pub fn json_schema(self) -> schemars::Schema {
        match self {
            RecordKind::Log => schemars::schema_for!(LogRecord),
            RecordKind::Parsed => schemars::schema_for!(ParsedRecord),
            RecordKind::Window => schemars::schema_for!(WindowFeatures),
            RecordKind::Diagnosis => schemars::schema_for!(Diagnosis),
            RecordKind::Decision => schemars::schema_for!(Decision),
            RecordKind::Command => schemars::schema_for!(RemediationCommand),
            RecordKind::ActionResult => schemars::schema_for!(ActionResult),
            RecordKind::State => schemars::schema_for!(WorkloadState),
            // The same record as a decision, on another topic.
            RecordKind::ShadowDecision => schemars::schema_for!(Decision),
        }
    }
}

/// A record that travels on a topic.
pub trait WireRecord: Serialize + DeserializeOwned {
    /// Which kind of record this is (and so which topic it goes to).
    const KIND: RecordKind;

    /// The `schema_version` the record carries.
    fn schema_version(&self) -> u32;

    /// The Kafka message key: records with the same key keep their order. Defaults to no key.
    fn key(&self) -> Option<String> {
        None
    }

    /// The record in the compact encoding ([`crate::compact`]), for the kinds written so; `None`: JSON.
    fn to_compact(&self) -> Option<Vec<u8>> {
        None
    }

    /// Reads a compact record of this kind; `None` when this kind is never written compact.
    fn from_compact(_payload: &[u8]) -> Option<Result<Self, StageError>> {
        None
    }
}

/// `namespace/name` (`_` for no namespace): the Kafka key of a workload's records.
pub(crate) fn workload_key(namespace: Option<&str>, name: &str) -> String {
    // Pushed rather than `format!`ed: every line's record is keyed.
    let namespace = namespace.unwrap_or("_");
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key
}

impl WireRecord for LogRecord {
    const KIND: RecordKind = RecordKind::Log;
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
    fn key(&self) -> Option<String> {
        self.resource.view().key()
    }
    fn to_compact(&self) -> Option<Vec<u8>> {
        Some(crate::compact::encode_log(self))
    }
    fn from_compact(payload: &[u8]) -> Option<Result<Self, StageError>> {
        Some(crate::compact::decode_log(payload))
    }
}

impl WireRecord for ParsedRecord {
    const KIND: RecordKind = RecordKind::Parsed;
    fn schema_version(&self) -> u32 {
        self.schema_version
    }
    fn key(&self) -> Option<String> {
        self.log.key()
    }
    fn to_compact(&self) -> Option<Vec<u8>> {
        Some(crate::compact::encode_parsed(self))
    }
    fn from_compact(payload: &[u8]) -> Option<Result<Self, StageError>> {
        Some(crate::compact::decode_parsed(payload))
    }
}

macro_rules! keyed_by_target {
    ($($ty:ty => $kind:expr),* $(,)?) => {$(
        impl WireRecord for $ty {
            const KIND: RecordKind = $kind;
            fn schema_version(&self) -> u32 {
                self.schema_version
            }
            fn key(&self) -> Option<String> {
                Some(workload_key(self.target.namespace.as_deref(), &self.target.name))
            }
        }
    )*};
}

keyed_by_target!(
    WindowFeatures => RecordKind::Window,
    Diagnosis => RecordKind::Diagnosis,
    Decision => RecordKind::Decision,
    RemediationCommand => RecordKind::Command,
    ActionResult => RecordKind::ActionResult,
    WorkloadState => RecordKind::State,
);

impl WireRecord for ShadowDecision {
    const KIND: RecordKind = RecordKind::ShadowDecision;
    fn schema_version(&self) -> u32 {
        self.0.schema_version
    }
    fn key(&self) -> Option<String> {
        self.0.key()
    }
}

/// Encodes a record: log and parsed records in the compact encoding, every other record as JSON.
///
/// # Errors
/// [`crate::ErrorKind::Internal`] if serialisation fails (a record with a non-finite float, say).
pub fn encode_record<R: WireRecord>(record: &R) -> Result<Vec<u8>, StageError> {
    match record.to_compact() {
        Some(bytes) => Ok(bytes),
        None => encode_json(record),
    }
}

/// Encodes a record as JSON, whatever its kind.
///
/// # Errors
/// [`crate::ErrorKind::Internal`] if serialisation fails (a record with a non-finite float, say).
pub fn encode_json<R: WireRecord>(record: &R) -> Result<Vec<u8>, StageError> {
    serde_json::to_vec(record)
        .map_err(|e| StageError::new(crate::ErrorKind::Internal, format!("encode: {e}")))
}

/// Decodes a record, JSON or compact, and checks its `schema_version`.
///
/// # Errors
/// [`crate::ErrorKind::Decode`] for bytes that are neither JSON nor a whole compact record,
/// [`crate::ErrorKind::Schema`] for a record of the wrong shape or kind, or a `schema_version` (or
/// compact layout) newer than this build reads.
pub fn decode_record<R: WireRecord>(payload: &[u8]) -> Result<R, StageError> {
    let record: R = if crate::compact::is_compact(payload) {
        R::from_compact(payload).unwrap_or_else(|| {
            Err(StageError::schema(format!(
                "a compact record where a {} (JSON) was expected",
                R::KIND.as_str()
            )))
        })?
    } else {
        serde_json::from_slice(payload).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                StageError::decode(format!("not JSON: {e}"))
            } else {
                StageError::schema(format!("not a {}: {e}", R::KIND.as_str()))
            }
        })?
    };
    check_version(R::KIND, record.schema_version())?;
    Ok(record)
}

/// Refuses a record of `kind` whose `schema_version` this build does not read.
pub(crate) fn check_version(kind: RecordKind, version: u32) -> Result<(), StageError> {
    if version == 0 || version > SCHEMA_VERSION {
        return Err(StageError::schema(format!(
            "{} schema_version {version} is not supported (this build reads 1..={SCHEMA_VERSION})",
            kind.as_str()
        )));
    }
    Ok(())
}
