//! One module per `medic` subcommand, each owning its flags (`Args`) and its `run`; `cli.rs` only
//! dispatches. Shared here: printing a JSON result and the tokio runtime of the async commands.

pub mod act;
pub mod bench;
pub mod classify;
pub mod decode;
pub mod demo;
pub mod eval;
pub mod explain;
pub mod kafka;
pub mod parse;
pub mod policy;
pub mod receive;
pub mod replay;
pub mod run;
pub mod schemas;
pub mod topic;
pub mod train;
pub mod validate;

use std::process::ExitCode;

/// Prints `value` as pretty JSON on stdout: the result of a measuring or scoring command.
///
/// # Errors
/// When `value` cannot be serialised.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// The multi-threaded tokio runtime the async commands run on.
///
/// # Errors
/// When the runtime cannot be built.
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
