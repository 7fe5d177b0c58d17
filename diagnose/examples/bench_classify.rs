//! Prints the classifier's inference speed as JSON, like `medic bench classify`, without building the rest
//! of medic: `cargo run --release -p medic-diagnose --features lab --example bench_classify [DATA.jsonl] [MAX_LINES]`.

use medic_diagnose::default_classifier_dir;
use medic_diagnose::lab::speed::bench_classify;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let data = args.next().map_or_else(
        || PathBuf::from("../shared/data/classify/k8s_train.jsonl"),
        PathBuf::from,
    );
    let max_lines = args.next().map_or(Ok(512), |n| n.parse())?;
    let report = bench_classify(&default_classifier_dir(), None, &data, max_lines)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
