//! `medic schemas`: the JSON Schema of every record medic puts on a topic, printed or written to files.

use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `medic schemas`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `<kind>.schema.json` files into this directory instead of printing.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Prints or writes the schemas.
///
/// # Errors
/// An unwritable output directory.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    for kind in schemas::RecordKind::ALL {
        let text = serde_json::to_string_pretty(&kind.json_schema())? + "\n";
        match &args.out {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                std::fs::write(dir.join(format!("{}.schema.json", kind.as_str())), text)?;
            }
            None => print!("{text}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
