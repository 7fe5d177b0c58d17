//! The policy experiments behind `models/policy-*` and the figures in decide/EVAL.md, runnable in release
//! without building the rest of medic (the same library calls as `medic train policy` / `medic eval
//! policy`):
//!
//! ```text
//! cargo run --release -p medic-decide --features lab --example policy_lab -- train ppo|dqn|rules OUT [BUDGET] [SEED] [REPLICA_MINUTE_COST] [learned|table|table_fixes] [base|wide|without-FAMILY]
//! cargo run --release -p medic-decide --features lab --example policy_lab -- compare [SEEDS] [HOURS] [POLICIES] [nasa|alibaba|functions]
//! cargo run --release -p medic-decide --features lab --example policy_lab -- bench
//! ```
//!
//! Training traces: NASA-HTTP July 1995 (requests/minute) and Alibaba 2018 (cluster CPU, 30 s).
//! Held-out evaluation traces: Azure VM v2 (CPU, 300 s) and Azure Functions 2019 (invocations/minute),
//! with the held-out scenarios `mixed.toml` and `holdout.toml` and seeds 101…

use medic_decide::features::Remedies;
use medic_decide::lab::arbitration::SafetyConfig;
use medic_decide::lab::evaluate::{EvalSetup, evaluate, load_controller};
use medic_decide::lab::training::{Learner, TrainJob, train_policy};
use medic_decide::lab::twin::{ClusterSpec, Scenario, Trace, TwinOptions};
use std::path::Path;

const DATA: &str = "../shared/data/workload";
const PEAK_RPS: f64 = 1_000.0;

fn trace(file: &str, column: &str) -> Trace {
    Trace::load(&Path::new(DATA).join(file), column)
        .unwrap_or_else(|e| panic!("{e}"))
        .scaled_to_peak(PEAK_RPS)
}

fn nasa_trace() -> Trace {
    trace(
        "web-service-datasets/nasa/requests_per_minute_july.csv",
        "requests",
    )
}

fn alibaba_trace() -> Trace {
    trace(
        "datacenter_traces_cc-by/alibaba2018/machine_usage_days_1_to_6_grouped_30_seconds.csv",
        "cpu_util_percent",
    )
}

fn training_traces() -> Vec<Trace> {
    vec![nasa_trace(), alibaba_trace()]
}

/// The Azure Functions rows of ../shared that are not held out (the held-out functions are 10/row3 and
/// 5/row1, which is also 10/row5): rows 1, 2, 4, 6–10 of file 10 and `rows_of_5` of file 5.
fn functions_traces(rows_of_5: &[usize]) -> Vec<(String, Trace)> {
    let mut traces = functions_rows("5", rows_of_5);
    traces.extend(functions_rows("10", &[1, 2, 4, 6, 7, 8, 9, 10]));
    traces
}

/// Rows `rows` of Azure Functions file `file`, by name.
fn functions_rows(file: &str, rows: &[usize]) -> Vec<(String, Trace)> {
    let path = format!("azure_functions_2019_invitro_sample/{file}/invocations.csv");
    rows.iter()
        .map(|row| {
            let name = format!("azure_functions_{file}_row{row}");
            (name, trace(&path, &format!("row:{row}")))
        })
        .collect()
}

/// The training traces and 12 Azure Functions rows that are not held out: an experiment in wider training
/// data. The two original traces are repeated so that each family is drawn half the time.
fn wide_training_traces() -> Vec<Trace> {
    let mut traces: Vec<Trace> = (0..6).flat_map(|_| training_traces()).collect();
    traces.extend(functions_traces(&[2, 3, 4, 5]).into_iter().map(|(_, t)| t));
    traces
}

/// The trace families of a leave-one-family-out cross-validation.
const FAMILIES: [&str; 3] = ["nasa", "alibaba", "functions"];

/// The traces of `family` a fold trains on, by name.
fn family_traces(family: &str) -> Vec<(String, Trace)> {
    match family {
        "nasa" => vec![("nasa".into(), nasa_trace())],
        "alibaba" => vec![("alibaba".into(), alibaba_trace())],
        "functions" => functions_traces(&[2, 3, 5]),
        other => panic!("family {other:?}: expected one of {FAMILIES:?}"),
    }
}

