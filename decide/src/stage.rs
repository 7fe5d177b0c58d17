//! [`Decide`]: the decide stage processor.

use crate::actions::PolicyAction;
use crate::config::ServingConfig;
use crate::config::{DecideMode, NodeActions};
use crate::observation::DeploymentView;
use crate::served_policy::{Proposed, ServedPolicy};
use crate::stage_arbiter::StageArbiter;
use crate::workloads::Workloads;
use crate::{DecideConfig, remedy_for};
use schemas::clock::{Clock, wall_clock_ns};
use schemas::{
    Action, Decision, Diagnosis, Emitter, FaultClass, ObjectKind, SCHEMA_VERSION, ShadowDecision,
    SourceRecord, Stage, StageError, StageState, Target, WorkloadState, decode_record, id,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The rule policy's name and version, written on its decisions.
pub const POLICY: &str = crate::policy_config::RULES;

/// Decides remediations with the configured policy — the rule policy, or a learned one through its
/// arbiter — and a cooldown. Built by [`DecideConfig::build`].
///
/// Every policy's remedy passes the same guards (a rollback needs a recent change; no scale-out past the
/// maximum; node actions only on node evidence), the cooldowns and one page per incident. In shadow mode
/// the rules decide and the learned policy's decisions are emitted as [`ShadowDecision`]s beside them.
///
/// It reads diagnoses and, from the topic [`Decide::reading_state_from`] names, the observer's workload
/// states: the latest state of a workload is the evidence of its last rollout (a rollback needs one) and
/// of its replica bounds (a scale-out at the maximum escalates).
///
/// The cooldowns are the stage's state: the runner checkpoints them with the offsets they cover, so a
/// restarted stage does not act twice on a target within its cooldown. A diagnosis delivered again
/// (at-least-once) gets the same decision as the first time — same id, same action — so its command is
/// refused downstream as a replay instead of becoming a different decision under the same id.
pub struct Decide {
    cooldown_ns: i64,
    repage_ns: i64,
    rollback_window_ns: i64,
    min_confidence: f64,
    max_tracked: usize,
    node_actions: NodeActions,
    clock: Clock,
    /// The last action per target: its event time and the diagnosis it answered (noop and escalate do
    /// not start a cooldown).
    last_action: HashMap<Target, LastAction>,
    /// The last page (escalation) per incident: its event time and the diagnosis that paged.
    last_page: HashMap<Incident, LastAction>,
    /// The topic of workload states (`medic.state`), when the stage reads one.
    state_topic: Option<String>,
    /// A state older than this at the diagnosis says nothing of the workload's pods and bounds.
    state_max_age_ns: i64,
    /// The latest state of each workload.
    workloads: Workloads,
    /// The learned policy, when `decide.policy` names one.
    learned: Option<ServedPolicy>,
    /// The arbiter every acting policy's action passes when the workload's state is known, and what it
    /// remembers.
    arbiter: StageArbiter,
    /// The learned policy's own arbiter in shadow mode: its proposals must not use up the acting
    /// policy's cooldowns and rate limits.
    shadow_arbiter: StageArbiter,
    /// What the policies' views are told of the workloads besides their state.
    serving: ServingConfig,
    /// Whether the learned policy acts or runs in the shadow of the rules.
    mode: DecideMode,
}

/// How far ahead of decide's clock a workload state may be dated (the observer's clock may run a little
/// ahead); a state dated later is dropped.
const MAX_STATE_SKEW_NS: i64 = 300 * 1_000_000_000;

/// A remedy on its way through the guards: the action, its target, and why.
type Remedy = (Action, Target, &'static str);

/// What one page is about: an object and its fault.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
struct Incident {
    target: Target,
    fault: FaultClass,
}

/// When a target was last acted on, and for which diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LastAction {
    at_ns: i64,
    diagnosis_id: String,
    /// The action taken (absent for pages, and in checkpoints from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
}

/// What a checkpoint of the decide stage holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    cooldowns: Vec<(Target, LastAction)>,
    /// Absent from checkpoints written before pages were deduplicated.
    #[serde(default)]
    pages: Vec<(Incident, LastAction)>,
    /// The latest workload states (absent from checkpoints written before decide read them).
    #[serde(default)]
    states: Vec<WorkloadState>,
    /// The acting arbiter's memory (absent from checkpoints written before it ran in the stage).
    #[serde(default)]
    arbiter: Option<serde_json::Value>,
    /// The learned policy's arbiter's memory, from checkpoints written while only a learned policy had
    /// an arbiter (acting or in shadow, as the mode was).
    #[serde(default, skip_serializing)]
    policy: Option<serde_json::Value>,
    /// The shadow's arbiter's memory, in shadow mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shadow_arbiter: Option<serde_json::Value>,
}

impl Decide {
    pub(crate) fn new(config: &DecideConfig, learned: Option<ServedPolicy>) -> Self {
        Self {
            cooldown_ns: config.cooldown.as_nanos(),
            repage_ns: config.repage_after.as_nanos(),
            rollback_window_ns: config.rollback_window.as_nanos(),
            min_confidence: config.min_confidence,
            max_tracked: config.max_tracked_targets,
            node_actions: config.node_actions,
            clock: wall_clock_ns,
            last_action: HashMap::new(),
            last_page: HashMap::new(),
            state_topic: None,
            state_max_age_ns: config.state_max_age.as_nanos(),
            workloads: Workloads::new(config.max_tracked_targets, config.state_max_age.as_nanos()),
            learned,
            arbiter: StageArbiter::new(config.safety.clone()),
            shadow_arbiter: StageArbiter::new(config.safety.clone()),
            serving: config.serving.clone(),
            mode: config.mode,
        }
    }

    /// The same stage, reading workload states from records of `topic` (every other record is a
    /// diagnosis).
    #[must_use]
    pub fn reading_state_from(mut self, topic: &str) -> Self {
        self.state_topic = Some(topic.to_owned());
        self
    }

    /// Replaces the wall clock (the bound on event time) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The policy whose decisions are acted on: the learned one in `act` mode, else the rules.
    fn acting_policy(&self) -> Option<&ServedPolicy> {
        self.learned
            .as_ref()
            .filter(|_| self.mode == DecideMode::Act)
    }

    /// The learned policy's proposal for `diagnosis` at `at`, and the workload as its arbiter saw it
    /// (`None` without a policy, or without a fresh state of the workload for it to see).
    fn propose(
        &mut self,
        diagnosis: &Diagnosis,
        at: i64,
        shadow: bool,
    ) -> Option<(Proposed, DeploymentView)> {
        // A state older than state_max_age says nothing of the workload now: the policy sees nothing.
        let state = self.fresh_state(diagnosis)?.clone();
        let learned = self.learned.as_ref()?;
        let workload = object_of(&diagnosis.target);
        let last_action = self.last_action.get(&workload).map(|last| last.at_ns);
        let served = self.serving.of(&workload);
        let arbiter = if shadow {
            &mut self.shadow_arbiter
        } else {
            &mut self.arbiter
        };
        let (view, cluster) = arbiter.views(diagnosis, &state, &self.workloads, &served, at);
        let (proposed, mut reason) = learned.choose(&view, at, last_action);
        // A shadow's proposals are not taken: its arbiter remembers the actions that are instead.
        let (checked, notes) = if shadow {
            arbiter.arbiter().assess(proposed, &view, &cluster)
        } else {
            arbiter.check(proposed, &view, &cluster)
        };
        for note in &notes {
            reason.push_str("; arbiter: ");
            reason.push_str(note);
        }
        let (action, target) = arbiter.on_target(checked, &diagnosis.target, &mut reason);
        Some((
            Proposed {
                action,
                target,
                reason,
            },
            view,
        ))
    }

