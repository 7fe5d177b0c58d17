//! `medic act keygen|public-keys|sign|apply`: operator verbs over the same validation path as the actuation topic.

use act::{ActConfig, ActuatorMode, KeyRing};
use anyhow::{Context, anyhow, bail};
use schemas::{Action, ObjectKind, RemediationCommand, Target};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The flags of `medic act`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: ActCommand,
}

/// `medic act …`.
#[derive(Debug, clap::Subcommand)]
pub enum ActCommand {
    /// Print a new private key-file line `<key-id> ed25519 <base64 seed>` (32 random bytes): for the
    /// issuer (`act`) only; the actuator gets its `public-keys`.
    Keygen {
        /// The key id.
        #[arg(long, default_value = "k1")]
        key_id: String,
        /// A symmetric `hmac-sha256` key instead (the actuator then holds a key that can sign).
        #[arg(long)]
        hmac: bool,
    },
    /// Print the verify-only lines (`<key-id> ed25519-public <base64>`) of a key file: the actuator's
    /// key file.
    PublicKeys {
        /// The private key file (`medic act keygen`).
        #[arg(long, env = "MEDIC_COMMAND_KEY_FILE")]
        key_file: PathBuf,
    },
    /// Print a signed command as JSON.
    Sign(SignArgs),
    /// Check and apply one command file, print its `ActionResult` as JSON. Exit 0 when it was logged,
    /// admitted (dry run), verified or was already applied; 1 when applying or verifying failed; 3 when
    /// it was rejected (signature, expiry, replay, allowlist, rate limit, blast radius).
    Apply(ApplyArgs),
}

/// The flags of `medic act sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Key file (`medic act keygen` lines; the first private key signs).
    #[arg(long, env = "MEDIC_COMMAND_KEY_FILE")]
    key_file: PathBuf,
    /// Sign with this key id instead of the file's first.
    #[arg(long)]
    key_id: Option<String>,
    /// `<kind>/<namespace>/<name>` (deployment, statefulset, pod) or `node/<name>`.
    #[arg(long)]
    target: String,
    /// `scale`, `restart`, `delete-pod`, `rollback`, `cordon` or `drain`.
    #[arg(long)]
    action: String,
    /// For `scale`: the replica count.
    #[arg(long)]
    replicas: Option<u32>,
    /// For `delete-pod` on a workload target: the pod.
    #[arg(long)]
    pod: Option<String>,
    /// Seconds the command stays valid.
    #[arg(long, default_value_t = 600)]
    ttl_secs: u64,
    /// Why (recorded on the command and its result).
    #[arg(long, default_value = "operator command")]
    reason: String,
    /// Command id and idempotency key (default: generated).
    #[arg(long)]
    id: Option<String>,
}

/// The flags of `medic act apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// `log` (no API call), `server-dry-run` or `apply`.
    #[arg(long, default_value = "log")]
    mode: ActuatorMode,
    /// Kubeconfig (default: `KUBECONFIG`, `~/.kube/config`, in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Key file the signature is checked against.
    #[arg(long, env = "MEDIC_COMMAND_KEY_FILE")]
    key_file: PathBuf,
    /// Journal of handled idempotency keys (default in apply mode:
    /// `$HOME/.local/state/medic/actuator.journal`).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Pipeline file whose `[act]` section sets the safety limits and verification timeouts.
    #[arg(long, short)]
    pipeline: Option<PathBuf>,
    /// The command (JSON); `-` for standard input.
    command: PathBuf,
}

/// Runs `medic act …`.
///
/// # Errors
/// Unreadable keys or command files, bad flags, an unusable cluster configuration.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.verb {
        ActCommand::Keygen { key_id, hmac } => {
            let line = if hmac {
                KeyRing::generate_hmac_line(&key_id)
            } else {
                KeyRing::generate_line(&key_id)
            };
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        ActCommand::PublicKeys { key_file } => {
            print!("{}", KeyRing::from_file(&key_file)?.public_lines()?);
            Ok(ExitCode::SUCCESS)
        }
        ActCommand::Sign(args) => {
            let command = sign(&args)?;
            println!("{}", serde_json::to_string_pretty(&command)?);
            Ok(ExitCode::SUCCESS)
        }
        ActCommand::Apply(args) => apply(&args),
    }
}

fn sign(args: &SignArgs) -> anyhow::Result<RemediationCommand> {
    let mut keys = KeyRing::from_file(&args.key_file)?;
    if let Some(id) = &args.key_id {
        keys = keys.signing_with(id)?;
    }
    let mut target = parse_target(&args.target)?;
    let action = parse_action(&args.action, args.replicas)?;
    if let Some(pod) = &args.pod {
        target.pod = Some(pod.clone());
    }
    schemas::actuate::subject(&target, action).map_err(|e| anyhow!(e))?;
    let id = args.id.clone().unwrap_or_else(act::new_command_id);
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Ok(act::direct_command(
        &keys.signer()?,
        &id,
        target,
        action,
        args.ttl_secs,
        &args.reason,
        &format!("operator:{operator}"),
    ))
}

