//! Proximal policy optimisation: clipped surrogate objective, generalised advantage estimation, an
//! entropy bonus; separate policy and value networks; masked actions.

use super::env::{Env, TrainingSetup};
use super::features::{N_ACTIONS, N_FEATURES};
use super::net::{Mlp, adam, rows_tensor};
use super::{Progress, TrainError, Trained, masked_softmax};
use candle_core::{D, Device, Tensor};
use candle_nn::{Optimizer, VarMap};
use schemas::rng::Rng;
use std::sync::Arc;

/// PPO's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PpoConfig {
    /// Rollout + update rounds.
    pub iterations: usize,
    /// Environment steps per rollout (each gives one sample per deployment).
    pub rollout_steps: usize,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Samples per gradient step.
    pub minibatch: usize,
    /// Discount per step.
    pub gamma: f32,
    /// GAE λ.
    pub lambda: f32,
    /// Ratio clip ε.
    pub clip: f32,
    /// Entropy bonus coefficient.
    pub entropy: f32,
    /// Value-loss coefficient.
    pub value_coef: f32,
    /// Learning rate.
    pub lr: f64,
    /// Hidden units per layer (two layers).
    pub hidden: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            iterations: 120,
            rollout_steps: 2_048,
            epochs: 4,
            minibatch: 512,
            gamma: 0.98,
            lambda: 0.95,
            clip: 0.2,
            entropy: 0.01,
            value_coef: 0.5,
            lr: 3e-4,
            hidden: 64,
            seed: 7,
        }
    }
}

struct Sample {
    obs: [f32; N_FEATURES],
    mask: [bool; N_ACTIONS],
    action: usize,
    logp: f32,
    value: f32,
    reward: f32,
    done: bool,
}