    /// The rules' `remedy` through the arbiter, when the workload's state is fresh and the remedy acts:
    /// unchanged when the arbiter lets it through (or when this diagnosis, delivered again, already
    /// started the target's cooldown: it is decided as it was then); else a page — with the arbiter's
    /// notes — rather than nothing, or the arbiter's own change (a bounded scale, a recovery), which
    /// passes the guards every remedy passes. The arbiter reviews a node action only when the diagnosed
    /// workload's state is fresh and names the node.
    fn rules_arbitrated(
        &mut self,
        remedy: (Action, Target, String),
        diagnosis: &Diagnosis,
        at: i64,
    ) -> (Action, Target, String) {
        let (action, target, why) = remedy;
        let again = self
            .last_action
            .get(&object_of(&target))
            .is_some_and(|last| last.diagnosis_id == diagnosis.diagnosis_id);
        if again || !action.acts() {
            return (action, target, why);
        }
        let Some(state) = self.fresh_state(diagnosis).cloned() else {
            return (action, target, why);
        };
        let served = self.serving.of(&object_of(&diagnosis.target));
        let (view, cluster) = self
            .arbiter
            .views(diagnosis, &state, &self.workloads, &served, at);
        let Some(proposed) = self.arbiter.policy_action(action, &target) else {
            return (action, target, why);
        };
        let (checked, notes) = self.arbiter.check(proposed, &view, &cluster);
        if checked == proposed {
            return (action, target, why);
        }
        let mut why = format!("{why}; arbiter: {}", notes.join("; "));
        if matches!(checked, PolicyAction::Noop | PolicyAction::Escalate) {
            why.push_str(": a human must look");
            return (Action::Escalate, object_of(&diagnosis.target), why);
        }
        let (action, target) = self.arbiter.on_target(checked, &diagnosis.target, &mut why);
        self.guarded_with_reason((action, target, ""), why, diagnosis)
    }

    /// The guards every policy's remedy passes: a rollback needs a recent change, no scale-out past the
    /// workload's maximum, node actions only on node evidence.
    fn guarded(&self, remedy: Remedy, diagnosis: &Diagnosis) -> Remedy {
        self.node_confirmed(
            self.within_tenancy(
                self.within_bounds(self.after_a_change(remedy, diagnosis), diagnosis),
                &diagnosis.target,
            ),
            diagnosis,
        )
    }

    /// `remedy`, unless it cordons or drains a node the observer saw healthy — Ready, and without disk
    /// pressure for a disk-pressure fault — since the diagnosis' window began: an Event about a Node can be
    /// written by anyone who may create Events, the node's conditions only by its kubelet and the node
    /// controller. A node no state names is not contradicted (its pods are none of the observed
    /// workloads'), unless a state since then left nodes out of its lists: the node may be one of them,
    /// its conditions unknown, and the remedy escalates.
    fn node_confirmed(&self, remedy: Remedy, diagnosis: &Diagnosis) -> Remedy {
        if !matches!(remedy.0, Action::CordonNode | Action::DrainNode) {
            return remedy;
        }
        let since = diagnosis.window_start_ns;
        let health = self.workloads.node_health(
            &remedy.1.name,
            diagnosis.fault == FaultClass::DiskPressure,
            since,
        );
        let why = match health {
            Some(true) => {
                "this calls for cordoning the node, but the cluster showed it healthy since the \
                 evidence began (its conditions, as its kubelet reports them): the evidence is not \
                 confirmed; a human must look"
            }
            None if self.workloads.node_lists_cut(since) => {
                "this calls for cordoning the node, but no workload state names it while some left \
                 nodes out of their lists: its conditions are unknown and the evidence is not \
                 confirmed; a human must look"
            }
            _ => return remedy,
        };
        (Action::Escalate, remedy.1, why)
    }

    /// A learned proposal through the guards: its reason, and the guard's when one changed it. Besides the
    /// guards every remedy passes, a learned policy may not act where the rules see no safe automatic
    /// remedy (scheduling, admission, volumes, network, dependencies, application errors): it escalates.
    fn guarded_proposal(
        &self,
        proposal: Proposed,
        diagnosis: &Diagnosis,
    ) -> (Action, Target, String) {
        let acts = proposal.action.acts();
        let (rules_action, _, _) = remedy_for(diagnosis.fault, &diagnosis.target);
        let remedy = if acts && rules_action == Action::Escalate {
            (
                Action::Escalate,
                proposal.target.with_node(None),
                "the rules see no safe automatic remedy for this fault: a human must act",
            )
        } else {
            (proposal.action, proposal.target, "")
        };
        self.guarded_with_reason(remedy, proposal.reason, diagnosis)
    }

    /// `remedy` through the guards ([`Self::guarded`]), with `reason`, and the guard's reason after it
    /// when one changed it (or the remedy's own, when it has one).
    fn guarded_with_reason(
        &self,
        remedy: Remedy,
        reason: String,
        diagnosis: &Diagnosis,
    ) -> (Action, Target, String) {
        let (action, target, why) = self.guarded(remedy, diagnosis);
        let reason = if why.is_empty() {
            reason
        } else {
            format!("{reason}; but {why}")
        };
        (action, target, reason)
    }

    /// Decides on `diagnosis` at the event time its window ends, but never later than `now_ns`: ingest
    /// accepts event times up to a day ahead, and one forged future-dated record must not start a
    /// cooldown that blocks the target's remediation until then. Returns the decision acted on and, in
    /// shadow mode, the learned policy's.
    fn decide(&mut self, diagnosis: Diagnosis, now_ns: i64) -> (Decision, Option<ShadowDecision>) {
        let at = diagnosis.window_end_ns.min(now_ns);
        // A diagnosis delivered again (upstream at-least-once) whose decision acted was applied
        // already: on its workload, or on the node its evidence names.
        let node = diagnosis.target.node.as_deref().map(Target::node);
        let applied_already = [Some(object_of(&diagnosis.target)), node]
            .into_iter()
            .flatten()
            .any(|target| {
                self.last_action
                    .get(&object_of(&target))
                    .is_some_and(|last| last.diagnosis_id == diagnosis.diagnosis_id)
            });
        // The shadow first: it sees the actions applied before this diagnosis, as the one acting does.
        let shadow = self.shadow(&diagnosis, at);
        let uncertain = diagnosis.uncertain || diagnosis.confidence < self.min_confidence;
        let learned_id = self.acting_policy().map(ServedPolicy::id);
        let proposal = match learned_id {
            Some(_) if !uncertain => self.propose(&diagnosis, at, false).map(|(p, _)| p),
            _ => None,
        };
        let policy_id = match (&learned_id, &proposal) {
            (Some(id), Some(_)) => id.clone(),
            _ => POLICY.to_owned(),
        };
        // The id names the configured policy, whichever decided: a diagnosis read again after a restart
        // (when the workload's state may arrive before or after it) keeps its id, and its command is
        // refused as a replay rather than applied twice.
        let id_policy = learned_id.clone().unwrap_or_else(|| POLICY.to_owned());
        let (action, target, reason) = if uncertain {
            (
                Action::Escalate,
                diagnosis.target.clone(),
                format!(
                    "{} diagnosed with confidence {:.2}, below {:.2}: escalating instead of acting",
                    diagnosis.fault, diagnosis.confidence, self.min_confidence
                ),
            )
        } else {
            // A learned proposal has been through the arbiter; the rules' remedy goes through it once
            // the cooldown lets it act.
            let by_rules = proposal.is_none();
            let (action, target, why) = match proposal {
                Some(proposal) => self.guarded_proposal(proposal, &diagnosis),
                None => {
                    let (action, target, why) =
                        self.guarded(remedy_for(diagnosis.fault, &diagnosis.target), &diagnosis);
                    let why = match &learned_id {
                        Some(id) => format!(
                            "{why} ({id} has no state of the workload to see: {POLICY} decided)"
                        ),
                        None => why.to_owned(),
                    };
                    (action, target, why)
                }
            };
            // Cooldowns are per object: the pod and node hints of the evidence do not split them.
            let key = object_of(&target);
            let acts = action.acts();
            // The diagnosis that started the cooldown, delivered again, is decided as it was then.
            let cooling = self.last_action.get(&key).filter(|last| {
                at - last.at_ns < self.cooldown_ns && last.diagnosis_id != diagnosis.diagnosis_id
            });
            match cooling.map(|last| last.at_ns) {
                Some(last) if acts => (
                    Action::Noop,
                    target,
                    format!(
                        "{} (confidence {:.2}) would call for {action}, but {key} was acted on {}s ago \
                         (cooldown {}s)",
                        diagnosis.fault,
                        diagnosis.confidence,
                        (at - last) / 1_000_000_000,
                        self.cooldown_ns / 1_000_000_000
                    ),
                ),
                _ => {
                    let (action, target, why) = if by_rules {
                        self.rules_arbitrated((action, target, why), &diagnosis, at)
                    } else {
                        (action, target, why)
                    };
                    if action.acts() {
                        self.record_action(object_of(&target), at, &diagnosis.diagnosis_id, action);
                    }
                    (
                        action,
                        target,
                        format!(
                            "{} (confidence {:.2}): {why}",
                            diagnosis.fault, diagnosis.confidence
                        ),
                    )
                }
            }
        };
        let (action, mut reason) = if action == Action::Escalate {
            self.page_once(&diagnosis, &target, at, reason)
        } else {
            (action, reason)
        };
        if let Some(state) = self.fresh_state(&diagnosis) {
            reason.push_str(&state_note(state, diagnosis.window_end_ns));
        }
        // The shadow's arbiter is told the action decided (the one applied), so its cooldowns, rate
        // limits and pages follow what happens to the cluster.
        let shadow = shadow.map(|(decision, view)| {
            if !applied_already {
                self.shadow_arbiter.record_applied(action, &target, &view);
            }
            decision
        });
        let decision = decision_of(
            diagnosis, &id_policy, &policy_id, action, target, reason, at,
        );
        (decision, shadow)
    }

