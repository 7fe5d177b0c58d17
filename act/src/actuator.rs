//! [`Actuator`]: commands → checks → backend → verification → action results.

use crate::journal::Journal;
use crate::safety::{Refusal, Safety};
use crate::signing::KeyRing;
use crate::{ActConfig, ActuatorMode};
use schemas::actuate::{Actuate, Health, subject};
use schemas::clock::{Clock, wall_clock_ns};
use schemas::config::Problem;
use schemas::{
    Action, ActionOutcome, ActionResult, Emitter, ErrorKind, ObjectKind, RemediationCommand,
    SCHEMA_VERSION, SourceRecord, Stage, StageError, Target, decode_record,
};
use std::time::Duration;

/// How far in the future a command's `issued_at` may be (clocks of issuer and actuator differ).
const MAX_CLOCK_SKEW_NS: i64 = 5 * 60 * 1_000_000_000;

/// A command refused before any check of the world: it goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Reason code (a metric event): `unsigned`, `forged`, `unknown_key`, `expired`, `replayed`,
    /// `invalid`.
    pub reason: &'static str,
    /// The error the dead-letter record carries.
    pub error: StageError,
}

/// Refuses a workload-wide action on a workload that was named from one of its pods (the command's pod
/// hint) unless the API server confirms that the pod is that workload's now: the pipeline may have named
/// the workload from the pod's name (`web-5d567cc74c-abcde` → Deployment `web`), and a bare pod or Job
/// named like another workload's pods must not get that workload restarted, rolled back or scaled. A pod
/// that no longer exists cannot confirm anything. Pod restarts check their pod's owner when they delete.
fn confirm_owner(backend: &mut dyn Actuate, command: &RemediationCommand) -> Result<(), Refusal> {
    let target = &command.target;
    let workload_wide = matches!(
        command.action,
        Action::RolloutRestart | Action::Rollback | Action::Scale { .. } | Action::ScaleTo { .. }
    );
    let Some(pod) = target.pod.as_deref().filter(|_| workload_wide) else {
        return Ok(());
    };
    let unconfirmed = |why: String| Refusal {
        reason: "unconfirmed_owner",
        message: format!(
            "{} on {target} was decided from pod {pod}, and {why}: not applied",
            command.action
        ),
    };
    let pod_target = Target {
        kind: ObjectKind::Pod,
        name: pod.to_owned(),
        pod: None,
        node: None,
        ..target.clone()
    };
    let state = backend
        .inspect(&pod_target)
        .map_err(|e| unconfirmed(format!("its owner could not be read ({e})")))?;
    match (state.owner, state.owner_kind) {
        _ if !state.exists => Err(unconfirmed("the pod no longer exists".to_owned())),
        (Some(owner), Some(kind)) if owner == target.name && kind == target.kind => Ok(()),
        (Some(owner), kind) => Err(unconfirmed(format!(
            "the pod belongs to {} {owner}",
            kind.map_or("a workload", ObjectKind::as_str)
        ))),
        (None, _) => Err(unconfirmed("the pod belongs to no workload".to_owned())),
    }
}

/// A handled command: its result and the event it counts as (`verified`, `rate_limited`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The result for `medic.actions.results`.
    pub result: ActionResult,
    /// Metric event: the outcome's name, or the refusal's reason for `rejected` results.
    pub event: &'static str,
}

/// Applies commands, at most once per idempotency key. Built by [`ActConfig::build_actuator`].
///
/// # What happens to a command
/// 1. Dead-lettered (never applied): undecodable, unsigned or forged, unknown key, expired, valid for
///    longer than `act.max_command_ttl` or issued in the future, for another cluster than `act.cluster`,
///    or its idempotency key already handled (the journal survives restarts when `act.journal` is set).
/// 2. `rejected` result: a name Kubernetes would not accept, outside the namespace/kind allowlists,
///    over a rate limit, beyond the blast
///    radius (checked against the target's live state).
/// 3. `duplicate` result: the object already carries this command's id.
/// 4. Otherwise the key is journalled (synced) *before* the change, the backend applies it, and — in
///    `apply` mode — the target is watched until healthy (`verified`) or the timeout (`failed`, with the
///    configured compensation). `log` mode only records what would happen (`logged`); `server-dry-run`
///    stops after the API admitted the change (`dry_run`).
///
/// Commands are handled one at a time, so per-target concurrency is 1 within a process. The topic is
/// keyed by target, so with several replicas a target's commands still meet one actuator — but the rate
/// and blast-radius windows and the journal are per process, and a node reached through two different
/// targets may meet two: run one actuator replica where those limits must be exact.
pub struct Actuator {
    keys: KeyRing,
    require_signature: bool,
    max_ttl_ns: i64,
    cluster: Option<String>,
    journal: Journal,
    safety: Safety,
    backend: Option<Box<dyn Actuate>>,
    verify_timeout: Duration,
    verify_interval: Duration,
    compensate: bool,
    clock: Clock,
}