/// The traces of `family` a fold is validated on: for the Azure Functions, every row that is not held
/// out ([`functions_traces`], with 5/row4 too), less those that, scaled to the peak, are the same series
/// as a held-out row or as a row already kept (eight rows are constant load at the peak, one of them the
/// held-out 10/row3: validating on them would be validating on the test, and they would outweigh the
/// rest).
fn validation_traces(family: &str) -> Vec<(String, Trace)> {
    if family != "functions" {
        return family_traces(family);
    }
    let rows = functions_traces(&[2, 3, 4, 5]);
    let mut seen: Vec<Trace> = heldout_traces().into_iter().map(|(_, t)| t).collect();
    let mut kept = Vec::new();
    for (name, trace) in rows {
        if seen.iter().all(|other| !same_series(&trace, other)) {
            seen.push(trace.clone());
            kept.push((name, trace));
        }
    }
    kept
}

/// Whether two traces of the same sampling step, scaled to the same peak, differ by less than 1 % of it
/// on average.
fn same_series(a: &Trace, b: &Trace) -> bool {
    let n = a.rps.len().min(b.rps.len());
    if a.step_secs != b.step_secs {
        return false;
    }
    let difference: f64 = a.rps[..n]
        .iter()
        .zip(&b.rps[..n])
        .map(|(x, y)| (x - y).abs())
        .sum();
    n > 0 && difference / (n as f64) < 0.01 * PEAK_RPS
}

/// A cross-validation fold's training traces: every family but `left_out`, each repeated so that every
/// family is drawn equally often.
fn fold_training_traces(left_out: &str) -> Vec<Trace> {
    assert!(
        FAMILIES.contains(&left_out),
        "family {left_out:?}: expected one of {FAMILIES:?}"
    );
    let families: Vec<Vec<Trace>> = FAMILIES
        .into_iter()
        .filter(|f| *f != left_out)
        .map(|f| family_traces(f).into_iter().map(|(_, t)| t).collect())
        .collect();
    let longest = families.iter().map(Vec::len).max().unwrap_or(1);
    families
        .into_iter()
        .flat_map(|traces| {
            let times = longest / traces.len();
            (0..times).flat_map(move |_| traces.clone())
        })
        .collect()
}

fn heldout_traces() -> Vec<(String, Trace)> {
    vec![
        (
            "azure_vm_cpu".into(),
            trace(
                "datacenter_traces_cc-by/azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv",
                "cpu_usage",
            ),
        ),
        (
            "azure_functions_10_row3".into(),
            trace(
                "azure_functions_2019_invitro_sample/10/invocations.csv",
                "row:3",
            ),
        ),
        (
            "azure_functions_5_row1".into(),
            trace(
                "azure_functions_2019_invitro_sample/5/invocations.csv",
                "row:1",
            ),
        ),
    ]
}

