//! The command line: `medic demo | run | validate | schemas`.

use crate::app::run_stages;
use crate::config::{ConfigError, load_pipeline};
use crate::demo::{DemoOptions, run_demo};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::stages::StageName;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    Demo {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 100)]
        timeout_secs: u64,
    },
    /// Run pipeline stages against Kafka until SIGTERM/SIGINT (then drain, commit and exit 0).
    Run {
        /// Pipeline file, layered over the embedded default (env MEDIC__SECTION__KEY overrides both).
        #[arg(long, short)]
        pipeline: Option<PathBuf>,
        /// Stage to run (repeatable). Default: every stage in this process.
        #[arg(long = "stage", short = 's')]
        stages: Vec<StageName>,
    },
    /// Check a pipeline file and report every problem, with line numbers.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Decode log envelopes from a file (or standard input) with the ingest stage: normalised records as
    /// JSON lines on stdout; refused inputs and a JSON summary on stderr. Exit 0 when the input was read
    /// (even with bad records), 2 when it could not be.
    Decode {
        /// Envelope format: auto, cri, docker_json, k8s_event, json_line, plain_text, cloudwatch,
        /// gcp_log_entry, azure_resource_logs.
        #[arg(long, default_value = "auto")]
        format: ingest::Format,
        /// File to read; `-` or none for standard input. A file holding one JSON document (or one gzip
        /// stream) is one input; otherwise each line is one input.
        input: Option<PathBuf>,
    },
    /// Mine templates from a log file (Loghub-style header) and write `LineId,EventId,EventTemplate`.
    Parse {
        /// The header of each line, e.g. `<Date> <Time> <Level> <Component>: <Content>`; the message is
        /// `<Content>`; lines that do not match are parsed whole.
        #[arg(long)]
        log_format: String,
        /// The log file.
        #[arg(long)]
        input: PathBuf,
        /// The CSV to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Train a model.
    Train {
        #[command(subcommand)]
        target: TrainTarget,
    },
    /// Score a model against its baselines and print JSON.
    Eval {
        #[command(subcommand)]
        target: EvalTarget,
    },
    /// Classify evidence samples with the fine-tuned transformer: `{"id","lines":[…]}` per input line,
    /// `{"id","fault","severity","confidence"}` per output line, same order.
    Classify {
        /// Classifier directory (default: `models/classifier`).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Directory of the pretrained base encoder (default: resolved, see README).
        #[arg(long, env = "MEDIC_BASE_MODEL")]
        base_model: Option<PathBuf>,
        /// Input JSONL.
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL.
        #[arg(long)]
        output: PathBuf,
    },
    /// Run one policy on the digital twin and write what happened: real-format container logs and
    /// Kubernetes Events (for ingest), every decision with its explanation, and the report.
    Simulate {
        /// `hpa`, `manual`, `rules`, `ppo`, `dqn` or a policy directory.
        #[arg(long, default_value = "ppo")]
        policy: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        twin: crate::policy_cmd::TwinArgs,
    },
    /// Replay a historical incident through the whole pipeline (in-process broker, actuator in log
    /// mode) with its original event times; optionally score policies on the digital twin and write
    /// an HTML report.
    Replay(crate::replay_cmd::ReplayArgs),
    /// Operator verbs on remediation commands: `keygen`, `sign`, `apply` (the same checks as the
    /// actuation topic).
    Act {
        #[command(subcommand)]
        verb: crate::act_cmd::ActCommand,
    },
    /// Print the provenance chain of a command, read back from the topics: its results, the decision
    /// and policy, the diagnosis and model, the evidence window, template ids and the raw records.
    Explain {
        /// The command id.
        command_id: String,
        /// Pipeline file (brokers and topic names), layered over the embedded default.
        #[arg(long, short)]
        pipeline: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Give up reading after this many seconds.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
    },
    /// Measure throughput and print JSON.
    Bench {
        #[command(subcommand)]
        target: BenchTarget,
    },
    /// Print (or write) the JSON Schema of every record medic puts on a topic.
    Schemas {
        /// Write `<kind>.schema.json` files into this directory instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TrainTarget {
    /// Fine-tune the fault classifier (all-MiniLM-L6-v2 top layers + head) on labelled JSONL evidence.
    Classifier {
        /// A `.jsonl` file or a directory of them (`{"id","lines":[…],"label"}` per line); repeatable.
        #[arg(long, default_value = "../shared/data/classify")]
        data: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "models/classifier")]
        out: PathBuf,
        /// Directory of the pretrained base encoder (default: resolved, see README).
        #[arg(long, env = "MEDIC_BASE_MODEL")]
        base_model: Option<PathBuf>,
        /// Seed of the split, initialisation, shuffling and dropout.
        #[arg(long, default_value_t = 17)]
        seed: u64,
        /// Encoder layers to fine-tune (of 6).
        #[arg(long, default_value_t = 1)]
        upper_layers: usize,
        /// Epochs at most (early stopping on dev macro-F1).
        #[arg(long, default_value_t = 40)]
        epochs: usize,
        /// Epochs that tune the encoder layers (later ones train the head alone).
        #[arg(long, default_value_t = 4)]
        encoder_epochs: usize,
        /// Also write the dev split (JSONL) here, e.g. for `medic eval classifier --data` (the transformer
        /// was selected and calibrated on it, so its scores there are optimistic).
        #[arg(long)]
        dev_out: Option<PathBuf>,
    },
    /// Train a remediation policy on the digital twin (PPO, distributed double DQN), or calibrate the
    /// threshold rules; writes model.safetensors, spec.json and card.json.
    Policy(crate::policy_cmd::TrainArgs),
}

