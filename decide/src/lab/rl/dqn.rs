//! Distributed double DQN: `actors` threads, each with its own environment, act ε-greedily on a snapshot
//! of the online network and push transitions into one shared replay buffer; a single learner samples
//! minibatches, regresses `Q(s, a)` onto `r + γ·Q_target(s', argmax_a' Q_online(s', a'))` (Huber loss) and
//! publishes fresh snapshots; the target network follows every `target_every` updates.

use super::env::{Env, Observation, TrainingSetup};
use super::features::{N_ACTIONS, N_FEATURES};
use super::net::{Mlp, PlainMlp, adam, rows_tensor};
use super::{Progress, TrainError, Trained, masked_argmax};
use candle_core::{Device, Tensor};
use candle_nn::{Optimizer, VarMap};
use schemas::rng::Rng;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// DQN's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DqnConfig {
    /// Environment steps, all actors together.
    pub total_steps: usize,
    /// Actor threads.
    pub actors: usize,
    /// Replay buffer capacity (transitions).
    pub buffer: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Discount per step.
    pub gamma: f32,
    /// Learning rate.
    pub lr: f64,
    /// Learner updates between target-network copies.
    pub target_every: usize,
    /// Learner updates between snapshots for the actors.
    pub publish_every: usize,
    /// Transitions per learner update (replay ratio).
    pub transitions_per_update: usize,
    /// Exploration ε at the start and the end, and the share of the run spent decaying it.
    pub epsilon: (f32, f32, f32),
    /// Transitions collected before learning starts.
    pub learn_start: usize,
    /// Hidden units per layer (two layers).
    pub hidden: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for DqnConfig {
    fn default() -> Self {
        Self {
            total_steps: 240_000,
            actors: 2,
            buffer: 200_000,
            batch: 256,
            gamma: 0.98,
            lr: 5e-4,
            target_every: 500,
            publish_every: 20,
            transitions_per_update: 8,
            epsilon: (1.0, 0.03, 0.4),
            learn_start: 5_000,
            hidden: 64,
            seed: 11,
        }
    }
}

#[derive(Clone)]
struct Transition {
    obs: Observation,
    action: usize,
    reward: f32,
    next: Observation,
    done: bool,
}

struct Replay {
    items: Vec<Transition>,
    capacity: usize,
    next: usize,
    pushed: usize,
    window_reward: f64,
    window_count: usize,
    episodes: usize,
}

impl Replay {
    fn push(&mut self, t: Transition) {
        self.window_reward += f64::from(t.reward);
        self.window_count += 1;
        self.pushed += 1;
        if self.items.len() < self.capacity {
            self.items.push(t);
        } else {
            self.items[self.next] = t;
            self.next = (self.next + 1) % self.capacity;
        }
    }
}

