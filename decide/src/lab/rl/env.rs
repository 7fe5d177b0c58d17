//! [`Env`]: the twin as a reinforcement-learning environment — episodes cut at random from the training
//! traces, faults drawn from the training scenario, every deployment an agent sharing one policy, and
//! every proposal reviewed by the same [`Arbiter`] that guards the policy in production.

use super::features::{
    N_ACTIONS, N_FEATURES, Remedies, action_for, advance_since_action, features,
};
use crate::lab::arbitration::{Arbiter, SafetyConfig};
use crate::lab::control::{EpisodeSpec, Explanation, Proposal};
use crate::lab::objective::{ESCALATION_COST, FAULT_MINUTE_COST};
use crate::lab::twin::{
    ClusterSpec, ClusterView, DeploymentView, Scenario, Trace, Twin, TwinAction, TwinCommand,
    TwinOptions,
};
use schemas::rng::Rng;

/// What training episodes are drawn from.
#[derive(Debug, Clone)]
pub struct TrainingSetup {
    /// The cluster.
    pub cluster: ClusterSpec,
    /// Training traces, each already scaled to its peak.
    pub traces: Vec<Trace>,
    /// The training scenario (its random faults are drawn anew per episode).
    pub scenario: Scenario,
    /// Simulated seconds per episode.
    pub episode_secs: f64,
    /// The arbiter's limits.
    pub safety: SafetyConfig,
    /// Twin options (the seed is replaced per episode).
    pub options: TwinOptions,
    /// The price of one replica-minute in the reward, in SLA-violation minutes.
    pub replica_minute_cost: f64,
    /// Who answers a confident diagnosis (the policy is saved with it, and served with it).
    pub remedies: Remedies,
}

impl TrainingSetup {
    /// A training episode: a random window of a random trace, faults drawn from the scenario.
    pub fn draw(&self, rng: &mut Rng) -> EpisodeSpec {
        let trace = &self.traces[rng.index(self.traces.len())];
        let room = (trace.duration_secs() - self.episode_secs).max(0.0);
        let window = trace.window(rng.range(0.0, room), self.episode_secs);
        let seed = rng.next_u64();
        EpisodeSpec {
            cluster: self.cluster.clone(),
            trace: window,
            plan: self
                .scenario
                .plan(&self.cluster, seed, self.episode_secs)
                .unwrap_or_default(),
            horizon_secs: self.episode_secs,
            options: TwinOptions {
                seed,
                ..self.options.clone()
            },
        }
    }
}

/// One agent's observation: features and the action mask.
pub type Observation = ([f32; N_FEATURES], [bool; N_ACTIONS]);

/// The environment.
pub struct Env {
    setup: std::sync::Arc<TrainingSetup>,
    rng: Rng,
    twin: Twin,
    arbiter: Arbiter,
    views: Vec<DeploymentView>,
    cluster: ClusterView,
    since_action: Vec<u32>,
}

/// What a step returned.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// Reward per agent (deployment).
    pub rewards: Vec<f32>,
    /// Whether the episode ended (the environment has already reset).
    pub done: bool,
}

impl Env {
    /// An environment drawing episodes with `seed`.
    #[must_use]
    pub fn new(setup: std::sync::Arc<TrainingSetup>, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let twin = Self::episode(&setup, &mut rng);
        let arbiter = Arbiter::new(setup.safety.clone());
        let n = setup.cluster.deployments.len();
        let mut env = Self {
            setup,
            rng,
            twin,
            arbiter,
            views: Vec::new(),
            cluster: ClusterView::default(),
            since_action: vec![0; n],
        };
        env.refresh();
        env
    }

    fn episode(setup: &TrainingSetup, rng: &mut Rng) -> Twin {
        setup.draw(rng).twin()
    }

    fn refresh(&mut self) {
        self.views = self.twin.views();
        self.cluster = self.twin.cluster_view();
    }

    /// Number of agents (deployments).
    #[must_use]
    pub fn agents(&self) -> usize {
        self.views.len()
    }

    /// Every agent's view of the twin, as observed now.
    #[must_use]
    pub fn views(&self) -> &[DeploymentView] {
        &self.views
    }

    /// Every agent's observation.
    #[must_use]
    pub fn observations(&self) -> Vec<Observation> {
        self.views
            .iter()
            .zip(&self.since_action)
            .map(|(v, s)| (features(v, *s), self.setup.remedies.mask(v)))
            .collect()
    }

    /// Applies one action index per agent (through the arbiter) and advances the twin.
    pub fn step(&mut self, actions: &[usize]) -> StepOutcome {
        let mut commands = Vec::with_capacity(actions.len());
        let mut escalated = vec![false; actions.len()];
        for (d, a) in actions.iter().enumerate() {
            let view = &self.views[d];
            let action = action_for(*a, view).unwrap_or(TwinAction::Noop);
            let proposal = Proposal {
                command: TwinCommand {
                    deployment: d,
                    action,
                },
                explanation: Explanation::default(),
            };
            let reviewed = self.arbiter.review(proposal, view, &self.cluster);
            let final_action = reviewed.command.action;
            escalated[d] = final_action == TwinAction::Escalate;
            commands.push(reviewed.command);
        }
        advance_since_action(&mut self.since_action, &commands);
        let violations = self.twin.step(&commands);
        let minutes = self.setup.cluster.step_secs / 60.0;
        self.refresh();
        let rewards = self
            .views
            .iter()
            .enumerate()
            .map(|(d, v)| {
                let scheduled = f64::from(v.serving + v.starting + v.crashing);
                let cost = violations[d]
                    + self.setup.replica_minute_cost * scheduled * minutes
                    + FAULT_MINUTE_COST * self.twin.open_faults(d) as f64 * minutes
                    + if escalated[d] { ESCALATION_COST } else { 0.0 };
                -cost as f32
            })
            .collect();
        let done = self.twin.done();
        if done {
            self.twin = Self::episode(&self.setup, &mut self.rng);
            self.arbiter = Arbiter::new(self.setup.safety.clone());
            self.since_action.iter_mut().for_each(|s| *s = 0);
            self.refresh();
        }
        StepOutcome { rewards, done }
    }
}