impl Actuator {
    pub(crate) fn new(
        config: &ActConfig,
        keys: KeyRing,
        backend: Option<Box<dyn Actuate>>,
    ) -> Result<Self, Vec<Problem>> {
        let journal = match &config.journal {
            Some(path) => Journal::open(path, config.dedup_capacity).map_err(|e| {
                vec![Problem::new(
                    "act.journal",
                    format!("cannot open {}: {e}", path.display()),
                )]
            })?,
            None => Journal::in_memory(config.dedup_capacity),
        };
        let signing_capable = keys.signing_capable_ids();
        if config.mode != ActuatorMode::Log && !signing_capable.is_empty() {
            tracing::warn!(
                keys = ?signing_capable,
                "the actuator holds keys that can sign commands: give it only the public lines of \
                 the issuer's Ed25519 keys (`medic act public-keys`), so that whoever takes it over \
                 cannot mint commands"
            );
        }
        if config.mode != ActuatorMode::Log && backend.is_none() {
            return Err(vec![Problem::new(
                "act.mode",
                format!("{} needs a backend", config.mode.as_str()),
            )]);
        }
        Ok(Self {
            keys,
            require_signature: config.require_signature,
            max_ttl_ns: config.max_command_ttl.as_nanos(),
            cluster: config.cluster.clone(),
            journal,
            safety: Safety::new(config.safety.clone()),
            backend,
            verify_timeout: config.verify_timeout.as_duration(),
            verify_interval: config.verify_interval.as_duration(),
            compensate: config.compensate,
            clock: wall_clock_ns,
        })
    }

    /// Replaces the wall clock (expiry checks, rate windows and result times) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The mode written on results: the backend's, or `log`.
    #[must_use]
    pub fn mode(&self) -> &str {
        self.backend.as_ref().map_or("log", |b| b.mode())
    }

