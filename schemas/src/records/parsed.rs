//! [`ParsedRecord`]: a log record with its mined template.

use crate::LogRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A log record with the template its message matched, produced by enrich on `medic.logs.parsed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParsedRecord {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// Stable template id: the same template gives the same id on every restart. Templates that differ
    /// only in the length of a run of variables (a list) are one group with the id of its oldest
    /// template; when a group joins an older one, its later records carry the older id.
    pub template_id: String,
    /// The group's template, with variables replaced by `<*>`.
    pub template: String,
    /// The group's template version: bumped when its template generalises (a token becomes `<*>`).
    pub template_version: u32,
    /// The values that stood where the template has `<*>`, in order.
    pub params: Vec<String>,
    /// The normalised record the template was mined from.
    pub log: LogRecord,
}
