//! `medic train policy`: trains PPO or DQN on the twin (or calibrates the threshold rules) and writes the
//! policy directory with its card.

use crate::features::Remedies;
use crate::lab::arbitration::SafetyConfig;
use crate::lab::baselines::calibrate_rules;
use crate::lab::control::EpisodeSpec;
use crate::lab::evaluate::RulesSpec;
use crate::lab::rl::{
    Algo, DqnConfig, PpoConfig, Progress, TrainError, TrainingSetup, save_policy, train_dqn,
    train_ppo,
};
use crate::lab::twin::{ClusterSpec, Scenario, Trace, TwinOptions};

use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// What to train.
#[derive(Debug, Clone)]
pub enum Learner {
    /// PPO with these settings.
    Ppo(PpoConfig),
    /// Distributed double DQN with these settings.
    Dqn(DqnConfig),
    /// Grid-search the threshold rules' utilisation target.
    Rules,
}

impl Learner {
    /// The learner called `algo` (`ppo`, `dqn` or `rules`) with its default settings, `budget` PPO
    /// iterations or DQN environment steps (0: the default) and `actors` DQN actor threads.
    ///
    /// # Errors
    /// An unknown name.
    pub fn named(algo: &str, budget: usize, actors: usize) -> Result<Self, String> {
        Ok(match algo {
            "ppo" => Learner::Ppo(PpoConfig {
                iterations: if budget > 0 {
                    budget
                } else {
                    PpoConfig::default().iterations
                },
                ..PpoConfig::default()
            }),
            "dqn" => Learner::Dqn(DqnConfig {
                total_steps: if budget > 0 {
                    budget
                } else {
                    DqnConfig::default().total_steps
                },
                actors: actors.max(1),
                ..DqnConfig::default()
            }),
            "rules" => Learner::Rules,
            other => {
                return Err(format!(
                    "unknown algorithm {other:?}: expected ppo, dqn or rules"
                ));
            }
        })
    }
}

/// A training job.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// The learner.
    pub learner: Learner,
    /// The cluster.
    pub cluster: ClusterSpec,
    /// Training traces (scaled).
    pub traces: Vec<Trace>,
    /// The training scenario and its file name.
    pub scenario: (String, Scenario),
    /// Simulated hours per episode.
    pub episode_hours: f64,
    /// Arbiter limits.
    pub safety: SafetyConfig,
    /// Twin options.
    pub options: TwinOptions,
    /// Seed.
    pub seed: u64,
    /// The price of one replica-minute in the reward, in SLA-violation minutes (the objective's
    /// [`crate::lab::objective::REPLICA_MINUTE_COST`] by default; other prices place a policy elsewhere on
    /// the replicas-versus-SLA curve).
    pub replica_minute_cost: f64,
    /// Who answers a confident diagnosis: the network, or the remedy table (saved in the spec, so the
    /// policy is served as it was trained).
    pub remedies: Remedies,
}

/// Runs `job` and writes the policy to `out`; returns the card written.
///
/// # Errors
/// Training or file errors.
pub fn train_policy(
    job: &TrainJob,
    out: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<serde_json::Value, TrainError> {
    let started = std::time::Instant::now();
    let traces: Vec<String> = job.traces.iter().map(|t| t.source.clone()).collect();
    let base_card = json!({
        "traces": traces,
        "scenario": job.scenario.0,
        "episode_hours": job.episode_hours,
        "seed": job.seed,
        "cluster": job.cluster,
        "safety": job.safety,
        "remedies": job.remedies,
        "objective": {
            "replica_minute_cost": job.replica_minute_cost,
            "escalation_cost": crate::lab::objective::ESCALATION_COST,
            "fault_minute_cost": crate::lab::objective::FAULT_MINUTE_COST,
            "per": "SLA-violation minute"
        },
    });
    let setup = Arc::new(TrainingSetup {
        cluster: job.cluster.clone(),
        traces: job.traces.clone(),
        scenario: job.scenario.1.clone(),
        episode_secs: job.episode_hours * 3_600.0,
        safety: job.safety.clone(),
        options: job.options.clone(),
        replica_minute_cost: job.replica_minute_cost,
        remedies: job.remedies,
    });
    let (algo, trained, settings) = match &job.learner {
        Learner::Rules if !job.remedies.is_learned() => {
            return Err(TrainError::Setting(
                "remedies are a setting of ppo and dqn: the rules answer every confident diagnosis \
                 by the table"
                    .into(),
            ));
        }
        Learner::Rules => {
            let runs = calibration_runs(&setup, job.seed, 32);
            let (target, tried) = calibrate_rules(&runs, &job.safety);
            std::fs::create_dir_all(out).map_err(|e| TrainError::Io {
                path: out.display().to_string(),
                message: e.to_string(),
            })?;
            let spec = RulesSpec {
                algo: "rules".into(),
                target,
            };
            let mut card = base_card;
            card["algo"] = json!("rules");
            card["grid"] = json!(tried);
            card["calibration_runs"] = json!(runs.len());
            card["seconds"] = json!(started.elapsed().as_secs_f64());
            for (name, value) in [("spec.json", json!(spec)), ("card.json", card.clone())] {
                let path = out.join(name);
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n",
                )
                .map_err(|e| TrainError::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            }
            return Ok(card);
        }
        Learner::Ppo(config) => {
            let config = PpoConfig {
                seed: job.seed,
                ..config.clone()
            };
            (
                Algo::Ppo,
                train_ppo(setup, &config, progress)?,
                json!(config),
            )
        }
        Learner::Dqn(config) => {
            let config = DqnConfig {
                seed: job.seed,
                ..config.clone()
            };
            (
                Algo::Dqn,
                train_dqn(setup, &config, progress)?,
                json!(config),
            )
        }
    };
    let mut card = base_card;
    card["algo"] = json!(algo);
    card["settings"] = settings;
    card["history"] = json!(trained.history);
    card["seconds"] = json!(started.elapsed().as_secs_f64());
    save_policy(out, algo, &trained, job.remedies, &card)?;
    Ok(card)
}

/// `n` training episodes drawn like the learners' (same traces, scenario and episode length).
#[must_use]
pub fn calibration_runs(setup: &TrainingSetup, seed: u64, n: usize) -> Vec<EpisodeSpec> {
    let mut rng = schemas::rng::Rng::new(seed ^ 0xCA11);
    (0..n).map(|_| setup.draw(&mut rng)).collect()
}