    /// Handles one command end to end (the topic path and `medic act apply` share it).
    ///
    /// # Errors
    /// The refusal, for commands that must go to the dead-letter topic.
    pub fn handle(&mut self, command: RemediationCommand) -> Result<Handled, Refused> {
        let started_at_ns = (self.clock)();
        self.authenticate(&command, started_at_ns)?;
        let object = subject(&command.target, command.action).map_err(|e| Refused {
            reason: "invalid",
            error: StageError::new(ErrorKind::Invalid, e),
        })?;
        let mut outcome = Outcome {
            command: &command,
            started_at_ns,
            clock: self.clock,
            mode: self.mode().to_owned(),
        };
        // Both the object acted on and the target the command names (a pod's workload) must pass.
        if let Err(refusal) = self
            .safety
            .allowed(&object)
            .and_then(|()| self.safety.allowed(&command.target))
        {
            return Ok(outcome.rejected(&refusal));
        }
        // Nothing to apply: the key is noted in memory, never journalled to the file (see Journal::note).
        if matches!(command.action, Action::Noop | Action::Escalate) {
            self.journal.note(&command.idempotency_key);
            return Ok(outcome.done(
                ActionOutcome::Logged,
                format!("{}: nothing for an actuator to apply", command.action),
            ));
        }
        let Some(backend) = self.backend.as_mut() else {
            self.journal_or_fail(&command)?;
            tracing::info!(
                command_id = %command.command_id,
                target = %command.target,
                action = %command.action,
                reason = %command.reason,
                "would apply (log mode: nothing changed)"
            );
            return Ok(outcome.done(
                ActionOutcome::Logged,
                format!("log mode: would {} {}", command.action, command.target),
            ));
        };
        // Node actions are judged on the node; the others on the workload the command names (so pod
        // deletions count against their workload).
        let inspected = if object.kind == ObjectKind::Node {
            &object
        } else {
            &command.target
        };
        let state = match backend.inspect(inspected) {
            Ok(state) => state,
            Err(e) => {
                return Ok(outcome.done(ActionOutcome::Failed, format!("inspect {inspected}: {e}")));
            }
        };
        // A pod already gone is fine (deleting it is done); a workload or node that does not exist is not.
        let pod_gone_is_done =
            inspected.kind == ObjectKind::Pod && command.action == Action::RestartPod;
        if !state.exists && !pod_gone_is_done {
            return Ok(outcome.done(ActionOutcome::Failed, format!("{inspected} does not exist")));
        }
        if state.last_command_id.as_deref() == Some(&command.command_id) {
            self.journal.record(&command.idempotency_key).ok();
            return Ok(outcome.done(
                ActionOutcome::Duplicate,
                format!("{inspected} already carries command {}", command.command_id),
            ));
        }
        if let Err(refusal) = confirm_owner(backend.as_mut(), &command) {
            return Ok(outcome.rejected(&refusal));
        }
        // Pod deletions count against the workload owning the pod, whatever the target names.
        let budget = match &state.owner {
            Some(owner) => Target {
                name: owner.clone(),
                kind: ObjectKind::Deployment,
                pod: None,
                ..inspected.clone()
            },
            None => inspected.clone(),
        };
        // Rate limits are checked on the same key they are recorded on.
        if let Err(refusal) = self.safety.within_rate(&budget, started_at_ns) {
            return Ok(outcome.rejected(&refusal));
        }
        let action = match self
            .safety
            .resolve(&budget, command.action, &state, started_at_ns)
        {
            Ok(action) => action,
            Err(refusal) => return Ok(outcome.rejected(&refusal)),
        };
        if let Err(e) = self.journal.record(&command.idempotency_key) {
            return Ok(outcome.done(
                ActionOutcome::Failed,
                format!("journal write failed, not applied: {e}"),
            ));
        }
        self.safety.record(&budget, action, started_at_ns);
        let applied = match backend.apply(&command, action) {
            Ok(applied) => applied,
            Err(e) => return Ok(outcome.done(ActionOutcome::Failed, e.message)),
        };
        if backend.dry_run() {
            return Ok(outcome.done(
                ActionOutcome::DryRun,
                format!(
                    "admitted by the API server, nothing persisted: {}",
                    applied.summary
                ),
            ));
        }
        let (health, waited) = watch(
            backend.as_mut(),
            &command,
            self.verify_timeout,
            self.verify_interval,
        );
        match health {
            Health::Healthy(why) => {
                let wall = Duration::from_nanos(
                    u64::try_from((self.clock)() - started_at_ns).unwrap_or(0),
                );
                let mut handled = outcome.done(
                    ActionOutcome::Verified,
                    format!("{}; verified: {why}", applied.summary),
                );
                handled.result.time_to_recover_ms =
                    Some(u64::try_from(wall.max(waited).as_millis()).unwrap_or(u64::MAX));
                Ok(handled)
            }
            Health::Progressing(why) | Health::Failed(why) => {
                let compensation = match applied.undo.filter(|_| self.compensate) {
                    Some(undo) => match backend.apply(&command, undo) {
                        Ok(done) => format!("; compensated: {}", done.summary),
                        Err(e) => format!("; compensation {undo} failed: {e}"),
                    },
                    None => String::new(),
                };
                Ok(outcome.done(
                    ActionOutcome::Failed,
                    format!(
                        "{}; not verified after {}s: {why}{compensation}",
                        applied.summary,
                        waited.as_secs()
                    ),
                ))
            }
        }
    }

