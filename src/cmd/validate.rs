//! `medic validate`: loads a pipeline file as `medic run` would and reports every problem with its line
//! (exit 2), or a one-line summary.

use crate::config::load_pipeline;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `medic validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file.
    pub pipeline: PathBuf,
}

/// Checks the pipeline file.
///
/// # Errors
/// [`crate::config::ConfigError`] with every problem.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = load_pipeline(Some(&args.pipeline), std::env::vars())?.config;
    println!(
        "{}: ok ({} source topic(s), {} internal topics, actuator mode {})",
        args.pipeline.display(),
        config.ingest.sources.len(),
        config.topics.named().len(),
        config.act.mode.as_str()
    );
    Ok(ExitCode::SUCCESS)
}