/// Trains a PPO policy on `setup`; `progress` is called after every iteration.
///
/// # Errors
/// Candle errors.
pub fn train_ppo(
    setup: Arc<TrainingSetup>,
    config: &PpoConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Trained, TrainError> {
    let mut rng = Rng::new(config.seed);
    let varmap = VarMap::new();
    let sizes = [N_FEATURES, config.hidden, config.hidden, N_ACTIONS];
    let policy = Mlp::new(&varmap, "policy", &sizes, &mut rng, 0.01)?;
    let value = Mlp::new(
        &varmap,
        "value",
        &[N_FEATURES, config.hidden, config.hidden, 1],
        &mut rng,
        1.0,
    )?;
    let mut optimiser = adam(&varmap, config.lr)?;
    let mut env = Env::new(setup, rng.next_u64());
    let agents = env.agents();
    let mut history = Vec::new();
    for iteration in 0..config.iterations {
        let (plain_policy, plain_value) = (policy.to_plain()?, value.to_plain()?);
        let mut streams: Vec<Vec<Sample>> = (0..agents)
            .map(|_| Vec::with_capacity(config.rollout_steps))
            .collect();
        let mut episodes = 0;
        for _ in 0..config.rollout_steps {
            let observations = env.observations();
            let mut actions = Vec::with_capacity(agents);
            let mut pending = Vec::with_capacity(agents);
            for (obs, mask) in &observations {
                let probs = masked_softmax(&plain_policy.forward(obs), mask);
                let action = rng.weighted(&probs);
                actions.push(action);
                pending.push((
                    action,
                    probs[action].max(1e-8).ln(),
                    plain_value.forward(obs)[0],
                ));
            }
            let outcome = env.step(&actions);
            episodes += usize::from(outcome.done);
            for (a, ((obs, mask), (action, logp, v))) in
                observations.into_iter().zip(pending).enumerate()
            {
                streams[a].push(Sample {
                    obs,
                    mask,
                    action,
                    logp,
                    value: v,
                    reward: outcome.rewards[a],
                    done: outcome.done,
                });
            }
        }
        let last: Vec<f32> = env
            .observations()
            .iter()
            .map(|(o, _)| plain_value.forward(o)[0])
            .collect();
        let (mut advantages, mut returns) = (Vec::new(), Vec::new());
        for (a, stream) in streams.iter().enumerate() {
            let (adv, ret) = gae(stream, last[a], config.gamma, config.lambda);
            advantages.extend(adv);
            returns.extend(ret);
        }
        let samples: Vec<&Sample> = streams.iter().flatten().collect();
        let mean_reward = samples.iter().map(|s| s.reward).sum::<f32>() / samples.len() as f32;
        let (mean, std) = mean_std(&advantages);
        let advantages: Vec<f32> = advantages
            .iter()
            .map(|a| (a - mean) / (std + 1e-8))
            .collect();
        let mut losses = (0.0, 0.0, 0.0, 0usize);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        for _ in 0..config.epochs {
            shuffle(&mut order, &mut rng);
            for chunk in order.chunks(config.minibatch) {
                let obs = rows_tensor(
                    &chunk
                        .iter()
                        .map(|i| samples[*i].obs.to_vec())
                        .collect::<Vec<_>>(),
                    N_FEATURES,
                )?;
                let mask_bias = rows_tensor(
                    &chunk
                        .iter()
                        .map(|i| {
                            samples[*i]
                                .mask
                                .iter()
                                .map(|m| if *m { 0.0 } else { -1e9 })
                                .collect()
                        })
                        .collect::<Vec<_>>(),
                    N_ACTIONS,
                )?;
                let one_hot = rows_tensor(
                    &chunk
                        .iter()
                        .map(|i| {
                            (0..N_ACTIONS)
                                .map(|a| f32::from(u8::from(a == samples[*i].action)))
                                .collect()
                        })
                        .collect::<Vec<_>>(),
                    N_ACTIONS,
                )?;
                let column = |f: &dyn Fn(usize) -> f32| {
                    Tensor::from_vec(
                        chunk.iter().map(|i| f(*i)).collect::<Vec<f32>>(),
                        chunk.len(),
                        &Device::Cpu,
                    )
                };
                let old_logp = column(&|i| samples[i].logp)?;
                let adv = column(&|i| advantages[i])?;
                let ret = column(&|i| returns[i])?;
                let logits = policy.forward(&obs)?.broadcast_add(&mask_bias)?;
                let logp_all = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
                let logp = (&logp_all * &one_hot)?.sum(1)?;
                let ratio = (logp - old_logp)?.exp()?;
                let clipped = ratio.clamp(1.0 - config.clip, 1.0 + config.clip)?;
                let surrogate = (&ratio * &adv)?.minimum(&(clipped * &adv)?)?;
                let policy_loss = surrogate.mean_all()?.neg()?;
                let entropy = (logp_all.exp()? * &logp_all)?.sum(1)?.mean_all()?.neg()?;
                let v = value.forward(&obs)?.squeeze(1)?;
                let value_loss = (v - ret)?.sqr()?.mean_all()?;
                let loss = ((&policy_loss + (&value_loss * f64::from(config.value_coef))?)?
                    - (&entropy * f64::from(config.entropy))?)?;
                optimiser.backward_step(&loss)?;
                losses.0 += policy_loss.to_scalar::<f32>()?;
                losses.1 += value_loss.to_scalar::<f32>()?;
                losses.2 += entropy.to_scalar::<f32>()?;
                losses.3 += 1;
            }
        }
        let n = losses.3.max(1) as f32;
        let report = Progress {
            iteration: iteration + 1,
            iterations: config.iterations,
            mean_reward,
            episodes,
            loss: losses.0 / n,
            value_loss: losses.1 / n,
            entropy: losses.2 / n,
        };
        progress(&report);
        history.push(report);
    }
    Ok(Trained {
        varmap,
        network: "policy".into(),
        sizes: sizes.to_vec(),
        history,
    })
}

/// Advantages and returns of one agent's stream (GAE), bootstrapped with `last_value`.
fn gae(stream: &[Sample], last_value: f32, gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
    let mut advantages = vec![0.0; stream.len()];
    let mut running = 0.0;
    for t in (0..stream.len()).rev() {
        let s = &stream[t];
        let next_value = if s.done {
            0.0
        } else {
            stream.get(t + 1).map_or(last_value, |n| n.value)
        };
        let alive = if s.done { 0.0 } else { 1.0 };
        let delta = s.reward + gamma * next_value - s.value;
        running = delta + gamma * lambda * alive * running;
        advantages[t] = running;
    }
    let returns = advantages
        .iter()
        .zip(stream)
        .map(|(a, s)| a + s.value)
        .collect();
    (advantages, returns)
}

fn mean_std(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

pub(crate) fn shuffle(order: &mut [usize], rng: &mut Rng) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(reward: f32, value: f32, done: bool) -> Sample {
        Sample {
            obs: [0.0; N_FEATURES],
            mask: [true; N_ACTIONS],
            action: 0,
            logp: 0.0,
            value,
            reward,
            done,
        }
    }

    #[test]
    fn gae_matches_hand_computation_and_stops_at_episode_end() {
        let stream = [
            sample(1.0, 0.5, false),
            sample(2.0, 0.25, true),
            sample(4.0, 1.0, false),
        ];
        let (adv, ret) = gae(&stream, 2.0, 0.5, 1.0);
        // t=2: 4 + 0.5*2 - 1 = 4; t=1 (done): 2 - 0.25 = 1.75; t=0: 1 + 0.5*0.25 - 0.5 + 0.5*1.75 = 1.5
        assert_eq!(adv, vec![1.5, 1.75, 4.0]);
        assert_eq!(ret, vec![2.0, 2.0, 5.0]);
    }
}
