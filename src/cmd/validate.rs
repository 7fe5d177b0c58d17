//! `medic validate`: loads a pipeline file as `medic run` would and reports every problem with its line
//! (exit 2), or a one-line summary after any deprecation warnings (on stderr).

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
    let loaded = load_pipeline(Some(&args.pipeline), std::env::vars())?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let config = loaded.config;
    println!(
        "{}: ok ({} source topic(s), {} internal topics, actuator mode {})",
        args.pipeline.display(),
        config.ingest.sources.len(),
        config.topics.named().len(),
        config.act.mode.as_str()
    );
    Ok(ExitCode::SUCCESS)
}