/// Trains a DQN policy on `setup`; `progress` is called every `total_steps / 100` environment steps.
///
/// # Errors
/// Candle errors.
pub fn train_dqn(
    setup: Arc<TrainingSetup>,
    config: &DqnConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Trained, TrainError> {
    let mut rng = Rng::new(config.seed);
    let varmap = VarMap::new();
    let sizes = [N_FEATURES, config.hidden, config.hidden, N_ACTIONS];
    let online = Mlp::new(&varmap, "q", &sizes, &mut rng, 0.1)?;
    let mut optimiser = adam(&varmap, config.lr)?;
    let snapshot = Arc::new(RwLock::new(online.to_plain()?));
    let replay = Arc::new(Mutex::new(Replay {
        items: Vec::with_capacity(config.buffer.min(1 << 20)),
        capacity: config.buffer,
        next: 0,
        pushed: 0,
        window_reward: 0.0,
        window_count: 0,
        episodes: 0,
    }));
    let steps = Arc::new(AtomicUsize::new(0));
    let updates_done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut target = online.to_plain()?;
    let mut history = Vec::new();
    let report_every = (config.total_steps / 100).max(1);
    std::thread::scope(|scope| -> Result<(), TrainError> {
        for actor in 0..config.actors.max(1) {
            let shared = Shared {
                snapshot: snapshot.clone(),
                replay: replay.clone(),
                steps: steps.clone(),
                updates: updates_done.clone(),
                stop: stop.clone(),
            };
            let (setup, seed) = (setup.clone(), rng.next_u64() ^ actor as u64);
            scope.spawn(move || act(setup, seed, config, &shared));
        }
        let mut updates = 0usize;
        let mut next_report = report_every;
        let (mut loss_sum, mut loss_n) = (0.0f32, 0usize);
        loop {
            let done_steps = steps.load(Ordering::Relaxed);
            if done_steps >= config.total_steps {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            let batch = {
                let replay = replay.lock().map_err(|_| {
                    TrainError::Candle(candle_core::Error::Msg("replay poisoned".into()))
                })?;
                let allowed = replay.pushed / config.transitions_per_update.max(1);
                if replay.items.len() < config.learn_start || updates >= allowed {
                    None
                } else {
                    Some(
                        (0..config.batch)
                            .map(|_| replay.items[rng.index(replay.items.len())].clone())
                            .collect::<Vec<_>>(),
                    )
                }
            };
            let Some(batch) = batch else {
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            };
            let current = snapshot.read().map(|s| s.clone()).map_err(|_| {
                TrainError::Candle(candle_core::Error::Msg("snapshot poisoned".into()))
            })?;
            let targets: Vec<f32> = batch
                .iter()
                .map(|t| {
                    if t.done {
                        return t.reward;
                    }
                    let best = masked_argmax(&current.forward(&t.next.0), &t.next.1);
                    t.reward + config.gamma * target.forward(&t.next.0)[best]
                })
                .collect();
            let obs = rows_tensor(
                &batch.iter().map(|t| t.obs.0.to_vec()).collect::<Vec<_>>(),
                N_FEATURES,
            )?;
            let one_hot = rows_tensor(
                &batch
                    .iter()
                    .map(|t| {
                        (0..N_ACTIONS)
                            .map(|a| f32::from(u8::from(a == t.action)))
                            .collect()
                    })
                    .collect::<Vec<_>>(),
                N_ACTIONS,
            )?;
            let q = (online.forward(&obs)? * one_hot)?.sum(1)?;
            let y = Tensor::from_vec(targets, batch.len(), &Device::Cpu)?;
            let error = (q - y)?.abs()?;
            let quadratic = error.minimum(1.0)?;
            let loss = ((quadratic.sqr()? * 0.5)? + (error - quadratic)?)?.mean_all()?;
            optimiser.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()?;
            loss_n += 1;
            updates += 1;
            updates_done.store(updates, Ordering::Relaxed);
            if updates.is_multiple_of(config.publish_every) {
                let fresh = online.to_plain()?;
                if let Ok(mut s) = snapshot.write() {
                    *s = fresh;
                }
            }
            if updates.is_multiple_of(config.target_every) {
                target = online.to_plain()?;
            }
            if done_steps >= next_report {
                next_report += report_every;
                let (reward, episodes) = replay
                    .lock()
                    .map(|mut r| {
                        let mean = (r.window_reward / r.window_count.max(1) as f64) as f32;
                        (r.window_reward, r.window_count) = (0.0, 0);
                        (mean, r.episodes)
                    })
                    .unwrap_or_default();
                let report = Progress {
                    iteration: done_steps / report_every,
                    iterations: 100,
                    mean_reward: reward,
                    episodes,
                    loss: loss_sum / loss_n.max(1) as f32,
                    value_loss: 0.0,
                    entropy: epsilon(config, done_steps),
                };
                (loss_sum, loss_n) = (0.0, 0);
                progress(&report);
                history.push(report);
            }
        }
        Ok(())
    })?;
    Ok(Trained {
        varmap,
        network: "q".into(),
        sizes: sizes.to_vec(),
        history,
    })
}

fn epsilon(config: &DqnConfig, steps: usize) -> f32 {
    let (start, end, share) = config.epsilon;
    let progress = steps as f32 / (config.total_steps as f32 * share).max(1.0);
    start + (end - start) * progress.min(1.0)
}

/// What the actors share with the learner.
struct Shared {
    snapshot: Arc<RwLock<PlainMlp>>,
    replay: Arc<Mutex<Replay>>,
    steps: Arc<AtomicUsize>,
    updates: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// One actor: acts ε-greedily on the latest snapshot, pushes every agent's transition, and waits when it
/// runs ahead of the learner's replay ratio.
fn act(setup: Arc<TrainingSetup>, seed: u64, config: &DqnConfig, shared: &Shared) {
    let Shared {
        snapshot,
        replay,
        steps,
        updates,
        stop,
    } = shared;
    let mut rng = Rng::new(seed);
    let mut env = Env::new(setup, seed);
    let mut net = snapshot.read().map(|s| s.clone()).ok();
    let mut observations = env.observations();
    let mut local = 0usize;
    let agents = observations.len();
    while !stop.load(Ordering::Relaxed) {
        let budget = config.learn_start
            + (updates.load(Ordering::Relaxed) + 64) * config.transitions_per_update;
        if steps.load(Ordering::Relaxed) * agents > budget {
            std::thread::sleep(std::time::Duration::from_micros(200));
            continue;
        }
        let done_steps = steps.fetch_add(1, Ordering::Relaxed);
        if local.is_multiple_of(64)
            && let Ok(s) = snapshot.read()
        {
            net = Some(s.clone());
        }
        local += 1;
        let eps = epsilon(config, done_steps);
        let actions: Vec<usize> = observations
            .iter()
            .map(|(obs, mask)| {
                if rng.unit() < f64::from(eps) || net.is_none() {
                    let allowed: Vec<usize> = (0..N_ACTIONS).filter(|a| mask[*a]).collect();
                    allowed[rng.index(allowed.len())]
                } else {
                    net.as_ref()
                        .map_or(0, |n| masked_argmax(&n.forward(obs), mask))
                }
            })
            .collect();
        let outcome = env.step(&actions);
        let next = env.observations();
        if let Ok(mut replay) = replay.lock() {
            for (a, obs) in observations.iter().enumerate() {
                replay.push(Transition {
                    obs: *obs,
                    action: actions[a],
                    reward: outcome.rewards[a],
                    next: next[a],
                    done: outcome.done,
                });
            }
            replay.episodes += usize::from(outcome.done);
        }
        observations = next;
    }
}