    /// In shadow mode, the learned policy's decision on `diagnosis`: through its arbiter and the guards,
    /// but not through the cooldowns and pages, which follow the decisions acted on.
    fn shadow(
        &mut self,
        diagnosis: &Diagnosis,
        at: i64,
    ) -> Option<(ShadowDecision, DeploymentView)> {
        if self.mode != DecideMode::Shadow {
            return None;
        }
        let id = self.learned.as_ref()?.id();
        let (proposal, view) = self.propose(diagnosis, at, true)?;
        let (action, target, reason) = self.guarded_proposal(proposal, diagnosis);
        let reason = format!(
            "{} (confidence {:.2}): {reason}",
            diagnosis.fault, diagnosis.confidence
        );
        let decision = decision_of(diagnosis.clone(), &id, &id, action, target, reason, at);
        Some((ShadowDecision(decision), view))
    }

    /// `remedy`, unless it is a rollback with no rollout of the workload seen within `rollback_window`
    /// before the diagnosis: then there is no known change to undo, and rolling back would replace a
    /// revision that may be the working one — an escalation instead.
    fn after_a_change(&self, remedy: Remedy, diagnosis: &Diagnosis) -> Remedy {
        if remedy.0 != Action::Rollback {
            return remedy;
        }
        let end = diagnosis.window_end_ns;
        let recent = |at: &i64| *at <= end && end - at <= self.rollback_window_ns;
        let observed = self
            .workloads
            .of(&diagnosis.target)
            .and_then(|s| s.last_rollout.as_ref());
        // A rollback is dated when the observer first saw it, which may be after the window: only
        // its age bounds it here.
        if observed.is_some_and(|r| r.rolled_back && end - r.at_ns <= self.rollback_window_ns) {
            return (
                Action::Escalate,
                remedy.1,
                "this calls for a rollback, but the workload's last rollout was itself a rollback (an \
                 older revision brought back, by medic or anyone): rolling back again would undo it; a \
                 human must look",
            );
        }
        let Some(rolled_out) = [diagnosis.last_rollout_ns, observed.map(|r| r.at_ns)]
            .into_iter()
            .flatten()
            .filter(recent)
            .max()
        else {
            return (
                Action::Escalate,
                remedy.1,
                "this calls for a rollback, but no rollout of the workload was seen recently \
                 (decide.rollback_window): there is no known change to undo, and a rollback would \
                 replace a revision that may be the working one; a human must look",
            );
        };
        // A rollout restart or rollback of medic's own makes a new ReplicaSet too: not a change to undo.
        let ours = self
            .last_action
            .get(&object_of(&remedy.1))
            .is_some_and(|last| {
                matches!(last.action, Some(Action::RolloutRestart | Action::Rollback))
                    && last.at_ns <= rolled_out
            });
        if ours {
            return (
                Action::Escalate,
                remedy.1,
                "this calls for a rollback, but the only rollout seen since is medic's own restart or \
                 rollback: rolling back again would undo it, not the change that broke the workload; a \
                 human must look",
            );
        }
        remedy
    }

    /// `remedy`, unless it adds replicas to a workload the observer saw at its maximum (its
    /// HorizontalPodAutoscaler's, or `observe.max_replicas`) within `state_max_age` of the diagnosis:
    /// more is not allowed, so a human must look.
    fn within_bounds(&self, remedy: Remedy, diagnosis: &Diagnosis) -> Remedy {
        let Action::Scale { delta } = remedy.0 else {
            return remedy;
        };
        let at_max = self.fresh_state(diagnosis).is_some_and(|state| {
            delta > 0 && i64::from(state.pods.desired) >= i64::from(state.bounds.max)
        });
        if at_max {
            return (
                Action::Escalate,
                remedy.1,
                "this calls for another replica, but the workload already has its maximum replicas \
                 (its autoscaler's bound, as the cluster reports it): a human must look",
            );
        }
        remedy
    }

    /// The workload's state at the diagnosis' end ([`Workloads::as_of`]), if it was observed at most
    /// `state_max_age` before that end (or after it).
    fn fresh_state(&self, diagnosis: &Diagnosis) -> Option<&WorkloadState> {
        let end = diagnosis.window_end_ns;
        self.workloads
            .as_of(&diagnosis.target, end)
            .filter(|state| end.saturating_sub(state.observed_at_ns) <= self.state_max_age_ns)
    }

    /// `remedy`, unless it cordons or drains a node on evidence that is not about the node (see
    /// [`NodeActions`]): then the decision goes to the diagnosed workload — a node failure seen in a
    /// Deployment's pod replaces that pod (its ReplicaSet schedules the replacement elsewhere at once),
    /// anything else is escalated on the workload.
    fn within_tenancy(&self, remedy: Remedy, diagnosed: &Target) -> Remedy {
        let node_action = matches!(remedy.0, Action::CordonNode | Action::DrainNode);
        // A Node is cluster-scoped: a "Node" that carries a namespace was named by a tenant's records.
        let about_the_node = diagnosed.kind == ObjectKind::Node && diagnosed.namespace.is_none();
        if node_action && !about_the_node && self.node_actions == NodeActions::NodeEvidence {
            let deployment_pod = diagnosed.kind == ObjectKind::Deployment
                && diagnosed.namespace.is_some()
                && diagnosed.pod.is_some();
            if remedy.0 == Action::CordonNode && deployment_pod {
                return (
                    Action::RestartPod,
                    diagnosed.clone(),
                    "its pod sits on a node that is not ready: replace the pod, so that its \
                     ReplicaSet schedules it elsewhere (the node is shared by every tenant on it, so \
                     medic does not cordon it on one workload's evidence)",
                );
            }
            return (
                Action::Escalate,
                diagnosed.clone(),
                "a node fault seen in one workload's logs: a node is shared by every tenant on it, so \
                 medic does not cordon or drain it on that evidence (decide.node_actions = \
                 \"any_evidence\" allows it); a human must confirm",
            );
        }
        remedy
    }

    fn record_action(&mut self, target: Target, at_ns: i64, diagnosis_id: &str, action: Action) {
        remember(
            &mut self.last_action,
            self.max_tracked,
            target,
            LastAction {
                at_ns,
                diagnosis_id: diagnosis_id.to_owned(),
                action: Some(action),
            },
        );
    }

