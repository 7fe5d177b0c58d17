//! `medic kafka acls|create-topics`: what an administrator sets up on the brokers for least privilege —
//! one principal per stage with only the ACLs its wiring needs ([`crate::kafka_acls`]), and the topics,
//! created once with administrator credentials so that the stages need no right to create any.

use crate::kafka_acls::{kafka_acls_commands, stage_acls};
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `medic kafka`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: KafkaCommand,
}

/// `medic kafka …`.
#[derive(Debug, clap::Subcommand)]
pub enum KafkaCommand {
    /// Print the ACLs each stage's principal needs (`User:<prefix><stage>`): its inputs (Read, in its
    /// group), its outputs and the dead-letter topic (Write), the checkpoint topic for stateful stages.
    Acls(AclArgs),
    /// Create the pipeline's missing topics (run with administrator credentials; the stages then run
    /// with `kafka.create_topics = false`).
    CreateTopics {
        /// The pipeline file (default: the embedded default pipeline).
        #[arg(long, short)]
        pipeline: Option<PathBuf>,
    },
}

/// The flags of `medic kafka acls`.
#[derive(Debug, clap::Args)]
pub struct AclArgs {
    /// The pipeline file (default: the embedded default pipeline).
    #[arg(long, short)]
    pipeline: Option<PathBuf>,
    /// Stage principals are `User:<prefix><stage>`.
    #[arg(long, default_value = "medic-")]
    principal_prefix: String,
    /// `kafka-acls` (shell commands for Kafka's `kafka-acls.sh`) or `lines` (`<principal> <operation>
    /// <resource type> <name>` per line, for scripts/kafka/AclApply.java or other tooling).
    #[arg(long, default_value = "kafka-acls")]
    format: AclFormat,
    /// For `kafka-acls`: the administrator's client properties file (`--command-config`).
    #[arg(long, default_value = "admin.properties")]
    command_config: String,
}

/// How `medic kafka acls` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AclFormat {
    /// Shell commands for `kafka-acls.sh`.
    KafkaAcls,
    /// One ACL per line.
    Lines,
}

/// Runs `medic kafka …`.
///
/// # Errors
/// An invalid pipeline, or a broker that refuses to create a topic.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let load = |path: Option<&std::path::Path>| -> anyhow::Result<_> {
        Ok(crate::config::load_pipeline(path, std::env::vars())?
            .warned()
            .config)
    };
    match args.verb {
        KafkaCommand::Acls(args) => {
            let config = load(args.pipeline.as_deref())?;
            let acls = stage_acls(&config, &args.principal_prefix);
            match args.format {
                AclFormat::KafkaAcls => print!(
                    "{}",
                    kafka_acls_commands(&acls, &config.kafka.brokers, &args.command_config)
                ),
                AclFormat::Lines => acls.iter().for_each(|acl| println!("{acl}")),
            }
        }
        KafkaCommand::CreateTopics { pipeline } => {
            let config = load(pipeline.as_deref())?;
            super::tokio_runtime()?.block_on(crate::app::create_topics(&config))?;
            eprintln!(
                "{} topics exist on {}",
                config.all_topics().len(),
                config.kafka.brokers
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
