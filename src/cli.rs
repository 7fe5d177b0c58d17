//! The command line: the subcommand enum and its dispatch. Each subcommand lives in `cmd/<command>.rs`
//! with its own `Args` and `run(args) -> anyhow::Result<ExitCode>`.
//!
//! | group | commands |
//! |---|---|
//! | the pipeline | `run`, `validate`, `demo`, `replay`, `explain`, `topic cat`, `schemas` |
//! | one stage on files | `decode` (ingest), `parse` (enrich's miner), `classify` (diagnose) |
//! | models | `train classifier\|policy`, `eval classifier\|policy`, `simulate` |
//! | operators | `act keygen\|public-keys\|sign\|apply`, `kafka acls\|create-topics` |
//! | measurement | `bench ingest\|parse\|classify\|twin\|e2e` |

use crate::cmd;
use crate::config::ConfigError;
use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// medic: a self-healing infrastructure pipeline. Logs in; diagnoses, decisions and safe remediations out.
#[derive(Debug, Parser)]
#[command(name = "medic", version, about, long_about = None)]
pub struct Cli {
    /// How medic writes its own logs (stderr): `text` for people, `json` for log shippers.
    #[arg(long, value_enum, default_value_t = LogStyle::Text, global = true)]
    log_style: LogStyle,
    #[command(subcommand)]
    command: Command,
}

/// How medic writes its own logs.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogStyle {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole loop in one process on the embedded default pipeline, with an in-process Kafka
    /// broker, fed with a bundled incident; prints the timeline. Needs no external service.
    Demo(cmd::demo::Args),
    /// Run pipeline stages against Kafka until SIGTERM/SIGINT (then drain, commit and exit 0).
    Run(cmd::run::Args),
    /// Receive what a cloud log service pushes over HTTP (`firehose`: Kinesis Data Firehose's HTTP
    /// endpoint destination; `pubsub-push`: a Pub/Sub push subscription) and write it to a source topic,
    /// answering only once Kafka acknowledged it.
    Receive(cmd::receive::Args),
    /// Check a pipeline file and report every problem, with line numbers.
    Validate(cmd::validate::Args),
    /// Decode log envelopes from a file (or standard input) with the ingest stage: normalised records as
    /// JSON lines on stdout; refused inputs and a JSON summary on stderr. Exit 0 when the input was read
    /// (even with bad records), 2 when it could not be.
    Decode(cmd::decode::Args),
    /// Mine templates from a log file (Loghub-style header) and write `LineId,EventId,EventTemplate`.
    Parse(cmd::parse::Args),
    /// Train a model.
    Train(cmd::train::Args),
    /// Score a model against its baselines and print JSON.
    Eval(cmd::eval::Args),
    /// Classify evidence samples with the fine-tuned transformer: `{"id","lines":[…]}` per input line,
    /// `{"id","fault","severity","confidence"}` per output line, same order.
    Classify(cmd::classify::Args),
    /// Run one policy on the digital twin and write what happened: real-format container logs and
    /// Kubernetes Events (for ingest), every decision with its explanation, and the report.
    Simulate(cmd::policy::SimulateArgs),
    /// Replay a historical incident through the whole pipeline (in-process broker, actuator in log
    /// mode) with its original event times; optionally score policies on the digital twin and write
    /// an HTML report.
    Replay(cmd::replay::Args),
    /// Operator verbs on remediation commands: `keygen`, `sign`, `apply` (the same checks as the
    /// actuation topic).
    Act(cmd::act::Args),
    /// Least privilege on the brokers: `acls` (what each stage's principal may do), `create-topics`.
    Kafka(cmd::kafka::Args),
    /// Print the provenance chain of a command, read back from the topics: its results, the decision
    /// and policy, the diagnosis and model, the evidence window, template ids and the raw records.
    Explain(cmd::explain::Args),
    /// Read a topic as JSON lines (`cat`): every record, the ones packed in frames on the per-line
    /// topics included.
    Topic(cmd::topic::Args),
    /// Measure throughput and print JSON.
    Bench(cmd::bench::Args),
    /// Print (or write) the JSON Schema of every record medic puts on a topic.
    Schemas(cmd::schemas::Args),
}

fn init_logging(style: LogStyle, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MEDIC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match style {
        LogStyle::Text => builder.init(),
        LogStyle::Json => builder.json().init(),
    }
}

fn report(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Parses the command line, runs the command and maps its outcome to the exit code: the command's own,
/// 2 for an invalid pipeline file, 1 for any other error.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Demo(_) | Command::Replay(_) => "warn",
        _ => "info,rdkafka=warn",
    };
    init_logging(cli.log_style, default_level);
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(&args),
        Command::Run(args) => cmd::run::run(args),
        Command::Receive(args) => cmd::receive::run(&args),
        Command::Validate(args) => cmd::validate::run(&args),
        Command::Decode(args) => cmd::decode::run(&args),
        Command::Parse(args) => cmd::parse::run(&args),
        Command::Train(args) => cmd::train::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Classify(args) => cmd::classify::run(&args),
        Command::Simulate(args) => cmd::policy::simulate_command(&args),
        Command::Replay(args) => cmd::replay::run(&args),
        Command::Act(args) => cmd::act::run(args),
        Command::Kafka(args) => cmd::kafka::run(args),
        Command::Explain(args) => cmd::explain::run(&args),
        Command::Topic(args) => cmd::topic::run(&args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Schemas(args) => cmd::schemas::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            report(&error);
            if error.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