fn apply(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let mut config: ActConfig = match &args.pipeline {
        Some(path) => {
            crate::config::load_pipeline(Some(path), std::env::vars())?
                .warned()
                .config
                .act
        }
        None => ActConfig::default(),
    };
    config.mode = args.mode;
    config.keys_file = Some(args.key_file.clone());
    config.kubeconfig.clone_from(&args.kubeconfig);
    config.journal = args.journal.clone().or(config.journal).or_else(|| {
        (args.mode == ActuatorMode::Apply)
            .then(default_journal)
            .flatten()
    });
    if let Some(parent) = config.journal.as_deref().and_then(Path::parent) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = if args.command.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.command)
            .with_context(|| format!("cannot read {}", args.command.display()))?
    };
    let command: RemediationCommand = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a command", args.command.display()))?;
    let mut actuator = config.build_actuator().map_err(|problems| {
        anyhow!(
            "cannot start the actuator:\n{}",
            schemas::config::describe(&problems)
        )
    })?;
    match actuator.handle(command) {
        Ok(handled) => {
            println!("{}", serde_json::to_string_pretty(&handled.result)?);
            Ok(match handled.result.outcome {
                schemas::ActionOutcome::Failed => ExitCode::FAILURE,
                schemas::ActionOutcome::Rejected => ExitCode::from(3),
                _ => ExitCode::SUCCESS,
            })
        }
        Err(refused) => {
            let report = serde_json::json!({
                "refused": refused.reason,
                "kind": refused.error.kind.as_str(),
                "error": refused.error.reason,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::from(3))
        }
    }
}

fn default_journal() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".local/state/medic/actuator.journal"))
}

/// Parses `<kind>/<namespace>/<name>` or `node/<name>`.
fn parse_target(text: &str) -> anyhow::Result<Target> {
    let parts: Vec<&str> = text.split('/').collect();
    let kind = match parts[0].to_ascii_lowercase().as_str() {
        "deployment" | "deploy" => ObjectKind::Deployment,
        "statefulset" | "sts" => ObjectKind::StatefulSet,
        "pod" => ObjectKind::Pod,
        "node" => ObjectKind::Node,
        other => bail!(
            "unknown kind {other:?} in --target; expected deployment, statefulset, pod or node"
        ),
    };
    let (namespace, name) = match (kind, parts.as_slice()) {
        (ObjectKind::Node, [_, name]) => (None, *name),
        (ObjectKind::Node, _) => bail!("--target for a node is node/<name>"),
        (_, [_, ns, name]) => (Some((*ns).to_owned()), *name),
        _ => bail!("--target is <kind>/<namespace>/<name>, got {text:?}"),
    };
    if name.is_empty() || namespace.as_deref() == Some("") {
        bail!("--target {text:?} has an empty part");
    }
    Ok(Target::object(kind, namespace.as_deref(), name))
}

fn parse_action(action: &str, replicas: Option<u32>) -> anyhow::Result<Action> {
    Ok(match (action, replicas) {
        ("scale", Some(replicas)) => Action::ScaleTo { replicas },
        ("scale", None) => bail!("--action scale needs --replicas N"),
        (_, Some(_)) => bail!("--replicas only goes with --action scale"),
        ("restart", _) => Action::RolloutRestart,
        ("delete-pod", _) => Action::RestartPod,
        ("rollback", _) => Action::Rollback,
        ("cordon", _) => Action::CordonNode,
        ("drain", _) => Action::DrainNode,
        (other, _) => bail!(
            "unknown --action {other:?}; expected scale, restart, delete-pod, rollback, cordon or drain"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_actions_parse() {
        let t = parse_target("deployment/shop/checkout").expect("deployment");
        assert_eq!(
            (t.kind, t.namespace.as_deref(), t.name.as_str()),
            (ObjectKind::Deployment, Some("shop"), "checkout")
        );
        let n = parse_target("node/worker-1").expect("node");
        assert_eq!((n.kind, n.namespace), (ObjectKind::Node, None));
        assert!(parse_target("node/a/b").is_err());
        assert!(parse_target("deployment/checkout").is_err());
        assert!(parse_target("job/a/b").is_err());
        assert_eq!(
            parse_action("scale", Some(3)).expect("scale"),
            Action::ScaleTo { replicas: 3 }
        );
        assert!(parse_action("scale", None).is_err());
        assert!(parse_action("drain", Some(1)).is_err());
        assert_eq!(
            parse_action("delete-pod", None).expect("delete"),
            Action::RestartPod
        );
        assert!(parse_action("reboot", None).is_err());
    }
}
