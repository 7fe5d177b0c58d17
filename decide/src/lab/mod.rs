//! The policy lab (cargo feature `lab`): what the decision policies are trained and measured on. Only
//! commands reach it (`medic train policy`, `medic eval policy`, `medic policy simulate`, replay
//! counterfactuals, `medic demo`'s twin); the streaming stage does not need it.
//!
//! ```text
//!  twin/        digital twin: nodes, deployments, scheduler, kubelet, faults from scenarios, M/M/1
//!               latency, SLA; emits real-format CRI logs and Kubernetes Events (twin::logs)
//!  control/     the Controller trait and the episode loop (twin ⇄ controller ⇄ arbiter)
//!  baselines/   Kubernetes HPA (+ kubelet back-off, taint eviction), calibrated threshold rules, manual
//!  rl/          PPO and distributed double DQN in candle; LearnedPolicy loads what they saved
//!  arbitration  the safety layer every non-Kubernetes policy passes through, with explanations
//!  objective    the reward and the scores an episode is judged by
//!  evaluate     seeds, 95 % intervals, policy loading;  training: `medic train policy`;  speed: `medic bench twin`
//! ```

pub mod arbitration;
pub mod baselines;
pub mod control;
pub mod evaluate;
pub mod objective;
pub mod rl;
pub mod speed;
pub mod training;
pub mod twin;
