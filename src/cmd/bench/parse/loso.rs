//! `medic bench parse --loso`: leave-one-system-out. Every miner default is a choice among
//! [`candidates`]; each Loghub system is scored with the candidate the *other* systems chose (best mean
//! GA, ties to mean PA), so the report says how the choosing generalises to a system nobody tuned on —
//! the question hidden systems ask — and not how well the choice fits the systems it was made on.

use super::{Compared, LoghubSystem, compared, load_systems, timings};
use enrich::accuracy::Accuracy;
use enrich::drain::{DrainConfig, WordGuard};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One miner configuration the protocol may choose.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its settings, as `sim=0.6 depth=4 runs=on words=off`.
    pub label: String,
    /// The configuration.
    pub config: DrainConfig,
}

fn label(config: &DrainConfig) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    format!(
        "sim={} depth={} runs={} words={:?}",
        config.similarity_threshold,
        config.depth,
        on(config.merge_variable_runs),
        config.distinct_words
    )
}

/// Every configuration the defaults are chosen from: similarity threshold × tree depth × the merge of
/// variable runs × the distinct-words guard.
#[must_use]
pub fn candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for similarity_threshold in [0.4, 0.5, 0.6, 0.7, 0.8] {
        for depth in [3, 4, 5] {
            for merge_variable_runs in [false, true] {
                for distinct_words in [WordGuard::Off, WordGuard::Capitalised, WordGuard::All] {
                    let config = DrainConfig {
                        similarity_threshold,
                        depth,
                        merge_variable_runs,
                        distinct_words,
                        ..DrainConfig::default()
                    };
                    out.push(Candidate {
                        label: label(&config),
                        config,
                    });
                }
            }
        }
    }
    out
}

/// The candidate (row of `scores`, one column per system) with the best mean GA over every system
/// but `held_out`; ties go to the better mean PA, then to the earlier candidate.
///
/// # Panics
/// When `scores` is empty.
#[must_use]
pub fn choose(scores: &[Vec<Accuracy>], held_out: Option<usize>) -> usize {
    let keys: Vec<(f64, f64)> = scores
        .iter()
        .map(|row| {
            let kept = row
                .iter()
                .enumerate()
                .filter(|(s, _)| Some(*s) != held_out)
                .map(|(_, a)| *a);
            Accuracy::mean(kept).map_or((0.0, 0.0), |m| (m.ga, m.pa))
        })
        .collect();
    let mut best = 0;
    for (i, key) in keys.iter().enumerate().skip(1) {
        if *key > keys[best] {
            best = i;
        }
    }
    best
}

/// One held-out system.
#[derive(Debug, Serialize)]
pub struct HeldOut {
    /// System name.
    pub system: String,
    /// The candidate the other systems chose.
    pub chosen: String,
    /// GA, FGA, PA with it.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Drain3 (default configuration) on the same system, when its predictions were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain3: Option<Compared>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct LosoReport {
    /// Per held-out system.
    pub systems: Vec<HeldOut>,
    /// Mean GA, FGA, PA over held-out systems.
    pub average: Accuracy,
    /// Drain3's means over the same systems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain3_average: Option<Accuracy>,
    /// The candidate chosen on every system: what the defaults should be.
    pub choice_on_all: String,
    /// The miner's shipped default.
    pub shipped_default: String,
    /// Whether the two agree.
    pub default_is_the_choice: bool,
    /// Every candidate with its per-system GA and PA, in system order (to see how flat the choice is).
    pub candidates: Vec<CandidateScores>,
}

/// One candidate's scores on every system.
#[derive(Debug, Serialize)]
pub struct CandidateScores {
    /// The candidate.
    pub label: String,
    /// GA per system.
    pub ga: Vec<f64>,
    /// PA per system.
    pub pa: Vec<f64>,
}

/// Scores every candidate on every system, then holds each system out in turn.
#[must_use]
pub fn loso(
    systems: &[LoghubSystem],
    candidates: &[Candidate],
    drain3: Option<&Path>,
) -> LosoReport {
    let scores: Vec<Vec<Accuracy>> = candidates
        .iter()
        .map(|c| systems.iter().map(|s| s.mine(&c.config).accuracy).collect())
        .collect();
    let timings = drain3.map(timings).unwrap_or_default();
    let held_out: Vec<HeldOut> = systems
        .iter()
        .enumerate()
        .map(|(s, system)| {
            let chosen = choose(&scores, Some(s));
            HeldOut {
                system: system.name.clone(),
                chosen: candidates[chosen].label.clone(),
                accuracy: scores[chosen][s],
                drain3: drain3
                    .and_then(|dir| compared(dir, &timings, system, f64::NAN).ok().flatten()),
            }
        })
        .collect();
    let shipped_default = label(&DrainConfig::default());
    let choice_on_all = candidates[choose(&scores, None)].label.clone();
    LosoReport {
        average: Accuracy::mean(held_out.iter().map(|h| h.accuracy)).unwrap_or(Accuracy {
            ga: 0.0,
            fga: 0.0,
            pa: 0.0,
        }),
        drain3_average: Accuracy::mean(
            held_out
                .iter()
                .filter_map(|h| h.drain3.as_ref().map(|d| d.accuracy)),
        ),
        default_is_the_choice: choice_on_all == shipped_default,
        choice_on_all,
        shipped_default,
        candidates: candidates
            .iter()
            .zip(&scores)
            .map(|(c, row)| CandidateScores {
                label: c.label.clone(),
                ga: row.iter().map(|a| a.ga).collect(),
                pa: row.iter().map(|a| a.pa).collect(),
            })
            .collect(),
        systems: held_out,
    }
}

