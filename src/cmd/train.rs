//! `medic train classifier|policy`.

use std::process::ExitCode;

/// The flags of `medic train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
enum Target {
    /// Fine-tune the fault classifier (all-MiniLM-L6-v2 top layers + head) on labelled JSONL evidence.
    Classifier(super::classify::TrainArgs),
    /// Train a remediation policy on the digital twin (PPO, distributed double DQN), or calibrate the
    /// threshold rules; writes model.safetensors, spec.json and card.json.
    Policy(super::policy::TrainArgs),
}

/// Trains the model.
///
/// # Errors
/// As the target's training.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.target {
        Target::Classifier(args) => super::classify::train_command(&args),
        Target::Policy(args) => super::policy::train_command(&args),
    }
}
