//! [`Proposal`] and [`Explanation`]: a command with the reasons an operator reads.

use crate::lab::twin::{Signal, TwinCommand};
use serde::Serialize;

/// Why a command was chosen: the inputs that mattered, the policy's scores, the diagnosis, and the
/// arbiter's notes.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Explanation {
    /// The policy that proposed it.
    pub policy_id: String,
    /// Inputs that mattered, by name.
    pub inputs: Vec<(String, f64)>,
    /// The policy's score per action (probabilities for PPO, Q-values for DQN).
    pub scores: Vec<(String, f64)>,
    /// The diagnosis it acted on: class and confidence.
    pub diagnosis: Option<(String, f64)>,
    /// The reason in words.
    pub reason: String,
    /// What the arbiter changed or checked, in order.
    pub arbitration: Vec<String>,
}

impl Explanation {
    /// An explanation by `policy_id` with a reason and the view's diagnosis.
    #[must_use]
    pub fn new(policy_id: &str, reason: impl Into<String>, signal: Option<Signal>) -> Self {
        Self {
            policy_id: policy_id.to_owned(),
            reason: reason.into(),
            diagnosis: signal.map(|s| (s.fault.as_str().to_owned(), s.confidence)),
            ..Self::default()
        }
    }

    /// One line for logs and decision records.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut line = format!("[{}] {}", self.policy_id, self.reason);
        if let Some((fault, confidence)) = &self.diagnosis {
            line.push_str(&format!("; diagnosis {fault} ({confidence:.2})"));
        }
        if !self.scores.is_empty() {
            let mut top = self.scores.clone();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(a, s)| format!("{a}={s:.2}"))
                .collect();
            line.push_str(&format!("; scores {}", top.join(" ")));
        }
        for note in &self.arbitration {
            line.push_str("; arbiter: ");
            line.push_str(note);
        }
        line
    }
}

/// A proposed command and its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The command.
    pub command: TwinCommand,
    /// Why.
    pub explanation: Explanation,
}
