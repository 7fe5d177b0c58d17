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

/// A [`ParsedRecord`] without its log, borrowed: what [`ParsedRecord::encode_with_log_json`] encodes
/// before it appends the log's own bytes. Its fields are the record's, in the same order.
#[derive(Serialize)]
struct WithoutLog<'a> {
    schema_version: u32,
    template_id: &'a str,
    template: &'a str,
    template_version: u32,
    params: &'a [String],
}

impl ParsedRecord {
    /// The record's JSON, as [`crate::wire::encode_record`] writes it, except that the log is `log_json`
    /// — the bytes `self.log` was decoded from — instead of `self.log` encoded again. The log is most of
    /// a parsed record, and encoding it again was about a tenth of enrich's CPU per line.
    ///
    /// `log_json` must be a JSON object that decodes to `self.log` (the normalised record's payload as
    /// read, when nothing in the log was changed since): the result then decodes to `self`.
    ///
    /// # Errors
    /// When the other fields cannot be encoded (they are strings and integers, so never in practice).
    pub fn encode_with_log_json(&self, log_json: &[u8]) -> Result<Vec<u8>, crate::StageError> {
        let head = WithoutLog {
            schema_version: self.schema_version,
            template_id: &self.template_id,
            template: &self.template,
            template_version: self.template_version,
            params: &self.params,
        };
        let mut out = Vec::with_capacity(log_json.len() + 256);
        serde_json::to_writer(&mut out, &head).map_err(|e| {
            crate::StageError::new(crate::ErrorKind::Internal, format!("encode: {e}"))
        })?;
        // `head` is an object: replace its closing brace with the log and close it again.
        out.pop();
        out.extend_from_slice(b",\"log\":");
        out.extend_from_slice(log_json);
        out.push(b'}');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::log_record;
    use crate::wire::{decode_record, encode_record};

    fn parsed() -> ParsedRecord {
        ParsedRecord {
            schema_version: crate::SCHEMA_VERSION,
            template_id: "tpl-1".into(),
            template: "GET <*> took \"<*>\" ms".into(),
            template_version: 2,
            params: vec!["/a\\b".into(), "1é".into()],
            log: log_record("GET /a\\b took \"1é\" ms", 1_700_000_000_000_000_000),
        }
    }

    #[test]
    fn the_log_s_own_bytes_give_what_encoding_it_again_gives() {
        let record = parsed();
        let log_json = encode_record(&record.log).expect("encodes");
        assert_eq!(
            record.encode_with_log_json(&log_json).expect("encodes"),
            encode_record(&record).expect("encodes"),
            "same fields, same order, same bytes"
        );
    }

    #[test]
    fn a_log_written_otherwise_still_decodes_to_the_record() {
        let record = parsed();
        // Another writer's spacing and field order: the same log.
        let value = serde_json::to_value(&record.log).expect("encodes");
        let log_json = serde_json::to_vec_pretty(&value).expect("encodes");
        let spliced = record.encode_with_log_json(&log_json).expect("encodes");
        assert_eq!(
            decode_record::<ParsedRecord>(&spliced).expect("decodes"),
            record
        );
    }
}