/// Runs `scripts/compare-drain3.py` (PyPI `drain3`; from the working directory, else from the source
/// tree the binary was built in) on `loghub` into a fresh temporary directory.
fn run_drain3(loghub: &Path) -> anyhow::Result<PathBuf> {
    let out = std::env::temp_dir().join(format!("medic-drain3-{}", std::process::id()));
    let relative = Path::new("scripts/compare-drain3.py");
    let script = if relative.exists() {
        relative.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    };
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(loghub)
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(
        status.success(),
        "{} failed ({status}); it needs `pip install drain3`",
        script.display()
    );
    Ok(out)
}

/// `medic bench parse --loso`: the table on stderr, the report as JSON on stdout. With `drain3`, runs
/// Drain3 on the same systems first and puts it beside each one.
///
/// # Errors
/// Unreadable inputs, no system found, or Drain3 failing when asked for.
pub fn run(loghub: &Path, drain3: bool) -> anyhow::Result<ExitCode> {
    let systems = load_systems(loghub)?;
    anyhow::ensure!(
        systems.len() >= 2,
        "leave-one-system-out needs two systems or more under {}",
        loghub.display()
    );
    let drain3_dir = drain3.then(|| run_drain3(loghub)).transpose()?;
    let report = loso(&systems, &candidates(), drain3_dir.as_deref());
    if let Some(dir) = &drain3_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    eprintln!(
        "{:<12} {:>6} {:>6} {:>6}   {:>9} {:>9}   chosen without it",
        "held out", "GA", "FGA", "PA", "Drain3 GA", "Drain3 PA"
    );
    for h in &report.systems {
        let (dga, dpa) = h
            .drain3
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |d| (d.accuracy.ga, d.accuracy.pa));
        eprintln!(
            "{:<12} {:>6.3} {:>6.3} {:>6.3}   {:>9.3} {:>9.3}   {}",
            h.system, h.accuracy.ga, h.accuracy.fga, h.accuracy.pa, dga, dpa, h.chosen
        );
    }
    let a = report.average;
    let d = report.drain3_average;
    eprintln!(
        "{:<12} {:>6.3} {:>6.3} {:>6.3}   {:>9.3} {:>9.3}",
        "average",
        a.ga,
        a.fga,
        a.pa,
        d.map_or(f64::NAN, |d| d.ga),
        d.map_or(f64::NAN, |d| d.pa)
    );
    eprintln!(
        "chosen on all {} systems: {}; shipped default: {}{}",
        report.systems.len(),
        report.choice_on_all,
        report.shipped_default,
        if report.default_is_the_choice {
            ""
        } else {
            "  (DIFFERENT: the default is not the protocol's choice)"
        }
    );
    crate::cmd::print_json(&report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(ga: f64, pa: f64) -> Accuracy {
        Accuracy { ga, fga: ga, pa }
    }

    #[test]
    fn the_held_out_system_does_not_vote() {
        // Candidate 0 is best on system 0 alone; candidate 1 is best on the other two.
        let scores = vec![
            vec![acc(1.0, 0.5), acc(0.5, 0.5), acc(0.5, 0.5)],
            vec![acc(0.2, 0.5), acc(0.7, 0.5), acc(0.7, 0.5)],
        ];
        assert_eq!(choose(&scores, Some(0)), 1);
        assert_eq!(choose(&scores, Some(1)), 0, "system 0's 1.0 decides");
        assert_eq!(choose(&scores, None), 0, "means 0.667 against 0.533");
    }

    #[test]
    fn ties_go_to_pa_then_to_the_earlier_candidate() {
        let scores = vec![
            vec![acc(0.5, 0.1)],
            vec![acc(0.5, 0.3)],
            vec![acc(0.5, 0.3)],
        ];
        assert_eq!(choose(&scores, None), 1);
    }

    #[test]
    fn the_shipped_default_is_a_candidate() {
        let default = label(&DrainConfig::default());
        assert!(candidates().iter().any(|c| c.label == default), "{default}");
    }
}