    /// An escalation pages once per incident (object and fault): another within `repage_after` of the
    /// last page is decided `noop`, unless it is the diagnosis that paged, delivered again.
    fn page_once(
        &mut self,
        diagnosis: &Diagnosis,
        target: &Target,
        at: i64,
        reason: String,
    ) -> (Action, String) {
        let incident = Incident {
            target: object_of(target),
            fault: diagnosis.fault,
        };
        let paged = self.last_page.get(&incident).filter(|last| {
            at - last.at_ns < self.repage_ns && last.diagnosis_id != diagnosis.diagnosis_id
        });
        if let Some(last) = paged {
            let reason = format!(
                "{reason} — but {} was escalated for {} {}s ago: one page per incident (paged again \
                 if still unresolved {}s after the last page)",
                incident.target,
                incident.fault,
                (at - last.at_ns) / 1_000_000_000,
                self.repage_ns / 1_000_000_000
            );
            return (Action::Noop, reason);
        }
        // Pages past their re-page time hold nothing back any more: forget them.
        let repage_ns = self.repage_ns;
        self.last_page
            .retain(|_, last| at.saturating_sub(last.at_ns) < repage_ns);
        remember(
            &mut self.last_page,
            self.max_tracked,
            incident,
            LastAction {
                at_ns: at,
                diagnosis_id: diagnosis.diagnosis_id.clone(),
                action: None,
            },
        );
        (Action::Escalate, reason)
    }
}

/// The decision record of `policy_id`'s `action` on `target` for `diagnosis`; its id is stable per
/// diagnosis and `id_policy` (the configured policy), so a diagnosis delivered again is recognised
/// downstream.
fn decision_of(
    diagnosis: Diagnosis,
    id_policy: &str,
    policy_id: &str,
    action: Action,
    target: Target,
    reason: String,
    at: i64,
) -> Decision {
    let mut template_ids: Vec<String> = diagnosis
        .evidence
        .iter()
        .map(|e| e.template_id.clone())
        .collect();
    template_ids.dedup();
    Decision {
        schema_version: SCHEMA_VERSION,
        decision_id: id::stable_id("dec", &[&diagnosis.diagnosis_id, id_policy]),
        diagnosis_id: diagnosis.diagnosis_id,
        fault: diagnosis.fault,
        confidence: diagnosis.confidence,
        target,
        action,
        reason,
        policy_id: policy_id.to_owned(),
        window_start_ns: diagnosis.window_start_ns,
        decided_at_ns: at,
        template_ids,
        model: diagnosis.model,
        sources: diagnosis.evidence.into_iter().map(|e| e.source).collect(),
    }
}

/// What the cluster said of the workload, for the decision's reason: ` [cluster, 12s before: 3/5 ready,
/// 1 crash-looping, 1 pending; replicas 2..10; revision 4 rolled out 300s before]`.
fn state_note(state: &WorkloadState, at_ns: i64) -> String {
    let secs_before = |t: i64| at_ns.saturating_sub(t) / 1_000_000_000;
    let pods = &state.pods;
    let mut note = format!(
        " [cluster, {}s before: {}/{} ready",
        secs_before(state.observed_at_ns),
        pods.ready,
        pods.desired
    );
    for (n, what) in [
        (pods.crash_looping, "crash-looping"),
        (pods.pending, "pending"),
    ] {
        if n > 0 {
            note.push_str(&format!(", {n} {what}"));
        }
    }
    note.push_str(&format!(
        "; replicas {}..{}",
        state.bounds.min, state.bounds.max
    ));
    if let Some(rollout) = &state.last_rollout {
        note.push_str(&format!(
            "; revision {} rolled out {}s before",
            rollout.revision,
            secs_before(rollout.at_ns)
        ));
    }
    note.push(']');
    note
}

/// The object `target` names: the evidence's pod and node hints dropped.
fn object_of(target: &Target) -> Target {
    target.clone().with_pod(None).with_node(None)
}