    /// The checks on the command alone: key shape, signature, expiry, replay.
    fn authenticate(&self, command: &RemediationCommand, now_ns: i64) -> Result<(), Refused> {
        let refuse = |reason, kind, message: String| Refused {
            reason,
            error: StageError::new(kind, format!("command {}: {message}", command.command_id)),
        };
        let key = &command.idempotency_key;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(refuse(
                "invalid",
                ErrorKind::Invalid,
                format!("bad idempotency key {key:?}"),
            ));
        }
        if self.require_signature || command.signature.is_some() {
            self.keys
                .verify(command)
                .map_err(|e| refuse(e.reason(), ErrorKind::Rejected, e.to_string()))?;
        }
        if command.expires_at_ns.saturating_sub(command.issued_at_ns) > self.max_ttl_ns {
            return Err(refuse(
                "ttl_too_long",
                ErrorKind::Rejected,
                format!(
                    "valid for {}s after it was issued, more than act.max_command_ttl ({}s)",
                    command.expires_at_ns.saturating_sub(command.issued_at_ns) / 1_000_000_000,
                    self.max_ttl_ns / 1_000_000_000
                ),
            ));
        }
        if command.issued_at_ns > now_ns.saturating_add(MAX_CLOCK_SKEW_NS) {
            return Err(refuse(
                "issued_in_future",
                ErrorKind::Rejected,
                format!(
                    "issued {}s in the future (clocks may differ by {}s at most)",
                    (command.issued_at_ns - now_ns) / 1_000_000_000,
                    MAX_CLOCK_SKEW_NS / 1_000_000_000
                ),
            ));
        }
        if let Some(cluster) = &self.cluster
            && command.target.cluster.as_ref() != Some(cluster)
        {
            return Err(refuse(
                "wrong_cluster",
                ErrorKind::Rejected,
                format!(
                    "the target names cluster {:?}; this actuator acts on {cluster:?}",
                    command.target.cluster
                ),
            ));
        }
        if now_ns > command.expires_at_ns {
            return Err(refuse(
                "expired",
                ErrorKind::Expired,
                format!(
                    "expired {}s ago",
                    now_ns.saturating_sub(command.expires_at_ns) / 1_000_000_000
                ),
            ));
        }
        if self.journal.contains(key) {
            return Err(refuse(
                "replayed",
                ErrorKind::Rejected,
                format!("replayed: idempotency key {key} was already handled; not applied again"),
            ));
        }
        Ok(())
    }

    fn journal_or_fail(&mut self, command: &RemediationCommand) -> Result<(), Refused> {
        self.journal
            .record(&command.idempotency_key)
            .map_err(|e| Refused {
                reason: "journal",
                error: StageError::new(ErrorKind::Internal, format!("journal write failed: {e}")),
            })
    }
}

/// Looks at the target until it is healthy, failed, or `timeout` of backend time has passed.
fn watch(
    backend: &mut dyn Actuate,
    command: &RemediationCommand,
    timeout: Duration,
    interval: Duration,
) -> (Health, Duration) {
    let mut waited = Duration::ZERO;
    loop {
        let health = match backend.check(command) {
            Ok(health) => health,
            Err(e) if e.retryable => Health::Progressing(e.message),
            Err(e) => Health::Failed(e.message),
        };
        if !matches!(health, Health::Progressing(_)) || waited >= timeout {
            return (health, waited);
        }
        backend.wait(interval);
        waited += interval;
    }
}

/// Builds the result of one command.
struct Outcome<'a> {
    command: &'a RemediationCommand,
    started_at_ns: i64,
    clock: Clock,
    mode: String,
}

impl Outcome<'_> {
    fn done(&mut self, outcome: ActionOutcome, message: String) -> Handled {
        Handled {
            event: outcome.name(),
            result: self.result(outcome, message),
        }
    }

    fn rejected(&mut self, refusal: &Refusal) -> Handled {
        Handled {
            event: refusal.reason,
            result: self.result(ActionOutcome::Rejected, refusal.message.clone()),
        }
    }

    fn result(&mut self, outcome: ActionOutcome, message: String) -> ActionResult {
        let command = self.command;
        ActionResult {
            schema_version: SCHEMA_VERSION,
            command_id: command.command_id.clone(),
            idempotency_key: command.idempotency_key.clone(),
            target: command.target.clone(),
            action: command.action,
            outcome,
            mode: std::mem::take(&mut self.mode),
            message,
            started_at_ns: self.started_at_ns,
            finished_at_ns: (self.clock)(),
            time_to_recover_ms: None,
            provenance: command.provenance.clone(),
        }
    }
}

impl Stage for Actuator {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            match decode_record::<RemediationCommand>(&input.payload) {
                Ok(command) => match self.handle(command) {
                    Ok(handled) => {
                        out.count(handled.event, 1);
                        out.emit_or_reject(input, &handled.result);
                    }
                    Err(refused) => {
                        out.count(refused.reason, 1);
                        out.reject(input, refused.error);
                    }
                },
                Err(error) => out.reject(input, error),
            }
        }
    }
}
