//! The classifier lab (cargo feature `lab`): what `medic train classifier`, `medic eval classifier` and
//! `medic bench classify` run. The streaming stage does not need it.
//!
//! ```text
//!  calibration  temperature scaling of the n-gram model from out-of-fold scores
//!  corpus       labelled samples (JSONL), the stratified dev split
//!  cv           grouped K-fold cross-validation: mean ± sd macro-F1 per model and domain
//!  metrics      accuracy, macro-F1, per-class scores, calibration (ECE)
//!  ngram_card   the model card of a shipped n-gram classifier, with its cross-validation table
//!  baselines/   keyword rules, TF-IDF + logistic regression or linear SVMs, frozen embeddings + logreg
//!  speed        classifier throughput against the plain encoder
//!  workload     a workload's parts (a YARN application's containers) pooled and classified as one
//! ```
//!
//! Fine-tuning itself is [`crate::transformer::train()`], beside the network it trains.

pub mod baselines;
pub mod calibration;
pub mod corpus;
pub mod cv;
pub mod metrics;
pub mod ngram_card;
pub mod speed;
pub mod workload;