fn scenario(name: &str, cluster: &ClusterSpec) -> (String, Scenario) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    (
        format!("decide/scenarios/{name}"),
        Scenario::load(&path, cluster).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cluster = ClusterSpec::default();
    match args.first().map(String::as_str) {
        Some("train") => {
            let algo = args.get(1).map_or("ppo", String::as_str);
            let out = args.get(2).map_or("models/policy-ppo", String::as_str);
            let budget: usize = args.get(3).and_then(|b| b.parse().ok()).unwrap_or(0);
            let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(7);
            let replica_minute_cost: f64 = args
                .get(5)
                .and_then(|s| s.parse().ok())
                .unwrap_or(medic_decide::lab::objective::REPLICA_MINUTE_COST);
            let learner = Learner::named(algo, budget, 2).unwrap_or_else(|e| panic!("{e}"));
            let job = TrainJob {
                learner,
                cluster: cluster.clone(),
                traces: match args.get(7).map(String::as_str) {
                    None | Some("base") => training_traces(),
                    Some("wide") => wide_training_traces(),
                    Some(fold) if fold.starts_with("without-") => {
                        fold_training_traces(&fold["without-".len()..])
                    }
                    Some(other) => {
                        panic!("traces {other:?}: expected base, wide or without-FAMILY")
                    }
                },
                scenario: scenario("train.toml", &cluster),
                episode_hours: 12.0,
                safety: SafetyConfig::default(),
                options: TwinOptions::default(),
                seed,
                replica_minute_cost,
                remedies: match args.get(6).map(String::as_str) {
                    None | Some("learned") => Remedies::Learned,
                    Some("table") => Remedies::Table,
                    Some("table_fixes") => Remedies::TableFixes,
                    Some(other) => {
                        panic!("remedies {other:?}: expected learned, table or table_fixes")
                    }
                },
            };
            let card = train_policy(&job, Path::new(out), &mut |p| {
                eprintln!(
                    "{algo} {}/{} reward/step {:+.4} loss {:.4} value {:.3} entropy/eps {:.3} episodes {}",
                    p.iteration, p.iterations, p.mean_reward, p.loss, p.value_loss, p.entropy, p.episodes
                );
            })
            .unwrap_or_else(|e| panic!("{e}"));
            println!(
                "{}",
                serde_json::to_string_pretty(&card["seconds"]).unwrap_or_default()
            );
        }
        Some("compare") => {
            let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
            let hours: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(24.0);
            let policies: Vec<String> = args.get(3).map_or_else(
                || {
                    ["hpa", "manual", "rules", "ppo", "dqn"]
                        .map(String::from)
                        .to_vec()
                },
                |p| p.split(',').map(String::from).collect(),
            );
            // A family's traces with the training scenario (a fold's validation), or the held-out ones.
            let (traces, scenarios) = match args.get(4) {
                Some(family) => (validation_traces(family), ["none", "train.toml"].as_slice()),
                None => (
                    heldout_traces(),
                    ["none", "mixed.toml", "holdout.toml"].as_slice(),
                ),
            };
            let models = Path::new("models");
            // Every policy loads, or nothing is evaluated (a comparison without one is not the one asked for).
            for policy in &policies {
                if let Err(e) = load_controller(policy, models) {
                    panic!("{policy}: {e}");
                }
            }
            let mut rows = Vec::new();
            for (name, trace) in traces {
                for &scen in scenarios {
                    let setup = EvalSetup {
                        cluster: cluster.clone(),
                        trace: trace.clone(),
                        scenario: (scen != "none").then(|| scenario(scen, &cluster)),
                        horizon_secs: hours * 3_600.0,
                        seeds: (101..101 + seeds).collect(),
                        options: TwinOptions::default(),
                        safety: SafetyConfig::default(),
                    };
                    for policy in &policies {
                        let result = evaluate(&|| load_controller(policy, models), &setup)
                            .unwrap_or_else(|e| panic!("{policy}: {e}"));
                        let ci = |k: &str| result.ci95.get(k).map_or(0.0, |e| e.ci95);
                        eprintln!(
                            "{name:<24} {scen:<13} {policy:<7} sla {:>7.1}±{:<5.1} (dep {:>5.1}) mttr {:>7.0}±{:<5.0} cpu {:.3} replica-min {:>8.0} actions {:>5.0} esc {:>4.1} unrec {:.1} cost {:.0}",
                            result.sla_violation_minutes,
                            ci("sla_violation_minutes"),
                            result.sla_minutes_in_dependency_outages,
                            result.mttr_s,
                            ci("mttr_s"),
                            result.mean_cpu_utilisation,
                            result.replica_minutes,
                            result.actions,
                            result.escalations,
                            result.unrecovered,
                            result.objective
                        );
                        let kinds: Vec<String> = result
                            .mttr_s_by_kind
                            .iter()
                            .map(|(k, v)| format!("{k}={v:.0}"))
                            .collect();
                        if !kinds.is_empty() {
                            eprintln!("    mttr by kind: {}", kinds.join(" "));
                        }
                        let mut row = serde_json::json!({"trace": name, "scenario": scen, "policy": policy, "result": {
                            "sla_violation_minutes": result.ci95.get("sla_violation_minutes"),
                            "sla_minutes_in_dependency_outages": result.ci95.get("sla_minutes_in_dependency_outages"),
                            "mttr_s": result.ci95.get("mttr_s"),
                            "mean_cpu_utilisation": result.ci95.get("mean_cpu_utilisation"),
                            "replica_minutes": result.ci95.get("replica_minutes"),
                            "objective": result.ci95.get("objective"), "actions": result.actions, "escalations": result.escalations, "unrecovered": result.unrecovered,
                            "policy_id": result.policy, "seeds": result.seeds, "mttr_s_by_kind": result.mttr_s_by_kind,
                            "mttr_fixable_s": result.ci95.get("mttr_fixable_s"),
                            "sla_minutes_beyond_ceiling": result.ci95.get("sla_minutes_beyond_ceiling"),
                            "fixable_sla_minutes": result.ci95.get("fixable_sla_minutes"),
                            "spikes_beyond_ceiling": result.spikes_beyond_ceiling,
                        }});
                        // A fold's rows name the family its policies were trained without.
                        if let Some(family) = args.get(4) {
                            row["fold"] = family.as_str().into();
                        }
                        rows.push(row);
                    }
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        Some("bench") => println!(
            "{}",
            serde_json::to_string_pretty(&medic_decide::lab::speed::bench_twin())
                .unwrap_or_default()
        ),
        _ => eprintln!(
            "usage: policy_lab train ppo|dqn|rules OUT [BUDGET] [SEED] [REPLICA_MINUTE_COST] [learned|table|table_fixes] [base|wide|without-FAMILY] | compare [SEEDS] [HOURS] [POLICIES] [FAMILY]"
        ),
    }
}