/// The entries of `map` sorted by key (equal states write equal checkpoints).
fn sorted<K: Clone + Ord>(map: &HashMap<K, LastAction>) -> Vec<(K, LastAction)> {
    let mut entries: Vec<(K, LastAction)> = map
        .iter()
        .map(|(k, last)| (k.clone(), last.clone()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// Records `last` under `key`, forgetting the oldest entry beyond `max` keys (ties: the smallest key,
/// so that a restored stage forgets what an uninterrupted one would).
fn remember<K: Clone + Ord + std::hash::Hash>(
    map: &mut HashMap<K, LastAction>,
    max: usize,
    key: K,
    last: LastAction,
) {
    if map.len() >= max
        && !map.contains_key(&key)
        && let Some(oldest) = map
            .iter()
            .min_by(|a, b| a.1.at_ns.cmp(&b.1.at_ns).then_with(|| a.0.cmp(b.0)))
            .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
    map.insert(key, last);
}

impl StageState for Decide {
    fn snapshot(&self) -> Result<Vec<u8>, StageError> {
        serde_json::to_vec(&Snapshot {
            cooldowns: sorted(&self.last_action),
            pages: sorted(&self.last_page),
            states: self.workloads.kept().into_iter().cloned().collect(),
            arbiter: Some(self.arbiter.snapshot()?),
            policy: None,
            shadow_arbiter: if self.mode == DecideMode::Shadow {
                Some(self.shadow_arbiter.snapshot()?)
            } else {
                None
            },
        })
        .map_err(|e| StageError::internal(format!("decide snapshot: {e}")))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError> {
        let Snapshot {
            cooldowns,
            pages,
            states,
            arbiter,
            policy,
            shadow_arbiter,
        } = serde_json::from_slice(snapshot)
            .map_err(|e| StageError::schema(format!("decide checkpoint: {e}")))?;
        self.last_action = cooldowns.into_iter().collect();
        self.last_page = pages.into_iter().collect();
        self.workloads.restore(states);
        // The arbiter's memory is per workload and node, whichever policy it reviewed; a checkpoint
        // without it leaves it empty. Its limits are the configured ones.
        if let Some(memory) = arbiter {
            self.arbiter.restore(memory)?;
        }
        // An older checkpoint's learned-policy memory is the shadow's in shadow mode (its proposals
        // were never acted on: they must not hold the rules back), else the acting one's.
        if let Some(memory) = policy {
            match self.mode {
                DecideMode::Shadow => self.shadow_arbiter.restore(memory)?,
                DecideMode::Act => self.arbiter.restore(memory)?,
            }
        }
        if let Some(memory) = shadow_arbiter {
            self.shadow_arbiter.restore(memory)?;
        }
        Ok(())
    }
}

impl Stage for Decide {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        let now_ns = (self.clock)();
        for input in batch {
            if self.state_topic.as_deref() == Some(input.coordinates.topic.as_str()) {
                match decode_record::<WorkloadState>(&input.payload) {
                    // An observer whose clock runs ahead would hold back every true state until then.
                    Ok(state)
                        if state.observed_at_ns > now_ns.saturating_add(MAX_STATE_SKEW_NS) =>
                    {
                        out.count("decide.states_from_the_future", 1);
                        out.drop_record();
                    }
                    Ok(state) => {
                        let kept = self.workloads.observe(state);
                        out.count(
                            if kept {
                                "decide.states"
                            } else {
                                "decide.states_not_kept"
                            },
                            1,
                        );
                        out.drop_record();
                    }
                    Err(error) => out.reject(input, error),
                }
                continue;
            }
            match decode_record::<Diagnosis>(&input.payload) {
                Ok(diagnosis) => {
                    let (decision, shadow) = self.decide(diagnosis, now_ns);
                    if let Some(shadow) = shadow {
                        let agrees = shadow.0.action == decision.action
                            && object_of(&shadow.0.target) == object_of(&decision.target);
                        out.count(
                            if agrees {
                                "decide.shadow_agrees"
                            } else {
                                "decide.shadow_differs"
                            },
                            1,
                        );
                        out.emit_or_reject(input, &shadow);
                    }
                    out.emit_or_reject(input, &decision);
                }
                Err(error) => out.reject(input, error),
            }
        }
    }

    fn state(&mut self) -> Option<&mut dyn StageState> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{FaultClass, FaultSeverity};

    fn diagnosis(id: &str, fault: FaultClass, confidence: f64, at_secs: i64) -> SourceRecord {
        diagnosis_with(id, fault, confidence, at_secs, None)
    }

    fn diagnosis_on_node(
        id: &str,
        fault: FaultClass,
        confidence: f64,
        at_secs: i64,
        node: &str,
    ) -> SourceRecord {
        diagnosis_with(id, fault, confidence, at_secs, Some(node))
    }

    fn diagnosis_with(
        id: &str,
        fault: FaultClass,
        confidence: f64,
        at_secs: i64,
        node: Option<&str>,
    ) -> SourceRecord {
        let d = Diagnosis {
            schema_version: SCHEMA_VERSION,
            diagnosis_id: id.into(),
            target: Target::deployment("shop", "web")
                .with_pod(Some("web-7d9c7f5b9d-x2x7q"))
                .with_node(node),
            fault,
            severity: FaultSeverity::High,
            confidence,
            uncertain: confidence < 0.6,
            window_start_ns: 0,
            window_end_ns: at_secs * 1_000_000_000,
            evidence: vec![],
            model: "keyword-rules@1".into(),
            last_rollout_ns: None,
        };
        SourceRecord::new(
            "medic.diagnoses",
            0,
            0,
            serde_json::to_vec(&d).expect("encode"),
        )
    }

    #[test]
    fn acts_escalates_and_cools_down() {
        let mut stage = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        let batch = [
            diagnosis("d1", FaultClass::Oom, 0.9, 100),
            diagnosis("d2", FaultClass::Oom, 0.9, 200),
            diagnosis("d3", FaultClass::Oom, 0.4, 250),
            diagnosis("d4", FaultClass::Oom, 0.9, 401),
            diagnosis_on_node("d5", FaultClass::Oom, 0.9, 450, "node-7"),
        ];
        stage.process_batch(&batch, &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        let actions: Vec<_> = decisions.iter().map(|d| d.action).collect();
        assert_eq!(
            actions,
            [
                Action::RolloutRestart,
                Action::Noop,
                Action::Escalate,
                Action::RolloutRestart,
                Action::Noop
            ],
            "a different node hint does not escape the cooldown"
        );
        assert!(
            decisions[1].reason.contains("cooldown 300s"),
            "{}",
            decisions[1].reason
        );
        assert!(
            decisions[2].reason.contains("escalating"),
            "{}",
            decisions[2].reason
        );
        assert_eq!(decisions[0].policy_id, POLICY);
    }

    #[test]
    fn a_rollback_only_after_a_rollout_seen_recently() {
        let crash_loop = |id: &str, rolled_out_secs_before: Option<i64>| {
            let mut d: Diagnosis =
                serde_json::from_slice(&diagnosis(id, FaultClass::CrashLoop, 0.9, 10_000).payload)
                    .expect("diagnosis");
            d.last_rollout_ns = rolled_out_secs_before.map(|s| (10_000 - s) * 1_000_000_000);
            SourceRecord::new(
                "medic.diagnoses",
                0,
                0,
                serde_json::to_vec(&d).expect("encode"),
            )
        };
        let decide = |record| {
            let mut stage = DecideConfig::default().build().expect("valid");
            let mut out = Emitter::new();
            stage.process_batch(&[record], &mut out);
            out.decode_all::<Decision>().expect("decisions").remove(0)
        };
        assert_eq!(decide(crash_loop("r1", Some(600))).action, Action::Rollback);
        let never = decide(crash_loop("r2", None));
        assert_eq!(never.action, Action::Escalate);
        assert!(never.reason.contains("no rollout"), "{}", never.reason);
        assert_eq!(
            decide(crash_loop("r3", Some(7_200))).action,
            Action::Escalate
        );

        // medic's own restart at 9 000 s made the only ReplicaSet seen since (at 9 010 s).
        let mut stage = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        let oom = diagnosis("o1", FaultClass::Oom, 0.9, 9_000);
        stage.process_batch(&[oom, crash_loop("r4", Some(990))], &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        assert_eq!(decisions[0].action, Action::RolloutRestart);
        assert_eq!(
            decisions[1].action,
            Action::Escalate,
            "{}",
            decisions[1].reason
        );
        assert!(
            decisions[1].reason.contains("medic's own"),
            "{}",
            decisions[1].reason
        );
    }

    fn state_at(
        at_secs: i64,
        desired: u32,
        max: u32,
        rolled_out_secs: Option<i64>,
    ) -> SourceRecord {
        let state = WorkloadState {
            schema_version: SCHEMA_VERSION,
            target: Target::deployment("shop", "web"),
            observed_at_ns: at_secs * 1_000_000_000,
            observer: "test@1".into(),
            pods: schemas::PodCounts {
                desired,
                ready: desired.saturating_sub(1),
                crash_looping: 1,
                ..schemas::PodCounts::default()
            },
            bounds: schemas::ReplicaBounds {
                min: 1,
                max,
                source: schemas::BoundsSource::Hpa,
            },
            nodes_left_out: 0,
            pods_per_node: Vec::new(),
            nodes: Vec::new(),
            cluster_nodes: schemas::ClusterNodes::default(),
            last_rollout: rolled_out_secs.map(|at| schemas::Rollout {
                revision: 4,
                at_ns: at * 1_000_000_000,
                image_changed: Some(true),
                rolled_back: false,
            }),
            signals: schemas::WorkloadSignals::default(),
        };
        SourceRecord::new(
            "medic.state",
            0,
            0,
            serde_json::to_vec(&state).expect("encode"),
        )
    }

    /// The rules, reading states from `medic.state`.
    fn rules_with_state() -> Decide {
        DecideConfig::default()
            .build()
            .expect("valid")
            .reading_state_from("medic.state")
    }

    /// What a fresh rules stage decides on `batch`, and what else it emitted.
    fn decide_fresh(batch: &[SourceRecord]) -> (Vec<Decision>, Emitter) {
        let mut out = Emitter::new();
        rules_with_state().process_batch(batch, &mut out);
        (out.decode_all::<Decision>().expect("decisions"), out)
    }

    #[test]
    fn the_clusters_state_is_evidence_of_rollouts_and_bounds() {
        let decide = decide_fresh;
        // Diagnose saw no rollout; the observer did, 10 minutes before: a rollback, and why.
        let crash = diagnosis("c1", FaultClass::CrashLoop, 0.9, 10_000);
        let (decisions, out) = decide(&[state_at(9_990, 3, 10, Some(9_400)), crash.clone()]);
        assert_eq!(decisions.len(), 1, "a state is no decision");
        assert_eq!(out.events().get("decide.states"), Some(&1));
        assert_eq!(
            decisions[0].action,
            Action::Rollback,
            "{}",
            decisions[0].reason
        );
        assert!(
            decisions[0]
                .reason
                .ends_with("[cluster, 10s before: 2/3 ready, 1 crash-looping; replicas 1..10; revision 4 rolled out 600s before]"),
            "{}",
            decisions[0].reason
        );
        // Its last rollout two hours before: nothing recent to undo.
        let (decisions, _) = decide(&[state_at(9_990, 3, 10, Some(2_800)), crash.clone()]);
        assert_eq!(decisions[0].action, Action::Escalate);
        // Its last rollout was itself a rollback (someone brought an older revision back): not undone.
        let mut rolled_back: WorkloadState =
            serde_json::from_slice(&state_at(9_990, 3, 10, Some(9_400)).payload).expect("state");
        rolled_back
            .last_rollout
            .as_mut()
            .expect("a rollout")
            .rolled_back = true;
        let rolled_back = SourceRecord::new(
            "medic.state",
            0,
            0,
            serde_json::to_vec(&rolled_back).expect("encode"),
        );
        let (decisions, _) = decide(&[rolled_back, crash.clone()]);
        assert_eq!(decisions[0].action, Action::Escalate);
        assert!(
            decisions[0].reason.contains("itself a rollback"),
            "{}",
            decisions[0].reason
        );
        // Dated when the observer first saw it, after the diagnosis' window, while diagnose saw the
        // same rollback's Events in it: still not undone.
        let mut late: WorkloadState =
            serde_json::from_slice(&state_at(10_050, 3, 10, Some(10_040)).payload).expect("state");
        late.last_rollout.as_mut().expect("a rollout").rolled_back = true;
        let late = SourceRecord::new(
            "medic.state",
            0,
            0,
            serde_json::to_vec(&late).expect("encode"),
        );
        let mut seen_in_events: Diagnosis =
            serde_json::from_slice(&crash.payload).expect("diagnosis");
        seen_in_events.last_rollout_ns = Some(9_950 * 1_000_000_000);
        let seen_in_events = SourceRecord::new(
            "medic.diagnoses",
            0,
            0,
            serde_json::to_vec(&seen_in_events).expect("encode"),
        );
        let (decisions, _) = decide(&[late, seen_in_events]);
        assert_eq!(
            decisions[0].action,
            Action::Escalate,
            "{}",
            decisions[0].reason
        );
        // The same history whatever order its states came in: an older state (a re-read partition)
        // joins it, and the newer one is dated against it again (the same revision keeps the later
        // date, 9 400 s: a recent rollout); a repeated state is not kept.
        let (decisions, out) = decide(&[
            state_at(9_990, 3, 10, Some(2_800)),
            state_at(9_500, 3, 10, Some(9_400)),
            state_at(9_990, 3, 10, Some(2_800)),
            crash.clone(),
        ]);
        assert_eq!(out.events().get("decide.states"), Some(&2));
        assert_eq!(out.events().get("decide.states_not_kept"), Some(&1));
        let (in_order, _) = decide(&[
            state_at(9_500, 3, 10, Some(9_400)),
            state_at(9_990, 3, 10, Some(2_800)),
            crash,
        ]);
        assert_eq!(
            (decisions[0].action, in_order[0].action),
            (Action::Rollback, Action::Rollback),
            "{}",
            decisions[0].reason
        );

        // CPU saturation at the autoscaler's maximum: no scale-out past it.
        let hot = diagnosis("h1", FaultClass::CpuSaturation, 0.9, 10_000);
        let (decisions, _) = decide(&[state_at(9_990, 10, 10, None), hot.clone()]);
        assert_eq!(
            decisions[0].action,
            Action::Escalate,
            "{}",
            decisions[0].reason
        );
        let (decisions, _) = decide(&[state_at(9_990, 4, 10, None), hot.clone()]);
        assert_eq!(decisions[0].action, Action::Scale { delta: 1 });
        // Decided on the state of the diagnosis' time, not on one read ahead of it (a replay, or a
        // stage re-reading its diagnoses after a restart, reads the states ahead).
        let (decisions, _) = decide(&[
            state_at(10_100, 4, 10, None),
            state_at(9_990, 10, 10, None),
            hot.clone(),
        ]);
        assert_eq!(
            decisions[0].action,
            Action::Escalate,
            "{}",
            decisions[0].reason
        );
        let (decisions, _) = decide(&[state_at(9_000, 10, 10, None), hot]);
        assert_eq!(
            decisions[0].action,
            Action::Scale { delta: 1 },
            "a state older than state_max_age says nothing of the replicas now"
        );
        assert!(!decisions[0].reason.contains("[cluster"));

        // The states are part of the checkpoint.
        let mut before = rules_with_state();
        before.process_batch(&[state_at(9_990, 10, 10, None)], &mut Emitter::new());
        let snapshot = before.snapshot().expect("snapshot");
        let mut after = rules_with_state();
        after.restore(&snapshot).expect("restore");
        let mut out = Emitter::new();
        after.process_batch(
            &[diagnosis("h2", FaultClass::CpuSaturation, 0.9, 10_000)],
            &mut out,
        );
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        assert_eq!(decisions[0].action, Action::Escalate);

        // A state that does not decode is a dead letter, like any record.
        let mut garbage = state_at(1, 1, 1, None);
        garbage.payload = b"{\"observer\": 1}".to_vec();
        let (_, out) = decide(&[garbage]);
        assert_eq!(out.rejections().len(), 1);
    }

    /// A state of shop/web with `desired` of `max` replicas, all ready, under `demand_rps`.
    fn busy_state(at_secs: i64, desired: u32, max: u32, demand_rps: f64) -> SourceRecord {
        let mut record = state_at(at_secs, desired, max, None);
        let mut state: WorkloadState = serde_json::from_slice(&record.payload).expect("state");
        state.pods.ready = desired;
        state.pods.crash_looping = 0;
        state.pods_per_node = vec![schemas::NodePods {
            node: "n1".into(),
            pods: desired,
            ready: desired,
        }];
        state.nodes = vec![schemas::NodeCondition {
            node: "n1".into(),
            ready: true,
            disk_pressure: false,
            unschedulable: false,
        }];
        state.cluster_nodes = schemas::ClusterNodes {
            total: 3,
            schedulable: 3,
        };
        state.signals.demand_rps = Some(demand_rps);
        state.signals.p95_ms = Some(900.0);
        record.payload = serde_json::to_vec(&state).expect("encode");
        record
    }

    fn learned(mode: &str) -> Decide {
        let config: DecideConfig = toml::from_str(&format!(
            "policy = \"models/policy-ppo\"\nmode = \"{mode}\""
        ))
        .expect("parses");
        config
            .build()
            .expect("the committed policy loads")
            .reading_state_from("medic.state")
    }

    /// An hour of a busy workload: a state and a CPU-saturation diagnosis a minute.
    fn busy_hour(desired: u32, max: u32) -> Vec<SourceRecord> {
        (1..=60)
            .flat_map(|minute| {
                let at = 10_000 + 60 * minute;
                [
                    busy_state(at - 5, desired, max, 100.0 * f64::from(desired) * 3.0),
                    diagnosis(&format!("h{minute}"), FaultClass::CpuSaturation, 0.9, at),
                ]
            })
            .collect()
    }

    #[test]
    fn a_learned_policy_decides_through_its_arbiter_and_the_guards() {
        let mut stage = learned("act");
        let mut out = Emitter::new();
        stage.process_batch(&busy_hour(10, 10), &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        assert_eq!(decisions.len(), 60);
        for d in &decisions {
            assert!(d.policy_id.starts_with("ppo@"), "{}", d.policy_id);
            assert!(d.reason.contains("scored highest"), "{}", d.reason);
            assert!(
                !matches!(d.action, Action::Scale { delta } if delta > 0),
                "at its maximum, no scale-out: {d:?}"
            );
            assert_eq!(object_of(&d.target), Target::deployment("shop", "web"));
        }
        // Below its maximum it scales out: the arbiter's rate limit (20 changes an hour) holds, and says so.
        let mut room = learned("act");
        let mut out = Emitter::new();
        room.process_batch(&busy_hour(4, 10), &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        let scaled = decisions
            .iter()
            .filter(|d| matches!(d.action, Action::Scale { delta } if delta > 0))
            .count();
        assert!(
            scaled > 0 && scaled <= 20,
            "{scaled} scale-outs in the hour"
        );
        assert!(
            decisions
                .iter()
                .any(|d| d.reason.contains("arbiter: rate limit")),
            "{:?}",
            decisions.iter().map(|d| &d.reason).collect::<Vec<_>>()
        );
        // Without a state of the workload, the rules decide, and say so.
        let mut blind = learned("act");
        let mut out = Emitter::new();
        blind.process_batch(&[diagnosis("b1", FaultClass::Oom, 0.9, 100)], &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        assert_eq!(
            (decisions[0].policy_id.as_str(), decisions[0].action),
            (POLICY, Action::RolloutRestart)
        );
        assert!(
            decisions[0].reason.contains("no state"),
            "{}",
            decisions[0].reason
        );

        // The arbiter's memory is part of the checkpoint.
        let snapshot = stage.snapshot().expect("snapshot");
        let mut restored = learned("act");
        restored.restore(&snapshot).expect("restore");
        assert_eq!(restored.snapshot().expect("snapshot"), snapshot);
    }

    #[test]
    fn the_rules_pass_the_arbiter_when_the_cluster_is_known() {
        // Probes fail on one of two Ready pods: replacing it takes half the serving pods out, above the
        // arbiter's blast radius (40 %). Without a state the rules act as before.
        let probe = diagnosis("p1", FaultClass::ProbeFailure, 0.9, 10_000);
        let (decisions, _) = decide_fresh(&[busy_state(9_990, 2, 10, 50.0), probe.clone()]);
        assert_eq!(
            decisions[0].action,
            Action::Escalate,
            "refused, a human is paged: {}",
            decisions[0].reason
        );
        assert!(
            decisions[0]
                .reason
                .contains("arbiter: restarting one of 2 serving pods"),
            "{}",
            decisions[0].reason
        );
        // A diagnosis delivered again is decided as it was, whatever the arbiter now remembers.
        let oom = diagnosis("o1", FaultClass::Oom, 0.9, 10_000);
        let (decisions, _) = decide_fresh(&[busy_state(9_990, 4, 10, 50.0), oom.clone(), oom]);
        assert_eq!(
            decisions.iter().map(|d| d.action).collect::<Vec<_>>(),
            [Action::RolloutRestart, Action::RolloutRestart]
        );
        assert_eq!(
            decide_fresh(std::slice::from_ref(&probe)).0[0].action,
            Action::RestartPod
        );
        let (decisions, _) = decide_fresh(&[busy_state(9_990, 5, 10, 50.0), probe]);
        assert_eq!(
            decisions[0].action,
            Action::RestartPod,
            "one of five is within the blast radius"
        );
    }

    #[test]
    fn a_node_the_cluster_shows_healthy_is_not_cordoned_on_an_event() {
        let node_fault = |id: &str, fault: FaultClass| {
            let d = Diagnosis {
                target: Target::node("n1"),
                window_start_ns: 9_940 * 1_000_000_000,
                ..serde_json::from_slice(&diagnosis(id, fault, 0.9, 10_000).payload)
                    .expect("diagnosis")
            };
            SourceRecord::new(
                "medic.diagnoses",
                0,
                0,
                serde_json::to_vec(&d).expect("encode"),
            )
        };
        let with_node = |at_secs: i64, ready: bool, disk_pressure: bool| {
            let mut record = busy_state(at_secs, 3, 10, 0.0);
            let mut state: WorkloadState = serde_json::from_slice(&record.payload).expect("state");
            state.nodes[0].ready = ready;
            state.nodes[0].disk_pressure = disk_pressure;
            record.payload = serde_json::to_vec(&state).expect("encode");
            record
        };
        let decide = |batch: &[SourceRecord]| decide_fresh(batch).0.remove(0);
        let failure = node_fault("f1", FaultClass::NodeFailure);
        let healthy = decide(&[with_node(9_990, true, false), failure.clone()]);
        assert_eq!(healthy.action, Action::Escalate, "{}", healthy.reason);
        assert!(
            healthy.reason.contains("not confirmed"),
            "{}",
            healthy.reason
        );
        assert_eq!(
            decide(&[with_node(9_990, false, false), failure.clone()]).action,
            Action::CordonNode
        );
        assert_eq!(
            decide(&[with_node(9_000, true, false), failure.clone()]).action,
            Action::CordonNode,
            "a state from before the evidence began does not contradict it"
        );
        assert_eq!(
            decide(std::slice::from_ref(&failure)).action,
            Action::CordonNode,
            "no state: as before"
        );
        // A state naming only another node, its lists whole or cut.
        let elsewhere = |at_secs: i64, nodes_left_out: u32| {
            let mut record = busy_state(at_secs, 3, 10, 0.0);
            let mut state: WorkloadState = serde_json::from_slice(&record.payload).expect("state");
            for node in &mut state.nodes {
                node.node = "n2".to_owned();
            }
            for on in &mut state.pods_per_node {
                on.node = "n2".to_owned();
            }
            state.nodes_left_out = nodes_left_out;
            record.payload = serde_json::to_vec(&state).expect("encode");
            record
        };
        assert_eq!(
            decide(&[elsewhere(9_990, 0), failure.clone()]).action,
            Action::CordonNode,
            "a node no whole list names runs none of the observed pods"
        );
        for at_secs in [9_990, 9_000] {
            let unknown = decide(&[elsewhere(at_secs, 3), failure.clone()]);
            assert_eq!(
                (unknown.action, unknown.reason.contains("unknown")),
                (Action::Escalate, true),
                "a node missing from a cut list may be one it left out, however old the state \
                 (an unchanged one is written again only every resync): {}",
                unknown.reason
            );
        }
        let disk = node_fault("d1", FaultClass::DiskPressure);
        assert_eq!(
            decide(&[with_node(9_990, true, false), disk.clone()]).action,
            Action::Escalate
        );
        assert_eq!(
            decide(&[with_node(9_990, true, true), disk]).action,
            Action::DrainNode
        );
    }

    #[test]
    fn what_the_arbiter_puts_in_the_rules_place_passes_the_guards_too() {
        // No rule scales out on a node failure today; the arbiter would put recovery in its place —
        // cordoning and draining the node the evidence names — which one workload's logs must not
        // choose for a node every tenant shares.
        let mut stage = rules_with_state();
        let mut out = Emitter::new();
        // Two of ten pods on n1: draining it is within the arbiter's blast radius.
        let mut record = busy_state(9_990, 10, 20, 0.0);
        let mut state: WorkloadState = serde_json::from_slice(&record.payload).expect("state");
        state.pods_per_node = ["n1", "n2"]
            .into_iter()
            .zip([2, 8])
            .map(|(node, pods)| schemas::NodePods {
                node: node.into(),
                pods,
                ready: pods,
            })
            .collect();
        state.nodes.push(schemas::NodeCondition {
            node: "n2".into(),
            ..state.nodes[0].clone()
        });
        record.payload = serde_json::to_vec(&state).expect("encode");
        stage.process_batch(&[record], &mut out);
        let failure = diagnosis_on_node("f1", FaultClass::NodeFailure, 0.9, 10_000, "n1");
        let diagnosis: Diagnosis = serde_json::from_slice(&failure.payload).expect("diagnosis");
        let scale_out = (
            Action::Scale { delta: 1 },
            object_of(&diagnosis.target),
            "a scale-out".to_owned(),
        );
        let (action, _, why) =
            stage.rules_arbitrated(scale_out, &diagnosis, diagnosis.window_end_ns);
        assert_eq!(action, Action::Escalate, "{why}");
        assert!(why.contains("recovery before scaling"), "{why}");
        assert!(why.contains("a node is shared by every tenant"), "{why}");
    }

    #[test]
    fn in_shadow_mode_the_rules_decide_and_the_learned_policy_is_only_recorded() {
        let batch = busy_hour(4, 10);
        let mut rules = rules_with_state();
        let mut alone = Emitter::new();
        rules.process_batch(&batch, &mut alone);
        let mut shadowed = learned("shadow");
        let mut out = Emitter::new();
        shadowed.process_batch(&batch, &mut out);
        assert_eq!(
            out.decode_all::<Decision>().expect("decisions"),
            alone.decode_all::<Decision>().expect("decisions"),
            "the shadow changes nothing the rules decide"
        );
        let shadows: Vec<ShadowDecision> = out.decode_all().expect("shadows");
        assert_eq!(shadows.len(), 60);
        assert!(shadows.iter().all(|s| s.0.policy_id.starts_with("ppo@")));
        let counted = out
            .events()
            .get("decide.shadow_agrees")
            .copied()
            .unwrap_or(0)
            + out
                .events()
                .get("decide.shadow_differs")
                .copied()
                .unwrap_or(0);
        assert_eq!(counted, 60);
        let rule_ids: Vec<String> = alone
            .decode_all::<Decision>()
            .expect("decisions")
            .into_iter()
            .map(|d| d.decision_id)
            .collect();
        assert!(shadows.iter().all(|s| !rule_ids.contains(&s.0.decision_id)));
        // The shadow's arbiter is fed the rules' actions, not its own proposals: the rules' scale-outs
        // (one per cooldown) stay under its rate limit (20 changes an hour), so the shadow's sixty
        // proposals are never held back by it, as they were when its own counted.
        let scale_outs = shadows
            .iter()
            .filter(|s| matches!(s.0.action, Action::Scale { delta } if delta > 0))
            .count();
        assert!(scale_outs > 20, "{scale_outs} shadow scale-outs");
        assert!(
            shadows.iter().all(|s| !s.0.reason.contains("rate limit")),
            "{shadows:?}"
        );
        // Delivered again (after a restart), the batch changes no memory: the actions it decided were
        // applied once, and the shadow was fed them once.
        let once = shadowed.snapshot().expect("snapshot");
        shadowed.process_batch(&batch, &mut Emitter::new());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&shadowed.snapshot().expect("snapshot"))
                .expect("json"),
            serde_json::from_slice::<serde_json::Value>(&once).expect("json")
        );
    }

    #[test]
    fn one_page_per_incident_until_it_stays_unresolved_past_repage_after() {
        let mut stage = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        let low = |id: &str, fault, at| diagnosis(id, fault, 0.4, at);
        stage.process_batch(
            &[
                low("p1", FaultClass::Oom, 100),
                low("p2", FaultClass::Oom, 160),
                low("p1", FaultClass::Oom, 100),
                low("p3", FaultClass::CrashLoop, 170),
            ],
            &mut out,
        );
        // A restarted stage remembers the pages.
        let snapshot = stage.snapshot().expect("snapshot");
        let mut restarted = DecideConfig::default().build().expect("valid");
        restarted.restore(&snapshot).expect("restore");
        restarted.process_batch(
            &[
                low("p4", FaultClass::Oom, 1_000),
                low("p5", FaultClass::Oom, 100 + 1_800),
            ],
            &mut out,
        );
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        let actions: Vec<_> = decisions.iter().map(|d| d.action).collect();
        assert_eq!(
            actions,
            [
                Action::Escalate,
                Action::Noop,
                Action::Escalate,
                Action::Escalate,
                Action::Noop,
                Action::Escalate
            ],
            "the same diagnosis redelivered pages as it did; another fault is another incident; \
             unresolved after 30 min, paged again"
        );
        assert!(
            decisions[1].reason.contains("one page per incident"),
            "{}",
            decisions[1].reason
        );
    }

    #[test]
    fn one_workloads_logs_never_cordon_or_drain_a_shared_node_unless_configured() {
        // The probe: an application's own `write … no space left on device` read as disk pressure, its
        // evidence naming the node it runs on.
        let workload_evidence = [
            diagnosis_on_node("w1", FaultClass::DiskPressure, 0.96, 10, "node-3"),
            diagnosis_on_node("w2", FaultClass::NodeFailure, 0.96, 20, "node-4"),
        ];
        let mut guarded = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        guarded.process_batch(&workload_evidence, &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        // Disk pressure is paged on the workload; a node failure replaces the workload's pod.
        let taken: Vec<Action> = decisions.iter().map(|d| d.action).collect();
        assert_eq!(taken, [Action::Escalate, Action::RestartPod]);
        for d in &decisions {
            assert_eq!(
                d.target.kind,
                ObjectKind::Deployment,
                "the decision names the workload"
            );
            assert_eq!(d.target.pod.as_deref(), Some("web-7d9c7f5b9d-x2x7q"));
            assert!(d.reason.contains("shared"), "{}", d.reason);
        }
        // A diagnosis of the Node itself (the kubelet's and node controller's Events) may act on it.
        let node = Diagnosis {
            target: Target::node("node-5"),
            ..serde_json::from_slice(&diagnosis("n1", FaultClass::NodeFailure, 0.9, 30).payload)
                .expect("diagnosis")
        };
        let node_record = SourceRecord::new(
            "medic.diagnoses",
            0,
            1,
            serde_json::to_vec(&node).expect("encode"),
        );
        assert_eq!(actions(&mut guarded, &[node_record]), [Action::CordonNode]);
        // A "Node" that carries a namespace was named by a tenant's records, not by the node's Events.
        let namespaced = Diagnosis {
            diagnosis_id: "n2".into(),
            target: Target {
                namespace: Some("tenant-a".into()),
                ..Target::node("node-6")
            },
            ..node.clone()
        };
        let namespaced_record = SourceRecord::new(
            "medic.diagnoses",
            0,
            2,
            serde_json::to_vec(&namespaced).expect("encode"),
        );
        assert_eq!(
            actions(&mut guarded, &[namespaced_record]),
            [Action::Escalate]
        );
        // A single-tenant cluster may allow workload evidence.
        let mut open = DecideConfig {
            node_actions: NodeActions::AnyEvidence,
            ..DecideConfig::default()
        }
        .build()
        .expect("valid");
        assert_eq!(
            actions(&mut open, &workload_evidence),
            [Action::DrainNode, Action::CordonNode]
        );
    }

    #[test]
    fn a_future_dated_diagnosis_cannot_hold_a_target_in_cooldown_beyond_now() {
        const NOW_SECS: i64 = 1_000;
        fn now() -> i64 {
            NOW_SECS * 1_000_000_000
        }
        fn after_the_cooldown() -> i64 {
            (NOW_SECS + 400) * 1_000_000_000
        }
        let mut stage = DecideConfig::default()
            .build()
            .expect("valid")
            .with_clock(now);
        // A forged record a day ahead makes a diagnosis: its cooldown starts now, not tomorrow.
        let forged = diagnosis("forged", FaultClass::Oom, 0.9, NOW_SECS + 86_400);
        let mut out = Emitter::new();
        stage.process_batch(&[forged], &mut out);
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        assert_eq!(decisions[0].action, Action::RolloutRestart);
        assert_eq!(decisions[0].decided_at_ns, now(), "never later than now");
        // 400 s on (cooldown 300 s), a real OOM is acted on again.
        let mut stage = stage.with_clock(after_the_cooldown);
        assert_eq!(
            actions(
                &mut stage,
                &[diagnosis("real", FaultClass::Oom, 0.9, NOW_SECS + 400)]
            ),
            [Action::RolloutRestart]
        );
    }

    #[test]
    fn decision_ids_are_stable_per_diagnosis() {
        let run = || {
            let mut stage = DecideConfig::default().build().expect("valid");
            let mut out = Emitter::new();
            stage.process_batch(&[diagnosis("d1", FaultClass::CrashLoop, 0.9, 1)], &mut out);
            out.decode_all::<Decision>().expect("decisions")[0]
                .decision_id
                .clone()
        };
        assert_eq!(run(), run());
    }

    fn actions(stage: &mut Decide, batch: &[SourceRecord]) -> Vec<Action> {
        let mut out = Emitter::new();
        stage.process_batch(batch, &mut out);
        out.decode_all::<Decision>()
            .expect("decisions")
            .into_iter()
            .map(|d| d.action)
            .collect()
    }

    #[test]
    fn cooldowns_survive_a_restart_through_the_checkpoint() {
        let mut before = DecideConfig::default().build().expect("valid");
        assert_eq!(
            actions(&mut before, &[diagnosis("d1", FaultClass::Oom, 0.9, 100)]),
            [Action::RolloutRestart]
        );
        let snapshot = before.snapshot().expect("snapshot");
        // A restarted stage: without the snapshot it would restart the Deployment again 100 s later.
        let mut after = DecideConfig::default().build().expect("valid");
        assert_eq!(
            actions(&mut after, &[diagnosis("d2", FaultClass::Oom, 0.9, 200)]),
            [Action::RolloutRestart],
            "a fresh stage knows no cooldown"
        );
        let mut after = DecideConfig::default().build().expect("valid");
        after.restore(&snapshot).expect("restore");
        assert_eq!(
            actions(&mut after, &[diagnosis("d2", FaultClass::Oom, 0.9, 200)]),
            [Action::Noop],
            "the restored cooldown holds"
        );
        assert!(after.restore(b"{").is_err(), "a torn snapshot is refused");
    }

    #[test]
    fn a_diagnosis_delivered_again_gets_the_same_decision() {
        let mut stage = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        let d1 = diagnosis("d1", FaultClass::Oom, 0.9, 100);
        stage.process_batch(
            &[d1.clone(), diagnosis("d2", FaultClass::Oom, 0.9, 150), d1],
            &mut out,
        );
        let decisions: Vec<Decision> = out.decode_all().expect("decisions");
        let summary: Vec<_> = decisions
            .iter()
            .map(|d| (d.decision_id.as_str(), d.action))
            .collect();
        assert_eq!(summary[0], summary[2], "the replay repeats the decision");
        assert_eq!(summary[0].1, Action::RolloutRestart);
        assert_eq!(
            summary[1].1,
            Action::Noop,
            "another diagnosis still cools down"
        );
    }

    #[test]
    fn garbage_is_rejected() {
        let mut stage = DecideConfig::default().build().expect("valid");
        let mut out = Emitter::new();
        stage.process_batch(
            &[SourceRecord::new("medic.diagnoses", 0, 0, "{}")],
            &mut out,
        );
        assert_eq!(out.rejections().len(), 1);
    }
}
