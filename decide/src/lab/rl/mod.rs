//! Reinforcement learning on the twin: [`train_ppo`] and [`train_dqn`] (double DQN with a shared replay
//! buffer fed by parallel actor threads), both in candle, and [`LearnedPolicy`], which loads what they
//! saved and acts as a [`Controller`](crate::lab::control::Controller).

mod dqn;
pub mod env;
pub mod features;
mod net;
mod policy;
mod ppo;

pub use dqn::{DqnConfig, train_dqn};
pub use env::{Env, TrainingSetup};
pub use net::{Mlp, PlainMlp};
pub use policy::{Algo, LearnedPolicy, PolicySpec, save_policy};
pub use ppo::{PpoConfig, train_ppo};

pub use crate::net::{masked_argmax, masked_softmax};
use serde::Serialize;

/// Why training or loading failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Candle failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// A setting that does not apply to the learner.
    #[error("{0}")]
    Setting(String),
    /// Files could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One round of training, reported to the progress callback and kept in the card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Round number (1-based).
    pub iteration: usize,
    /// Rounds in total.
    pub iterations: usize,
    /// Mean reward per agent-step in the round's experience.
    pub mean_reward: f32,
    /// Episodes finished in the round.
    pub episodes: usize,
    /// Policy loss (PPO) or TD loss (DQN).
    pub loss: f32,
    /// Value loss (PPO; 0 for DQN).
    pub value_loss: f32,
    /// Policy entropy (PPO) or exploration ε (DQN).
    pub entropy: f32,
}

/// A trained network and how it got there.
pub struct Trained {
    /// Its variables.
    pub varmap: candle_nn::VarMap,
    /// The name of the network that acts (`policy` for PPO, `q` for DQN).
    pub network: String,
    /// Layer sizes of that network.
    pub sizes: Vec<usize>,
    /// Per-round progress.
    pub history: Vec<Progress>,
}
