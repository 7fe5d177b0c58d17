//! The pass-through pipeline: the line path's stages replaced by ones that forward each record
//! unchanged, so `medic bench e2e --pass-through` measures what the same hops and broker carry when no
//! stage does any work — the limit medic's own lines/s is a fraction of.
//!
//! ```text
//!  source topic ─► ingest: forward as Log ─► enrich: forward as Parsed (what the real enrich writes
//!                                                      for every line; it writes no window)
//!                   diagnose, decide, act, actuator: read (nothing reaches them), drop
//! ```
//!
//! A blank record is dead-lettered, as the real stages do, so the bench's warm-up record reaches the
//! dead-letter topic from every stage.

use crate::stages::StageName;
use schemas::{Emitter, ErrorKind, RecordKind, SourceRecord, Stage, StageError};

/// A stage that forwards its input unchanged as `kind`, or reads and drops it.
pub struct PassThrough {
    kind: Option<RecordKind>,
}

impl PassThrough {
    /// The pass-through of `stage`: ingest and enrich forward what they read as their main output;
    /// the others read and drop.
    #[must_use]
    pub fn of(stage: StageName) -> Self {
        Self {
            kind: match stage {
                StageName::Ingest | StageName::Enrich => stage.output_kinds().first().copied(),
                _ => None,
            },
        }
    }
}

impl Stage for PassThrough {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            if input.payload.iter().all(u8::is_ascii_whitespace) {
                out.reject(input, StageError::new(ErrorKind::Invalid, "blank record"));
                continue;
            }
            match self.kind {
                Some(kind) => out.forward(kind, input),
                None => out.drop_record(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_path_forwards_unchanged_the_rest_drops_and_blanks_are_dead_lettered() {
        let line = SourceRecord::new("medic.logs.k8s", 0, 7, b"a line".to_vec());
        let blank = SourceRecord::new("medic.logs.k8s", 0, 8, b" \n".to_vec());
        for (stage, kind) in [
            (StageName::Ingest, Some(RecordKind::Log)),
            (StageName::Enrich, Some(RecordKind::Parsed)),
            (StageName::Diagnose, None),
        ] {
            let mut out = Emitter::new();
            PassThrough::of(stage).process_batch(&[line.clone(), blank.clone()], &mut out);
            let emitted: Vec<(RecordKind, &[u8])> = out
                .emitted()
                .iter()
                .map(|e| (e.kind, e.payload.as_slice()))
                .collect();
            match kind {
                Some(kind) => assert_eq!(emitted, [(kind, b"a line".as_slice())], "{stage}"),
                None => assert_eq!((emitted.len(), out.dropped()), (0, 1), "{stage}"),
            }
            assert_eq!(out.rejections().len(), 1, "{stage}");
        }
    }
}
