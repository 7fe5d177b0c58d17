//! `medic eval classifier|policy`: a model scored against its baselines, as JSON.

use std::process::ExitCode;

/// The flags of `medic eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
enum Target {
    /// Run a policy on the digital twin and print JSON: sla_violation_minutes, mttr_s,
    /// mean_cpu_utilisation, replica_minutes, actions, escalations (means over seeds, with 95 % intervals).
    Policy(super::policy::EvalArgs),
    /// Per-class precision/recall/F1, macro-F1 and accuracy of the fine-tuned transformer and of the
    /// baselines (keyword rules, TF-IDF + logistic regression, frozen embeddings + logistic regression).
    Classifier(super::classify::EvalArgs),
}

/// Scores the model.
///
/// # Errors
/// As the target's evaluation.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.target {
        Target::Policy(args) => super::policy::eval_command(&args),
        Target::Classifier(args) => super::classify::eval_command(&args),
    }
}
