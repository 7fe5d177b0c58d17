//! [`Actuator`]: commands → action results.

use crate::dedup::SeenKeys;
use crate::{ActConfig, ActuatorMode};
use schemas::clock::{Clock, wall_clock_ns};
use schemas::{
    ActionOutcome, ActionResult, Emitter, ErrorKind, RemediationCommand, SCHEMA_VERSION,
    SourceRecord, Stage, StageError, decode_record,
};

/// Applies commands (in this build: records them in `log` mode), at most once per idempotency key.
/// Built by [`ActConfig::build_actuator`].
///
/// # Guarantees
/// An expired command goes to the dead-letter topic and is never applied. A command whose idempotency key
/// was already handled yields a `duplicate` result and is not applied again (within `dedup_capacity` keys
/// of memory; durable deduplication across restarts comes with the act issue).
pub struct Actuator {
    mode: ActuatorMode,
    seen: SeenKeys,
    clock: Clock,
}

impl Actuator {
    pub(crate) fn new(config: &ActConfig) -> Self {
        Self {
            mode: config.mode,
            seen: SeenKeys::new(config.dedup_capacity),
            clock: wall_clock_ns,
        }
    }

    /// Replaces the wall clock (expiry checks and result times) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn handle(&mut self, command: RemediationCommand) -> Result<ActionResult, StageError> {
        let started_at_ns = (self.clock)();
        if started_at_ns > command.expires_at_ns {
            return Err(StageError::new(
                ErrorKind::Expired,
                format!(
                    "command {} expired {}s ago",
                    command.command_id,
                    (started_at_ns - command.expires_at_ns) / 1_000_000_000
                ),
            ));
        }
        let (outcome, message) = if self.seen.insert(&command.idempotency_key) {
            match self.mode {
                ActuatorMode::Log => {
                    tracing::info!(
                        command_id = %command.command_id,
                        target = %command.target,
                        action = %command.action,
                        reason = %command.reason,
                        "would apply (log mode: nothing changed)"
                    );
                    (
                        ActionOutcome::Logged,
                        format!("log mode: would {} {}", command.action, command.target),
                    )
                }
            }
        } else {
            (
                ActionOutcome::Duplicate,
                format!(
                    "idempotency key {} already handled: not applied again",
                    command.idempotency_key
                ),
            )
        };
        Ok(ActionResult {
            schema_version: SCHEMA_VERSION,
            command_id: command.command_id,
            idempotency_key: command.idempotency_key,
            target: command.target,
            action: command.action,
            outcome,
            mode: self.mode.as_str().to_owned(),
            message,
            started_at_ns,
            finished_at_ns: (self.clock)(),
            time_to_recover_ms: None,
            provenance: command.provenance,
        })
    }
}

impl Stage for Actuator {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            match decode_record::<RemediationCommand>(&input.payload).and_then(|c| self.handle(c)) {
                Ok(result) => out.emit_or_reject(input, &result),
                Err(error) => out.reject(input, error),
            }
        }
    }
}
