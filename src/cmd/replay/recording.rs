//! [`Recording`]: the records a pipeline run put on its output topics, decoded, in arrival order.

use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};
use runtime::config::TopicsConfig;
use schemas::{
    ActionResult, Decision, Diagnosis, RecordKind, RemediationCommand, ShadowDecision,
    WindowFeatures, WireRecord, decode_record,
};
use serde::Serialize;

/// A record the dead-letter topic received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The stage that refused it.
    pub stage: String,
    /// Error kind (`decode`, `invalid`, …).
    pub kind: String,
    /// The reason.
    pub reason: String,
}

/// Every output of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recording {
    /// Closed event-time windows (enrich).
    pub windows: Vec<WindowFeatures>,
    /// Diagnoses.
    pub diagnoses: Vec<Diagnosis>,
    /// Decisions.
    pub decisions: Vec<Decision>,
    /// A learned policy's decisions in shadow mode (never acted on).
    pub shadow_decisions: Vec<ShadowDecision>,
    /// Commands on the actuation topic.
    pub commands: Vec<RemediationCommand>,
    /// Action results.
    pub results: Vec<ActionResult>,
    /// Dead letters, from any stage.
    pub dead_letters: Vec<DeadLetter>,
}

/// One record as it arrives.
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    /// A closed window.
    Window(&'a WindowFeatures),
    /// A diagnosis.
    Diagnosis(&'a Diagnosis),
    /// A decision.
    Decision(&'a Decision),
    /// A shadow decision: what a learned policy in shadow mode would have done.
    Shadow(&'a Decision),
    /// A command.
    Command(&'a RemediationCommand),
    /// An action result.
    Result(&'a ActionResult),
    /// A dead letter.
    DeadLetter(&'a DeadLetter),
}

impl Recording {
    /// Records of `kind` seen so far.
    #[must_use]
    pub fn count(&self, kind: RecordKind) -> u64 {
        (match kind {
            RecordKind::Window => self.windows.len(),
            RecordKind::Diagnosis => self.diagnoses.len(),
            RecordKind::Decision => self.decisions.len(),
            RecordKind::ShadowDecision => self.shadow_decisions.len(),
            RecordKind::Command => self.commands.len(),
            RecordKind::ActionResult => self.results.len(),
            _ => 0,
        }) as u64
    }

    /// Decodes `message` by its topic and keeps it; returns what it was (`None` for another topic, or a
    /// record that does not decode, which is logged: the stages only write records they encoded).
    pub fn record(
        &mut self,
        topics: &TopicsConfig,
        message: &BorrowedMessage<'_>,
    ) -> Option<Observed<'_>> {
        let topic = message.topic();
        let payload = message.payload().unwrap_or_default();
        Some(if topic == topics.dlq {
            self.dead_letters.push(dead_letter(message));
            Observed::DeadLetter(self.dead_letters.last()?)
        } else if topic == topics.windows {
            Observed::Window(push(&mut self.windows, payload, topic)?)
        } else if topic == topics.diagnoses {
            Observed::Diagnosis(push(&mut self.diagnoses, payload, topic)?)
        } else if topic == topics.decisions {
            Observed::Decision(push(&mut self.decisions, payload, topic)?)
        } else if topic == topics.shadow_decisions {
            Observed::Shadow(&push(&mut self.shadow_decisions, payload, topic)?.0)
        } else if topic == topics.actions {
            Observed::Command(push(&mut self.commands, payload, topic)?)
        } else if topic == topics.results {
            Observed::Result(push(&mut self.results, payload, topic)?)
        } else {
            return None;
        })
    }
}

fn push<'a, T: WireRecord>(list: &'a mut Vec<T>, payload: &[u8], topic: &str) -> Option<&'a T> {
    match decode_record(payload) {
        Ok(record) => {
            list.push(record);
            list.last()
        }
        Err(error) => {
            tracing::warn!(topic, error = %error, "an output record does not decode");
            None
        }
    }
}

fn dead_letter(message: &BorrowedMessage<'_>) -> DeadLetter {
    let header = |name: &str| {
        message
            .headers()
            .and_then(|h| h.iter().find(|x| x.key == name).and_then(|x| x.value))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    DeadLetter {
        stage: header("medic.stage"),
        kind: header("medic.error.kind"),
        reason: header("medic.error.reason"),
    }
}
