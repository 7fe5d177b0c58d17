//! `medic bench …`: throughput and accuracy measurements, each printed as JSON with a baseline measured
//! in the same run where one exists.
//!
//! | target | module |
//! |---|---|
//! | `ingest` | [`ingest`]: decoders per format against a same-run baseline |
//! | `parse` | [`parse`]: template mining on Loghub-2k (GA, FGA, PA, lines/s) |
//! | `classify` | `diagnose::lab::speed`: classifier samples/s against the plain encoder |
//! | `twin` | `decide::lab::speed`: simulated minutes per second |
//! | `e2e` | [`e2e`]: the whole pipeline, one process per stage, through a broker |
//! | `line-path` | [`line_path`]: ingest and enrich in this process, CPU per line against a baseline |

pub mod e2e;
pub mod ingest;
pub mod line_path;
pub mod parse;

use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `medic bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
enum Target {
    /// Digital-twin speed: simulated minutes per second (3 deployments), without and with log events.
    Twin,
    /// Classifier inference speed: uncached samples/s at batch 1/16/64 against the plain pretrained
    /// encoder in the same run, and cached lines/s (build with --release).
    Classify {
        /// Classifier directory (default: `models/classifier`).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Where the pretrained base encoder comes from.
        #[command(flatten)]
        base: super::classify::BaseModelArgs,
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
        /// Leave-one-system-out instead: each system scored with the miner configuration the other
        /// systems chose (see src/cmd/bench/parse/loso.rs).
        #[arg(long, conflicts_with = "compare")]
        loso: bool,
        /// With `--loso`: run Drain3 (`scripts/compare-drain3.py`, needs `pip install drain3`) on the
        /// same systems and show it beside each.
        #[arg(long, requires = "loso")]
        drain3: bool,
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
    /// per stage (JSON; see src/cmd/bench/e2e/ for the definitions).
    E2e(e2e::E2eArgs),
    /// Ingest and enrich in this process, without a broker, on e2e's load: µs per line each, the
    /// median of `--rounds`, against decoding and encoding each record once (see
    /// src/cmd/bench/line_path.rs).
    LinePath {
        /// Lines fed.
        #[arg(long, default_value_t = 200_000)]
        lines: u64,
        /// Partitions the lines and records are spread over (e2e's default).
        #[arg(long, default_value_t = 8)]
        partitions: i32,
        /// Timed rounds (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Pipeline file, layered over the embedded default.
        #[arg(long, short)]
        pipeline: Option<PathBuf>,
    },
}

/// Runs the benchmark.
///
/// # Errors
/// As the benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.target {
        Target::Twin => super::print_json(&decide::lab::speed::bench_twin()),
        Target::Classify {
            model,
            base,
            data,
            max_lines,
        } => {
            let model = model.unwrap_or_else(diagnose::default_classifier_dir);
            let report = diagnose::lab::speed::bench_classify(
                &model,
                base.dir()?.as_deref(),
                &data,
                max_lines,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            super::print_json(&report)
        }
        Target::Parse {
            loghub,
            loso: true,
            drain3,
            ..
        } => parse::loso::run(&loghub, drain3),
        Target::Parse {
            loghub, compare, ..
        } => parse::run(&loghub, compare.as_deref()),
        Target::Ingest {
            scale,
            rounds,
            no_redaction,
        } => ingest::run(scale, rounds, !no_redaction),
        Target::E2e(args) => super::print_json(&e2e::run(&args)?),
        Target::LinePath {
            lines,
            partitions,
            rounds,
            pipeline,
        } => {
            let config = crate::config::load_pipeline(pipeline.as_deref(), std::env::vars())?
                .warned()
                .config;
            super::print_json(&line_path::run(&config, lines, partitions, rounds)?)
        }
    }
}