#[derive(Debug, Subcommand)]
enum EvalTarget {
    /// Run a policy on the digital twin and print JSON: sla_violation_minutes, mttr_s,
    /// mean_cpu_utilisation, replica_minutes, actions, escalations (means over seeds, with 95 % intervals).
    Policy {
        /// `hpa`, `manual`, `rules`, `ppo`, `dqn` (the committed models/policy-*) or a policy directory.
        #[arg(long)]
        policy: String,
        #[command(flatten)]
        twin: crate::policy_cmd::TwinArgs,
    },
    /// Per-class precision/recall/F1, macro-F1 and accuracy of the fine-tuned transformer and of the
    /// baselines (keyword rules, TF-IDF + logistic regression, frozen embeddings + logistic regression).
    Classifier {
        /// Labelled evaluation JSONL.
        #[arg(long)]
        data: PathBuf,
        /// Classifier directory (default: `models/classifier`).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Where the baselines are trained (the same training split as the transformer's); repeatable.
        #[arg(long, default_value = "../shared/data/classify")]
        train_data: Vec<PathBuf>,
        /// Directory of the pretrained base encoder (default: resolved, see README).
        #[arg(long, env = "MEDIC_BASE_MODEL")]
        base_model: Option<PathBuf>,
        /// Seed of the train/dev split (as in training).
        #[arg(long, default_value_t = 17)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum BenchTarget {
    /// Digital-twin speed: simulated minutes per second (3 deployments), without and with log events.
    Twin,
    /// Classifier inference speed: uncached samples/s at batch 1/16/64 against the plain pretrained
    /// encoder in the same run, and cached lines/s (build with --release).
    Classify {
        /// Classifier directory (default: `models/classifier`).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Directory of the pretrained base encoder (default: resolved, see README).
        #[arg(long, env = "MEDIC_BASE_MODEL")]
        base_model: Option<PathBuf>,
        /// JSONL samples whose distinct lines are classified.
        #[arg(long, default_value = "../shared/data/classify/k8s_train.jsonl")]
        data: PathBuf,
        /// Distinct lines used at most.
        #[arg(long, default_value_t = 512)]
        max_lines: usize,
    },
    /// Template-mining accuracy (GA, FGA, PA) and speed on Loghub-2k, per system.
    Parse {
        /// Directory with `loghub_formats.tsv`, `loghub/<S>/<S>_2k.log` and
        /// `loghub2_2k_corrected/<S>/<S>_2k.log_structured_corrected.csv`.
        #[arg(long, default_value = "../shared/data")]
        loghub: PathBuf,
        /// Also score another parser's `<System>.csv` predictions in this directory (written by
        /// `scripts/compare-drain3.py`), side by side.
        #[arg(long)]
        compare: Option<PathBuf>,
    },
    /// Ingest throughput per format (records/s, MB/s) against a same-run baseline.
    Ingest {
        /// Corpus size multiplier (1 ≈ 3–10 MB per format).
        #[arg(long, default_value_t = 1)]
        scale: usize,
        /// Timed rounds per corpus (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Disable redaction (to see its cost).
        #[arg(long)]
        no_redaction: bool,
    },
    /// The whole pipeline through a Kafka-protocol broker (embedded by default), each stage its own
    /// `medic run --stage` process: lines/s, latency from a log line to the command it caused, peak RSS
    /// per stage (JSON; see src/bench_e2e.rs for the definitions).
    E2e(crate::bench_e2e::E2eArgs),
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

/// Cancels `token` on SIGINT or SIGTERM.
fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(error = %error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
            () = terminate => tracing::info!("SIGTERM: shutting down"),
        }
        token.cancel();
    });
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn report(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Parses the command line and runs it; returns the process exit code (0 ok, 1 failure, 2 invalid
/// configuration).
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Demo { .. } | Command::Replay(_) => "warn",
        _ => "info,rdkafka=warn",
    };
    init_logging(cli.log_style, default_level);
    let result = match cli.command {
        Command::Demo { timeout_secs } => demo(timeout_secs),
        Command::Run { pipeline, stages } => run(pipeline, stages),
        Command::Validate { pipeline } => validate(&pipeline),
        Command::Schemas { out } => schemas(out),
        Command::Act { verb } => crate::act_cmd::run(verb),
        Command::Replay(args) => crate::replay_cmd::run(&args),
        Command::Explain {
            command_id,
            pipeline,
            json,
            timeout_secs,
        } => explain(&command_id, pipeline.as_deref(), json, timeout_secs),
        Command::Decode { format, input } => decode(format, input.as_deref()),
        Command::Bench {
            target:
                BenchTarget::Ingest {
                    scale,
                    rounds,
                    no_redaction,
                },
        } => bench_ingest(scale, rounds, !no_redaction),
        Command::Bench {
            target:
                BenchTarget::Classify {
                    model,
                    base_model,
                    data,
                    max_lines,
                },
        } => diagnose::speed::bench_classify(
            &model.unwrap_or_else(crate::classify_cmd::default_model_dir),
            base_model.as_deref(),
            &data,
            max_lines,
        )
        .map_err(|e| anyhow::anyhow!(e))
        .and_then(|report| {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }),
        Command::Bench {
            target: BenchTarget::Parse { loghub, compare },
        } => bench_parse(&loghub, compare.as_deref()),
        Command::Bench {
            target: BenchTarget::Twin,
        } => print_json(&decide::speed::bench_twin()),
        Command::Bench {
            target: BenchTarget::E2e(args),
        } => crate::bench_e2e::run(&args).and_then(|r| print_json(&r)),
        Command::Train {
            target: TrainTarget::Policy(args),
        } => crate::policy_cmd::train(&args).map(|_| {
            eprintln!("policy written to {}", args.out.display());
            ExitCode::SUCCESS
        }),
        Command::Eval {
            target: EvalTarget::Policy { policy, twin },
        } => crate::policy_cmd::eval(&policy, &twin).and_then(|r| print_json(&r)),
        Command::Simulate { policy, out, twin } => {
            crate::policy_cmd::simulate(&policy, &twin, &out).and_then(|r| {
                eprintln!(
                    "logs, decisions.jsonl and report.json written under {}",
                    out.display()
                );
                print_json(&r)
            })
        }
        Command::Train {
            target:
                TrainTarget::Classifier {
                    data,
                    out,
                    base_model,
                    seed,
                    upper_layers,
                    epochs,
                    encoder_epochs,
                    dev_out,
                },
        } => {
            let options = diagnose::transformer::TrainOptions {
                seed,
                upper_layers,
                epochs,
                encoder_epochs,
                ..Default::default()
            };
            crate::classify_cmd::train_classifier(
                &data,
                &out,
                base_model.as_deref(),
                &options,
                dev_out.as_deref(),
            )
            .map(|()| ExitCode::SUCCESS)
        }
        Command::Eval {
            target:
                EvalTarget::Classifier {
                    data,
                    model,
                    train_data,
                    base_model,
                    seed,
                },
        } => crate::classify_cmd::eval_classifier(
            &data,
            &model.unwrap_or_else(crate::classify_cmd::default_model_dir),
            &train_data,
            base_model.as_deref(),
            seed,
        )
        .and_then(|report| {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }),
        Command::Classify {
            model,
            base_model,
            input,
            output,
        } => crate::classify_cmd::classify(
            &model.unwrap_or_else(crate::classify_cmd::default_model_dir),
            base_model.as_deref(),
            &input,
            &output,
        )
        .map(|n| {
            eprintln!("classified {n} samples into {}", output.display());
            ExitCode::SUCCESS
        }),
        Command::Parse {
            log_format,
            input,
            output,
        } => crate::parse_cmd::parse_file(&log_format, &input, &output).map(|lines| {
            eprintln!("parsed {lines} lines into {}", output.display());
            ExitCode::SUCCESS
        }),
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

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

fn explain(
    command_id: &str,
    pipeline: Option<&std::path::Path>,
    json: bool,
    timeout_secs: u64,
) -> anyhow::Result<ExitCode> {
    let config = load_pipeline(pipeline, std::env::vars())?.config;
    let found = crate::explain::explain(&config, command_id, Duration::from_secs(timeout_secs))?;
    if json {
        return print_json(&found);
    }
    print!("{}", crate::explain::render(&found));
    Ok(ExitCode::SUCCESS)
}

fn demo(timeout_secs: u64) -> anyhow::Result<ExitCode> {
    let options = DemoOptions {
        timeout: Duration::from_secs(timeout_secs),
    };
    let mut stdout = std::io::stdout();
    runtime()?.block_on(run_demo(&options, &mut stdout))?;
    Ok(ExitCode::SUCCESS)
}

fn run(pipeline: Option<PathBuf>, stages: Vec<StageName>) -> anyhow::Result<ExitCode> {
    let loaded = load_pipeline(pipeline.as_deref(), std::env::vars())?;
    let config = loaded.config;
    let stages = if stages.is_empty() {
        StageName::ALL.to_vec()
    } else {
        stages
    };
    tracing::info!(pipeline = %loaded.origin, stages = ?stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "starting");
    runtime()?.block_on(async move {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let metrics = Metrics::new();
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let admin_shutdown = CancellationToken::new();
        let admin = if config.admin.enabled {
            let addr = config.admin.listen.parse()?;
            let (bound, task) = crate::admin::serve(
                addr,
                metrics.clone(),
                Arc::clone(&health),
                admin_shutdown.clone(),
            )
            .await?;
            tracing::info!(listen = %bound, "admin server: /metrics /healthz /readyz");
            Some(task)
        } else {
            None
        };
        let result = run_stages(&config, &stages, &metrics, &health, shutdown).await;
        admin_shutdown.cancel();
        if let Some(task) = admin {
            let _ = task.await;
        }
        result?;
        tracing::info!("all stages drained and committed; exiting");
        Ok(ExitCode::SUCCESS)
    })
}

fn validate(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let loaded = load_pipeline(Some(path), std::env::vars())?;
    let config = loaded.config;
    println!(
        "{}: ok ({} source topic(s), {} internal topics, actuator mode {})",
        path.display(),
        config.ingest.sources.len(),
        config.topics.named().len(),
        config.act.mode.as_str()
    );
    Ok(ExitCode::SUCCESS)
}

fn schemas(out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    for kind in schemas::RecordKind::ALL {
        let text = serde_json::to_string_pretty(&kind.json_schema())? + "\n";
        match &out {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                std::fs::write(dir.join(format!("{}.schema.json", kind.as_str())), text)?;
            }
            None => print!("{text}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decode(format: ingest::Format, input: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let (origin, data) = match input {
        None => ("stdin".to_owned(), read_stdin()),
        Some(path) if path.as_os_str() == "-" => ("stdin".to_owned(), read_stdin()),
        Some(path) => (path.display().to_string(), std::fs::read(path)),
    };
    let data = match data {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: cannot read {origin}: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary =
        crate::decode_cmd::decode_inputs(format, &origin, &data, &mut out, &mut std::io::stderr())?;
    std::io::Write::flush(&mut out)?;
    eprintln!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
    Ok(data)
}

fn bench_ingest(scale: usize, rounds: usize, redaction: bool) -> anyhow::Result<ExitCode> {
    let results = crate::bench::bench_ingest(scale, rounds, redaction);
    eprintln!(
        "{:<30} {:>9} {:>12} {:>10} {:>10} {:>8}",
        "corpus", "records", "records/s", "in MB/s", "raw MB/s", "x base"
    );
    for r in &results {
        eprintln!(
            "{:<30} {:>9} {:>12.0} {:>10.1} {:>10.1} {:>8.1}",
            r.name,
            r.records,
            r.records_per_sec,
            r.input_mb_per_sec,
            r.decoded_mb_per_sec,
            r.ratio_to_baseline
        );
    }
    let report = serde_json::json!({
        "bench": "ingest",
        "scale": scale,
        "rounds": rounds,
        "redaction": redaction,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "corpora": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn bench_parse(
    loghub: &std::path::Path,
    compare: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let results = crate::parse_cmd::bench_parse(loghub, compare)?;
    anyhow::ensure!(
        !results.is_empty(),
        "no Loghub system found under {}",
        loghub.display()
    );
    eprintln!(
        "{:<12} {:>6} {:>6} {:>6} {:>10} {:>12}",
        "system", "GA", "FGA", "PA", "templates", "lines/s"
    );
    for r in &results {
        eprint!(
            "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>10} {:>12.0}",
            r.system, r.ga, r.fga, r.pa, r.templates, r.lines_per_sec
        );
        if let Some(c) = &r.compared {
            eprint!(
                "   compared: GA {:.3} FGA {:.3} PA {:.3}, medic x{:.1} faster",
                c.ga,
                c.fga,
                c.pa,
                c.speed_ratio.unwrap_or(f64::NAN)
            );
        }
        eprintln!();
    }
    #[allow(clippy::cast_precision_loss, reason = "a handful of systems")]
    let n = results.len() as f64;
    let mean =
        |f: fn(&crate::parse_cmd::SystemResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    let (ga, fga, pa) = (mean(|r| r.ga), mean(|r| r.fga), mean(|r| r.pa));
    eprintln!("{:<12} {:>6.3} {:>6.3} {:>6.3}", "average", ga, fga, pa);
    let compared: Vec<_> = results.iter().filter_map(|r| r.compared.as_ref()).collect();
    #[allow(clippy::cast_precision_loss, reason = "a handful of systems")]
    let compared_average = (!compared.is_empty()).then(|| {
        let n = compared.len() as f64;
        let ratios: Vec<f64> = compared.iter().filter_map(|c| c.speed_ratio).collect();
        serde_json::json!({
            "ga": compared.iter().map(|c| c.ga).sum::<f64>() / n,
            "fga": compared.iter().map(|c| c.fga).sum::<f64>() / n,
            "pa": compared.iter().map(|c| c.pa).sum::<f64>() / n,
            "speed_ratio_geomean": (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp(),
        })
    });
    if let Some(avg) = &compared_average {
        eprintln!("{:<12} compared average: {avg}", "");
    }
    let report = serde_json::json!({
        "bench": "parse",
        "dataset": "loghub-2k (loghub2_2k_corrected ground truth)",
        "average": {"ga": ga, "fga": fga, "pa": pa},
        "compared_average": compared_average,
        "systems": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
